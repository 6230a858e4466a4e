"""Dispositions: the rules of config/dispositions.yaml and the service that applies them."""
