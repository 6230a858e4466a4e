"""Pacing: how many calls to place now, per dial mode (pure)."""
