"""Every Redis key of the webhook outbox (switchboard/webhooks/outbox.py): build them only here.

Keys (prefix `sb:webhooks:{outbox}:`: one hash tag, so on a Redis Cluster the outbox is one slot;
`<name>` is a webhook's name from the settings). The scripts get every key they can name through
KEYS; only the queueing script, whose events each name the webhooks they go to, builds those
webhooks' queue keys from the prefix, its last KEY (they share its tag, so they stay in its slot):
- `cursor`              HASH source -> the last stream entry relayed (acd, dispositions, ...)
- `case:<call id>`      STRING the case id of a call (2 days), so a disposition can name its case
- `<name>:due`          ZSET event id -> when to (re)try, ms; a claimed event is pushed a lease ahead
- `<name>:body`         HASH event id -> the exact JSON body (the same bytes on every try)
- `<name>:tries`, `<name>:queued`   HASH event id -> tries so far, and when it was queued (ms)
- `<name>:delivered`    ZSET event id -> when it was delivered (kept `DELIVERED_KEEP_MS`)
- `<name>:failed`       HASH event id -> {body, error, tries}: given up, for an operator to look at
"""

from __future__ import annotations

from dataclasses import dataclass

PREFIX = "sb:webhooks:{outbox}:"

# The parts of one webhook's queue, in the order the claim and settle scripts read them from KEYS.
QUEUE_PARTS = ("due", "body", "tries", "queued", "delivered", "failed")


@dataclass(frozen=True, slots=True)
class OutboxKeys:
    """Keys of the webhook outbox under one prefix (with its `{outbox}` hash tag)."""

    prefix: str = PREFIX

    @property
    def cursor(self) -> str:
        return f"{self.prefix}cursor"

    def case(self, call_id: str) -> str:
        return f"{self.prefix}case:{call_id}"

    def part(self, name: str, part: str) -> str:
        """One key of webhook `name`'s queue: ("crm", "due") -> `<prefix>crm:due`."""
        return f"{self.prefix}{name}:{part}"

    def queue(self, name: str) -> list[str]:
        """Every key of webhook `name`'s queue, in QUEUE_PARTS order (the claim and settle KEYS)."""
        return [self.part(name, part) for part in QUEUE_PARTS]
