"""Compliance: calling hours in the callee's time and call caps per number and lead (pure)."""
