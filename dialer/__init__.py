"""Outbound dialer, one folder per feature (see docs/architecture.md).

- lists/: the blacklist (internal and packed lists), the fast bulk normaliser, list import, the gate
- leads/: leads, their model and Lua scripts, CSV import, Robinson-list requests
- dispositions/: disposition rules (dispositions.yaml) and the service that applies them
- tasks/: follow-up task rules, deadlines, store, reads, notifications, the timer service
- campaigns/: campaign rules (campaigns.yaml)
- pacing/: the pure pacing decision (how many calls now)
- compliance/: calling hours and call caps (pure)
- calls/: placing a call (the one Originate path), attempts, the outbound lifecycle, settlement
- desk/: what the dialer asks of the agents' owner, and its two implementations
- loop/: the DialerService, pacing rounds, callbacks, campaign states and leadership
Shared by the folders: dialer_keys (every Redis key), audit (audit streams), stores (the bundle).
"""
