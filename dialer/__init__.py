"""Outbound dialer: campaigns, leads, pacing, blacklist gate, Robinson requests, tasks."""
