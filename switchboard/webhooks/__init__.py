"""CRM webhooks: call, disposition, Robinson and task events, signed, retried from a durable outbox.

See docs/webhooks.md. `config` (the settings section), `catalog` (event types and how a stream
record becomes an event, pure), `signing` (HMAC and backoff, pure), `outbox` (Redis), `sender`
(HTTP), `service` (the relay and the delivery loop).
"""
