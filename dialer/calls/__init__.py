"""Calls: placing one (the only Originate to a customer), attempts, the lifecycle, settlement."""
