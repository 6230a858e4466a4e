"""The dialing loop: DialerService, pacing rounds, callbacks, campaign states and leadership."""
