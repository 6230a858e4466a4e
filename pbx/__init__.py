"""The Asterisk boundary: AMI codec, client, call tracker and a simulated Asterisk."""
