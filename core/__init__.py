"""What every layer shares: the error tree, phone-number normalisation, config loading, the clock.

Imports nothing from pbx, routing, dialer or switchboard (tests/unit/test_import_direction.py)."""
