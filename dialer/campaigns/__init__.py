"""Campaigns: the rules of config/campaigns.yaml."""
