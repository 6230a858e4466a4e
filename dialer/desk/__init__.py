"""The agent desk: what the dialer asks of the agents' owner (the ACD, through AcdDesk)."""
