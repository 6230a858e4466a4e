"""The composition root: settings, Redis, metrics, HTTP API, CLI, hot reload, the run loop."""

__version__ = "0.1.0"
