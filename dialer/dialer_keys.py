"""Every Redis key the dialer uses, in one place: build keys only through `DialerKeys`.

All keys live under one prefix (default `sb:dialer:`), so an operator can list what belongs to the
dialer with `redis-cli --scan --pattern 'sb:dialer:*'`, and tests or side-by-side engines can use
their own prefix. Add new dialer keys here, with a line in this table.

Blacklist (dialer/lists/store.py, dialer/lists/gate.py, dialer/lists/importer.py):
- `bl:internal`               HASH E.164 -> JSON {reason, actor, at}: the engine's own list
- `bl:lists`                  SET of packed list names (national lists, `campaign:<id>` lists)
- `bl:list:{name}`            HASH bucket id -> packed sorted uint32 remainders (dialer/lists/packed.py);
                              the live data of one packed list, swapped in whole by `--replace`
- `bl:meta:{name}`            HASH count, generation, updated_at, mode, source, region of a list
- `bl:build:{name}:{token}`   HASH being built by a `--replace` import (TTL'd until swapped in)
- `bl:retired:{name}:{token}` the previous live HASH between the swap and its UNLINK
- `bl:lock:{name}`            STRING token: one import at a time per list (SET NX PX)
- `audit:blacklist`           STREAM of list changes: add, remove, import, drop (who, why, when)
- `audit:dial-blocked`        STREAM of dials the gate refused: number, sources, campaign, lead, at
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_PREFIX = "sb:dialer:"


@dataclass(frozen=True, slots=True)
class DialerKeys:
    """Key names under one prefix."""

    prefix: str = DEFAULT_PREFIX

    @property
    def blacklist_internal(self) -> str:
        return f"{self.prefix}bl:internal"

    @property
    def blacklist_registry(self) -> str:
        return f"{self.prefix}bl:lists"

    @property
    def blacklist_list_prefix(self) -> str:
        """`blacklist_list(name)` is this prefix + name (the gate's Lua script builds keys from it)."""
        return f"{self.prefix}bl:list:"

    def blacklist_list(self, name: str) -> str:
        return f"{self.blacklist_list_prefix}{name}"

    def blacklist_meta(self, name: str) -> str:
        return f"{self.prefix}bl:meta:{name}"

    def blacklist_build(self, name: str, token: str) -> str:
        return f"{self.prefix}bl:build:{name}:{token}"

    def blacklist_retired(self, name: str, token: str) -> str:
        return f"{self.prefix}bl:retired:{name}:{token}"

    def blacklist_lock(self, name: str) -> str:
        return f"{self.prefix}bl:lock:{name}"

    @property
    def audit_blacklist(self) -> str:
        return f"{self.prefix}audit:blacklist"

    @property
    def audit_dial_blocked(self) -> str:
        return f"{self.prefix}audit:dial-blocked"

    def pattern(self) -> str:
        """SCAN pattern matching every dialer key."""
        return f"{self.prefix}*"


# =================================================================================================
# Leads, Robinson-list requests, dispositions (dialer/leads/store.py, dialer/leads/scripts.py,
# dialer/leads/robinson.py, dialer/dispositions/service.py). Same prefix as DialerKeys; build with
# `LeadKeys.of(dialer_keys)`. The Lua scripts build per-lead keys from `prefix` the same way.
# - `lead:{id}`                  HASH one lead (fields: dialer/leads/store.py `Lead`)
# - `leads:seq`                  STRING counter: insertion order of new leads ("age")
# - `leads:customer-ids`         HASH ASCII-lowercased customer id -> the id as the CRM sent it
# - `leads:customer:{cid}`       SET lead ids of one customer (Robinson approval finds phones here)
# - `leads:ready:{campaign}`     ZSET lead id -> rank (priority, then age): claimable now
# - `leads:retry:{campaign}`     ZSET lead id -> next attempt (epoch ms): queued, not yet due
# - `leads:claimed`              ZSET lead id -> claim lease expiry (epoch ms)
# - `leads:offers`               ZSET lead id -> preview offer expiry (epoch ms)
# - `leads:offer:{advisor}`      STRING the lead offered to that advisor now (one at a time)
# - `robinson:seq`               STRING counter of request ids (`rr-<n>`)
# - `robinson:req:{id}`          HASH one Robinson-list request
# - `robinson:status:{status}`   ZSET request id -> filed at (epoch ms), per pending/approved/rejected
# - `robinson:by:{advisor}`      ZSET request id -> filed at (epoch ms), the advisor's own requests
# - `robinson:pending:{cid}`     SET the customer's open (pending) request ids
# - `robinson:excluded`          HASH customer id -> approved request id: out of lead distribution
# - `disp:seq`                   STRING counter of disposition ids (`d-<n>`)
# - `disp:rec:{id}`              HASH one disposition
# - `disp:lead:{lead}`           ZSET disposition id -> set at (epoch ms), per lead
# - `disp:call:{call}`           ZSET disposition id -> set at (epoch ms), per call (inbound: no lead)
# - `disp:case:{case}`           ZSET disposition id -> set at (epoch ms), per ACD case
# - `disp:index`                 ZSET disposition id -> set at (epoch ms), all (CRM `since` reads)
# - `audit:robinson`             STREAM filed, approved, rejected, numbers-blacklisted (who, when, what)
# - `audit:dispositions`         STREAM dispositions and each automation action they caused
# - `audit:leads`                STREAM leads closed or finished (who, why, previous status)
# =================================================================================================


@dataclass(frozen=True, slots=True)
class LeadKeys:
    """Keys of the lead store, Robinson requests and dispositions (under the DialerKeys prefix)."""

    prefix: str = DEFAULT_PREFIX

    @classmethod
    def of(cls, keys: DialerKeys | None) -> LeadKeys:
        return cls((keys or DialerKeys()).prefix)

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


# =================================================================================================
# Campaigns and the dialing loop (dialer/calls/attempts.py, dialer/loop/campaign_control.py).
# Same prefix as DialerKeys; build with `DialKeys.of(dialer_keys)`.
# - `dial:num:{e164}`            ZSET "call_id|result|campaign" -> epoch ms: attempts on one number,
#                                every campaign, manual dials and callbacks (call caps, quarantine)
# - `dial:lead:{lead}`           ZSET same members: the attempts of one lead (retry delays, limits)
# - `dial:lock:{e164}`           STRING token: one dial at a time per number (SET NX PX, all engines)
# - `dial:call:{call_id}`        HASH one placed call's intent (number, campaign, lead, holder, agent,
#                                kind, owner, at), written before its Originate leaves; once settled
#                                only `settled` = the result stays (TTL 1 h): a call settles once
# - `dial:intents`               ZSET call id -> placed at (epoch ms): intents without an outcome yet
# - `dial:engine:{instance}`     STRING heartbeat of a running dialer (renewed every round, TTL'd):
#                                recovery settles a dead engine's open intents at once
# - `dial:stats:{campaign}`      HASH "{hour}:{d|a|x|m}" -> count: dials, live answers, abandons,
#                                answering machines per UTC hour (abandon rate 24 h / 30 d, pacing)
# - `dial:campaigns`             HASH campaign id -> JSON {state, actor, at, reason}: running/paused/stopped
# - `dial:leader`                STRING engine instance id: the one instance that paces (SET NX PX lease)
# - `audit:dial-attempts`        STREAM every dial attempt and its outcome (number, campaign, lead, call)
# - `audit:campaigns`            STREAM campaign start / pause / stop (who, when)
# =================================================================================================


@dataclass(frozen=True, slots=True)
class DialKeys:
    """Keys of the dialing loop: attempts, dial locks, campaign statistics and states, leadership."""

    prefix: str = DEFAULT_PREFIX

    @classmethod
    def of(cls, keys: DialerKeys | None) -> DialKeys:
        return cls((keys or DialerKeys()).prefix)

    def number_attempts(self, number: str) -> str:
        return f"{self.prefix}dial:num:{number}"

    def lead_attempts(self, lead_id: str) -> str:
        return f"{self.prefix}dial:lead:{lead_id}"

    def dial_lock(self, number: str) -> str:
        return f"{self.prefix}dial:lock:{number}"

    def stats(self, campaign_id: str) -> str:
        return f"{self.prefix}dial:stats:{campaign_id}"

    def call(self, call_id: str) -> str:
        return f"{self.prefix}dial:call:{call_id}"

    @property
    def intents(self) -> str:
        return f"{self.prefix}dial:intents"

    def engine(self, instance_id: str) -> str:
        return f"{self.prefix}dial:engine:{instance_id}"

    @property
    def campaign_states(self) -> str:
        return f"{self.prefix}dial:campaigns"

    @property
    def leader(self) -> str:
        return f"{self.prefix}dial:leader"

    @property
    def audit_attempts(self) -> str:
        return f"{self.prefix}audit:dial-attempts"

    @property
    def audit_campaigns(self) -> str:
        return f"{self.prefix}audit:campaigns"


# =================================================================================================
# Follow-up tasks, callbacks and customer notifications (dialer/tasks/store.py, dialer/tasks/scripts.py,
# dialer/tasks/notifications.py). Same prefix as DialerKeys; build with `TaskKeys.of(dialer_keys)`. The Lua
# scripts build the per-task keys from `prefix` the same way. Scores are epoch ms.
# - `task:{id}`                  HASH one task (fields: dialer/tasks/rules.py `Task`)
# - `tasks:seq`                  STRING counter of task ids (`t-<n>`)
# - `tasks:source`               HASH source ref (call id, disposition id) -> task id: creation by
#                                rule is idempotent (an outcome written twice makes one task)
# - `tasks:open`                 ZSET id -> expiry: open tasks (the expire sweep, at-risk lists)
# - `tasks:own`                  ZSET id -> own time: open tasks with an own time (due, overdue)
# - `tasks:dial:{campaign}`      ZSET id -> when to dial: open callback tasks of a campaign (own
#                                time; without one, expiry minus the at-risk margin; after a dial,
#                                the redial time)
# - `tasks:lead:{lead}`          ZSET id -> expiry: open tasks of a lead (a disposition closes them)
# - `tasks:all`                  ZSET id -> expiry: every task not archived (lists)
# - `tasks:owner:{advisor}`      ZSET id -> expiry: the advisor's tasks not archived
# - `tasks:campaign:{campaign}`  ZSET id -> expiry: the campaign's tasks not archived
# - `tasks:expired`              ZSET id -> expiry: expired tasks not archived (the penalty list)
# - `tasks:activity`             ZSET id -> last activity: callback tasks not done nor archived
#                                (the stale report)
# - `tasks:archived`             ZSET id -> archived at
# - `tasks:expired-count`        HASH rule kind -> tasks expired under it, all time
# - `tasks:call:{call_id}`       STRING task id of a callback call in flight (TTL 2 days)
# - `tasks:notify`               STREAM customer notifications (own time set or changed) for the
#                                e-mail / SMS senders; `idempotency_key` = task id + own-time version
# - `tasks:notify:outbox`        ZSET task id -> next webhook delivery attempt (latest version only)
# - `tasks:notify:payload`       HASH task id -> JSON of the notification awaiting webhook delivery
# - `tasks:notify:tries`         HASH task id -> delivery attempts of the pending version so far
# - `tasks:notify:sent`          ZSET idempotency key -> delivered at: never delivered twice
# - `tasks:notify:failed`        HASH task id -> JSON of a notification given up after its retries
# - `tasks:remind`               ZSET id -> when the owner's reminder e-mail is due (open tasks;
#                                removed when queued, answered, closed or expired)
# - `tasks:digest:{date}`        HASH advisor -> queued at: the morning digest of that local date
#                                was queued once (2 days TTL)
# - `tasks:mail:outbox`          ZSET message id -> next SMTP attempt (`remind:t-12`, `own:t-12`,
#                                `digest:1001:2026-06-01`; latest version only)
# - `tasks:mail:payload`, `tasks:mail:tries`, `tasks:mail:sent`, `tasks:mail:failed`: as the
#                                `tasks:notify:*` keys, for e-mail (one outbox mechanism, two queues)
# - `audit:tasks`                STREAM created, own-time, reminder, answered, dialed, closed,
#                                expired, archived, reactivated
# =================================================================================================


@dataclass(frozen=True, slots=True)
class TaskKeys:
    """Keys of the task store and the customer notifications (under the DialerKeys prefix)."""

    prefix: str = DEFAULT_PREFIX

    @classmethod
    def of(cls, keys: DialerKeys | None) -> TaskKeys:
        return cls((keys or DialerKeys()).prefix)

    def task(self, task_id: str) -> str:
        return f"{self.prefix}task:{task_id}"

    @property
    def seq(self) -> str:
        return f"{self.prefix}tasks:seq"

    @property
    def sources(self) -> str:
        return f"{self.prefix}tasks:source"

    @property
    def open(self) -> str:
        return f"{self.prefix}tasks:open"

    @property
    def own(self) -> str:
        return f"{self.prefix}tasks:own"

    def dial(self, campaign_id: str) -> str:
        return f"{self.prefix}tasks:dial:{campaign_id}"

    def lead(self, lead_id: str) -> str:
        return f"{self.prefix}tasks:lead:{lead_id}"

    @property
    def all(self) -> str:
        return f"{self.prefix}tasks:all"

    def owner(self, advisor: str) -> str:
        return f"{self.prefix}tasks:owner:{advisor}"

    def campaign(self, campaign_id: str) -> str:
        return f"{self.prefix}tasks:campaign:{campaign_id}"

    @property
    def expired(self) -> str:
        return f"{self.prefix}tasks:expired"

    @property
    def activity(self) -> str:
        return f"{self.prefix}tasks:activity"

    @property
    def archived(self) -> str:
        return f"{self.prefix}tasks:archived"

    @property
    def expired_count(self) -> str:
        return f"{self.prefix}tasks:expired-count"

    def call(self, call_id: str) -> str:
        return f"{self.prefix}tasks:call:{call_id}"

    @property
    def notify(self) -> str:
        return f"{self.prefix}tasks:notify"

    @property
    def outbox(self) -> str:
        return f"{self.prefix}tasks:notify:outbox"

    @property
    def payload(self) -> str:
        return f"{self.prefix}tasks:notify:payload"

    @property
    def tries(self) -> str:
        return f"{self.prefix}tasks:notify:tries"

    @property
    def sent(self) -> str:
        return f"{self.prefix}tasks:notify:sent"

    @property
    def failed(self) -> str:
        return f"{self.prefix}tasks:notify:failed"

    @property
    def remind(self) -> str:
        return f"{self.prefix}tasks:remind"

    def digest(self, day: str) -> str:
        return f"{self.prefix}tasks:digest:{day}"

    def queue(self, base: str, part: str) -> str:
        """A key of an outbox queue: ("tasks:mail", "sent") -> `<prefix>tasks:mail:sent`."""
        return f"{self.prefix}{base}:{part}"

    @property
    def audit(self) -> str:
        return f"{self.prefix}audit:tasks"


# =================================================================================================
# The consent register (dialer/consent/store.py, read by the gate's Lua in dialer/lists/gate.py).
# Same prefix as DialerKeys; build with `ConsentKeys.of(dialer_keys)`. The gate's script builds the
# per-number keys from `number_prefix` / `dials_prefix`. Scores are epoch ms.
# - `consent:num:{e164}`         HASH "{purpose}|{customer id, ASCII-lowercased}" -> JSON of one
#                                consent (dialer/consent/validity.py `ConsentRecord`, times in ms)
# - `consent:index`              ZSET "{e164}|{purpose}|{customer}" -> last change (CRM read-back)
# - `consent:log:{e164}`         LIST of JSON: every grant, change and withdrawal of the number's
#                                consents (the evidence; never trimmed by audit retention)
# - `consent:dials:{e164}`       LIST of JSON: every dial the gate let through under a consent
#                                (purpose, customer, campaign, lead, call id, at): its use
#                                (LISTs, not STREAMs: a small STREAM per number costs about 4 KB)
# - `audit:consent`              STREAM given, updated, withdrawn (who, when, source): the audit trail
# =================================================================================================


@dataclass(frozen=True, slots=True)
class ConsentKeys:
    """Keys of the consent register (under the DialerKeys prefix)."""

    prefix: str = DEFAULT_PREFIX

    @classmethod
    def of(cls, keys: DialerKeys | None) -> ConsentKeys:
        return cls((keys or DialerKeys()).prefix)

    @property
    def number_prefix(self) -> str:
        return f"{self.prefix}consent:num:"

    def number(self, e164: str) -> str:
        return f"{self.number_prefix}{e164}"

    @property
    def index(self) -> str:
        return f"{self.prefix}consent:index"

    def log(self, e164: str) -> str:
        return f"{self.prefix}consent:log:{e164}"

    @property
    def dials_prefix(self) -> str:
        return f"{self.prefix}consent:dials:"

    def dials(self, e164: str) -> str:
        return f"{self.dials_prefix}{e164}"

    @property
    def audit(self) -> str:
        return f"{self.prefix}audit:consent"
