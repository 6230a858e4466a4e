"""Blacklists: the internal list, packed national and campaign lists, their import, and the dial gate."""
