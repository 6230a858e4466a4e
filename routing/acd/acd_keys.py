"""Redis keys of the ACD shell: routing's layout (routing/acd/routing_keys.py) plus what only the shell needs.

Same prefix and hash tag as RoutingKeys (`sb:routing:{acd}:...`, an ACD shard's `{acd-east}`; one
slot on a Redis Cluster: the owner lease fences every write of the ACD's scripts, so it lives in
their slot), so
`redis-cli --scan --pattern 'sb:routing:*'` shows the whole ACD. Added here:
- `calls`                      SET of the calls the ACD is handling (waiting, ringing an agent, talking);
                               `call:{id}` holds each one (its facts say which). Ended calls leave the
                               set and their record expires a day later (case context stays readable)
- `timers`                     HASH `ring:{agent}` / `wrap:{agent}` -> JSON {at, call_id}: ring safety
                               nets and wrap-up ends, so a restarted engine keeps them
- `crm:customer:{e164}`        HASH the CRM's customer record (segment, status, name, ...), read to
                               classify the caller; written by the CRM through the API
- `events`                     STREAM of ACD events (case handover, abandoned, ended) the API reads
- `case:seq`                   STRING counter behind the case numbers
- `outages`                    HASH outage id -> JSON {spec, declared_by, declared_at, ended_at}: the
                               outages supervisors declared (routing/acd/outage_store.py)
- `outage:counts`              HASH `{id}:played` / `{id}:left` -> notices played, callers served by one
- `notices`                    HASH call id -> JSON {outage, at}: callers hearing a notice right now
- `owner`                      STRING `{token}:{engine id}` with a TTL: the lease of the engine that
                               owns the ACD (and, under `switchboard run`, the pacing); `owner:meta`
                               HASH token counter and last holder (core/lease.py)
- `{engine:<engine id>}`       STRING JSON {run, host, boot, pidns, pid, start} with a TTL, under its own
                               hash tag (`sb:routing:{engine:e1}`): the live process of that engine
                               id (core/engine_run.py: a restart is recognised, a second process with
                               the same id refused)
"""

from __future__ import annotations

from dataclasses import dataclass

from routing.acd.routing_keys import RoutingKeys


@dataclass(frozen=True, slots=True)
class AcdKeys(RoutingKeys):
    @property
    def calls(self) -> str:
        return f"{self.base}calls"

    @property
    def timers(self) -> str:
        return f"{self.base}timers"

    def crm_customer(self, number: str) -> str:
        return f"{self.base}crm:customer:{number}"

    @property
    def events(self) -> str:
        return f"{self.base}events"

    @property
    def case_seq(self) -> str:
        return f"{self.base}case:seq"

    @property
    def outages(self) -> str:
        return f"{self.base}outages"

    @property
    def outage_counts(self) -> str:
        return f"{self.base}outage:counts"

    @property
    def notices(self) -> str:
        return f"{self.base}notices"

    @property
    def owner(self) -> str:
        return f"{self.base}owner"

    def engine_run(self, engine_id: str) -> str:
        return f"{self.prefix}{{engine:{engine_id}}}"
