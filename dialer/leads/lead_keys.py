"""Leads, Robinson-list requests, dispositions (dialer/leads/store.py, dialer/leads/scripts.py,
dialer/leads/robinson.py, dialer/dispositions/service.py). Same prefix as DialerKeys plus the `{dial}`
hash tag (`sb:dialer:{dial}:lead:L1`, one slot on a Redis Cluster); build with `LeadKeys.of(dialer_keys)`.
Every lead script (and the Robinson and dial-intent scripts built on it) ends its KEYS with
`script_tail`: the fixed keys it touches, then `prefix`, from which it builds only per-lead keys (a
lead's hash, whether its id was popped or passed; the campaign queues and customer set a lead
names): they share the tag, so they stay in its slot (docs/redis.md#one-slot-per-script-the-hash-tags).
- `lead:{id}`                  HASH one lead (fields: dialer/leads/store.py `Lead`); its `dial_attempts`
                               (JSON attempt member -> epoch ms) holds the attempts its holder's dials
                               made, written with its status (transition_scripts), which drop entries
                               past the 31-day retention; the caps count only those within it (the
                               hash has no TTL: dialer.calls.attempts.within_retention); `dial_zset`
                               = 1: its `dial:lead` ZSET was written (the caps read it then)
- `leads:seq`                  STRING counter: insertion order of new leads ("age")
- `leads:customer-ids`         HASH ASCII-lowercased customer id -> the id as the CRM sent it
- `leads:customer:{cid}`       SET lead ids of one customer (Robinson approval finds phones here)
- `leads:ready:{campaign}`     ZSET lead id -> rank (priority, then age): claimable now
- `leads:retry:{campaign}`     ZSET lead id -> next attempt (epoch ms): queued, not yet due
- `leads:claimed`              ZSET lead id -> claim lease expiry (epoch ms)
- `leads:offers`               ZSET lead id -> preview offer expiry (epoch ms)
- `leads:offer:{advisor}`      STRING the lead offered to that advisor now (one at a time)
- `robinson:seq`               STRING counter of request ids (`rr-<n>`)
- `robinson:req:{id}`          HASH one Robinson-list request
- `robinson:status:{status}`   ZSET request id -> filed at (epoch ms), per pending/approved/rejected
- `robinson:by:{advisor}`      ZSET request id -> filed at (epoch ms), the advisor's own requests
- `robinson:pending:{cid}`     SET the customer's open (pending) request ids
- `robinson:excluded`          HASH customer id -> approved request id: out of lead distribution
- `disp:seq`                   STRING counter of disposition ids (`d-<n>`)
- `disp:rec:{id}`              HASH one disposition
- `disp:lead:{lead}`           ZSET disposition id -> set at (epoch ms), per lead
- `disp:call:{call}`           ZSET disposition id -> set at (epoch ms), per call (inbound: no lead)
- `disp:case:{case}`           ZSET disposition id -> set at (epoch ms), per ACD case
- `disp:index`                 ZSET disposition id -> set at (epoch ms), all (CRM `since` reads)
- `audit:robinson`             STREAM filed, approved, rejected, numbers-blacklisted (who, when, what)
- `audit:dispositions`         STREAM dispositions and each automation action they caused
- `audit:leads`                STREAM leads closed or finished (who, why, previous status)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from dialer.key_prefix import DIAL_PREFIX, DIAL_TAG

if TYPE_CHECKING:
    from dialer.dialer_keys import DialerKeys


@dataclass(frozen=True, slots=True)
class LeadKeys:
    """Keys of the lead store, Robinson requests and dispositions (under the DialerKeys prefix)."""

    prefix: str = DIAL_PREFIX

    @classmethod
    def of(cls, keys: DialerKeys | None) -> LeadKeys:
        return cls(keys.prefix + DIAL_TAG if keys is not None else DIAL_PREFIX)

    @property
    def script_tail(self) -> list[str]:
        """The last KEYS of every lead script, in the order dialer/leads/scripts.py LIB reads them."""
        fixed = [self.lead_seq, self.customer_ids, self.claimed, self.offers, self.robinson_excluded]
        return [*fixed, self.prefix]

    def lead(self, lead_id: str) -> str:
        return f"{self.prefix}lead:{lead_id}"

    @property
    def lead_seq(self) -> str:
        return f"{self.prefix}leads:seq"

    def customer_leads(self, customer_id: str) -> str:
        return f"{self.prefix}leads:customer:{customer_id}"

    @property
    def customer_ids(self) -> str:
        return f"{self.prefix}leads:customer-ids"

    def ready(self, campaign_id: str) -> str:
        return f"{self.prefix}leads:ready:{campaign_id}"

    def retry(self, campaign_id: str) -> str:
        return f"{self.prefix}leads:retry:{campaign_id}"

    @property
    def claimed(self) -> str:
        return f"{self.prefix}leads:claimed"

    @property
    def offers(self) -> str:
        return f"{self.prefix}leads:offers"

    def advisor_offer(self, advisor: str) -> str:
        return f"{self.prefix}leads:offer:{advisor}"

    @property
    def robinson_seq(self) -> str:
        return f"{self.prefix}robinson:seq"

    def robinson_request(self, request_id: str) -> str:
        return f"{self.prefix}robinson:req:{request_id}"

    def robinson_status(self, status: str) -> str:
        return f"{self.prefix}robinson:status:{status}"

    def robinson_by(self, advisor: str) -> str:
        return f"{self.prefix}robinson:by:{advisor}"

    def robinson_pending(self, customer_id: str) -> str:
        return f"{self.prefix}robinson:pending:{customer_id}"

    @property
    def robinson_excluded(self) -> str:
        return f"{self.prefix}robinson:excluded"

    @property
    def disposition_seq(self) -> str:
        return f"{self.prefix}disp:seq"

    def disposition(self, disposition_id: str) -> str:
        return f"{self.prefix}disp:rec:{disposition_id}"

    def lead_dispositions(self, lead_id: str) -> str:
        return f"{self.prefix}disp:lead:{lead_id}"

    def call_dispositions(self, call_id: str) -> str:
        return f"{self.prefix}disp:call:{call_id}"

    def case_dispositions(self, case_id: str) -> str:
        return f"{self.prefix}disp:case:{case_id}"

    @property
    def disposition_index(self) -> str:
        return f"{self.prefix}disp:index"

    @property
    def audit_robinson(self) -> str:
        return f"{self.prefix}audit:robinson"

    @property
    def audit_dispositions(self) -> str:
        return f"{self.prefix}audit:dispositions"

    @property
    def audit_leads(self) -> str:
        return f"{self.prefix}audit:leads"
