"""The one prefix every dialer Redis key lives under (default `sb:dialer:`).

Its own module so the feature key modules (dialer/leads/lead_keys.py, dialer/tasks/task_keys.py,
dialer/consent/consent_keys.py) and dialer/dialer_keys.py, which re-exports them, share it without
importing each other.
"""

from __future__ import annotations

DEFAULT_PREFIX = "sb:dialer:"

GATE_TAG = "{gate}:"
"""Hash tag (after the prefix) of every key the dial gate touches in its one script: the blacklists,
their registry, meta, build and lock keys, the list and refusal audit streams, the consent register.
On a Redis Cluster they share one slot (docs/redis.md#redis-cluster)."""

DIAL_TAG = "{dial}:"
"""Hash tag (after the prefix) of the leads, dispositions, Robinson requests, tasks and the dialing
loop's keys (LeadKeys, TaskKeys, DialKeys): their scripts move a lead, its attempts, its number's
lock and its campaign's counters in one step, so on a Redis Cluster they share one slot."""
DIAL_PREFIX = DEFAULT_PREFIX + DIAL_TAG
