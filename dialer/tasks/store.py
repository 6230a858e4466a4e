"""The task store: follow-up tasks in Redis, created by rule or by an advisor, one atomic step each.

Owned here: every change of a task (dialer/tasks/scripts.py does each in one Lua call) and the
rules of issue 5 that need the store:
- Creation by rule (a call result, a disposition) is idempotent per source: an outcome written
  twice creates one task. The central deadline comes from the rule (dialer.tasks.deadlines), in the
  contact center's zone, from the moment of creation.
- The own time is checked when set and whenever changed (dialer.tasks.deadlines.validate_own_time: not
  in the past, not after the deadline; 422 naming the deadline), and for a callback also against
  the campaign's calling hours at that time (a refusal says why and when calling opens). Setting
  or changing it emits exactly one customer notification per change, in the same script; the
  same time sent again changes nothing and notifies no one.
- A disposition closes the lead's open tasks; closing at or after the expiry instant leaves the
  task expired (the penalty stays counted). The expire sweep turns open tasks past their expiry
  instant expired and counts each once, by rule; they stay listed until a supervisor archives.
- The dialer reads due callbacks (dialer/tasks/reads.py) and marks them dialed or deferred through
  dialer/tasks/callback_writes.py (composed here, with the bulk reactivation of stale tasks); a
  callback answered before expiry is handled (`mark_answered`): never overdue, redialed or expired.
- Every task has a reminder (dialer.tasks.reminders): the default of tasks.yaml unless the advisor
  picks one; anchored on the own time, it moves with it. dialer/tasks/advisor_mail.py sends it.
- With e-mail on (`customer_mail`: the default language), the own-time script also queues the
  customer's e-mail in the `tasks:mail` outbox, in the same step as the change.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis

from core.errors import ValidationFailedError
from core.phone_numbers import normalize
from dialer.audit import AuditTrail, maxlen_arg, text
from dialer.compliance.calling_hours import CallingWindow
from dialer.dialer_keys import DialerKeys, LeadKeys, TaskKeys
from dialer.dispositions.service import Disposition
from dialer.leads.model import to_ms
from dialer.leads.store import Lead, LeadStore
from dialer.tasks import reminder_scripts
from dialer.tasks import scripts as lua
from dialer.tasks.callback_writes import CallbackWrites
from dialer.tasks.deadlines import (
    central_deadline,
    expiry_instant,
    validate_own_time,
)
from dialer.tasks.mail_templates import Language
from dialer.tasks.notifications import customer_mail, customer_notice
from dialer.tasks.reads import TaskReads
from dialer.tasks.reminders import Reminder, ReminderAnchor, reminder_instant
from dialer.tasks.rules import DEFAULT_TASK_RULES, Task, TaskRule, TaskRules
from dialer.tasks.store_results import (
    Callee,
    DispositionEffect,
    LeadHasOpenTasks,
    OwnTimeChange,
    OwnTimeOutsideHoursError,
    Reactivation,
    TaskNotFoundError,
    TaskStateError,
    check_hours,
    last_owner,
    not_open,
    require_open,
)
from dialer.tasks.task_metrics import TaskMetrics

__all__ = [
    "DispositionEffect", "OwnTimeChange", "OwnTimeOutsideHoursError", "Reactivation", "TaskNotFoundError",
    "TaskStateError", "TaskStore", "Windows", "not_open",
]  # fmt: skip

Windows = Callable[[str], CallingWindow | None]


class TaskStore:
    """Tasks of every lead; `rules` is swapped on reload (the next call uses the new rules)."""

    def __init__(
        self,
        redis: Redis,
        *,
        leads: LeadStore,
        rules: TaskRules = DEFAULT_TASK_RULES,
        cc_zone: str = "Europe/Budapest",
        keys: DialerKeys | None = None,
        windows: Windows | None = None,
        metrics: TaskMetrics | None = None,
        audit_maxlen: int | None = None,
        customer_mail: Language | None = None,
    ) -> None:
        self.redis = redis
        self.keys = TaskKeys.of(keys)
        self.lead_keys = LeadKeys.of(keys)
        self.leads = leads
        self.rules = rules
        self.cc_zone = cc_zone
        self.windows = windows
        self.metrics = metrics
        self._maxlen = maxlen_arg(audit_maxlen)
        self.audit = AuditTrail(redis, self.keys.audit, maxlen=audit_maxlen)
        names = (
            "CREATE", "SET_OWN", "CLOSE", "EXPIRE", "ARCHIVE", "DIALED", "DEFER", "REACTIVATED", "ANSWERED",
            "SET_REMINDER",
        )  # fmt: skip
        sources = {name: getattr(lua, name) for name in names}
        sources |= {
            "QUEUE_REMINDER": reminder_scripts.QUEUE_REMINDER,
            "QUEUE_DIGEST": reminder_scripts.QUEUE_DIGEST,
        }
        # E-mail to customers of their promised time: the default language when mail is on (from
        # the `mail` settings), None when the engine sends no e-mail.
        self.customer_mail = customer_mail
        self._scripts = {name: redis.register_script(source) for name, source in sources.items()}
        self.reads = TaskReads(redis, self.keys, self.lead_keys, lambda: self.rules)
        """The read side (dialer/tasks/reads.py); its methods are this store's too:"""
        reads = self.reads
        self.find, self.get_many, self.open_for_lead = reads.find, reads.get_many, reads.open_for_lead
        self.task_for_call, self.expired_counts = reads.task_for_call, reads.expired_counts
        self.view, self.list_tasks, self.page_tasks = reads.view, reads.list_tasks, reads.page_tasks
        self.stale, self.page_stale, self.status_counts = reads.stale, reads.page_stale, reads.status_counts
        self.due_callbacks = reads.due_callbacks
        self.callbacks = CallbackWrites(self)
        """The callback side (dialer/tasks/callback_writes.py); its methods are this store's too:"""
        callbacks = self.callbacks
        self.mark_dialed, self.defer_callback = callbacks.mark_dialed, callbacks.defer_callback
        self.mark_answered, self.reactivate = callbacks.mark_answered, callbacks.reactivate

    def replace_rules(self, rules: TaskRules) -> None:
        """Hot reload: the next call uses the new rules."""
        self.rules = rules

    async def run(self, script: str, now: datetime, *args: str | int, keys: Sequence[str] = ()) -> Any:
        argv = [self.keys.prefix, to_ms(now), now.astimezone(UTC).isoformat(), self._maxlen, *args]
        return await self._scripts[script](keys=[*self.keys.script_keys, *keys], args=argv)  # the {dial} slot

    # ---- reads (the rest are in dialer/tasks/reads.py, see `reads`) ----------------------------------------

    async def get(self, task_id: str) -> Task:
        task = await self.find(task_id)
        if task is None:
            raise TaskNotFoundError(f"no task {task_id!r}", task_id=task_id)
        return task

    # ---- creation -----------------------------------------------------------------------------

    def _rule(self, kind: str) -> TaskRule:
        rule = self.rules.rule(kind)
        if rule is None:
            known = ", ".join(self.rules.kinds)
            raise ValidationFailedError(f"unknown task kind {kind!r}; known: {known}", kind=kind, known=known)
        return rule

    async def create(
        self,
        *,
        lead_id: str,
        kind: str,
        now: datetime,
        actor: str,
        owner: str | None = None,
        campaign_id: str | None = None,
        number: str | None = None,
        note: str = "",
        own_time: datetime | None = None,
        source: str = "advisor",
        source_ref: str | None = None,
        reactivated_from: str = "",
        reminder: Reminder | None = None,
        lead: Lead | None = None,
        alone: bool = False,
    ) -> Task:
        """A task of `kind` for the lead, owned by `owner` (default: the actor); its deadline from
        the rule, counted from `now`. An `own_time` is checked before anything is stored. Every
        task has a reminder: `reminder`, else the default of tasks.yaml. `lead`: the lead as the
        caller already read it (its customer, campaign, phones and zone are used), else it is read.
        `alone`: only if the lead has no open task (checked in the same script), else LeadHasOpenTasks
        with their ids and nothing written."""
        rule = self._rule(kind)
        if lead is None or lead.lead_id != lead_id:
            lead = await self.leads.get(lead_id)
        campaign = campaign_id or lead.campaign_id or ""
        phone = normalize(number, self.leads.default_region) if number else next(iter(lead.phones), "")
        deadline = central_deadline(rule.deadline, now, self.cc_zone)
        expires = expiry_instant(deadline, self.cc_zone)
        callback = rule.callback and bool(campaign) and bool(phone)
        if own_time is not None:
            own = validate_own_time(own_time, deadline, self.cc_zone, now)
            place = Callee(campaign if callback else "", phone, lead.zone, deadline, self.cc_zone)
            self._check_hours(own, place)
        fields = {
            "kind": rule.kind, "lead_id": lead.lead_id, "customer_id": lead.customer_id,
            "campaign_id": campaign, "owner": owner if owner is not None else actor, "number": phone,
            "zone": lead.zone or "", "callback": "1" if callback else "0", "source": source,
            "source_ref": source_ref or "", "created_ms": str(to_ms(now)), "created_by": actor,
            "note": note.strip()[:2000], "deadline": deadline.isoformat(), "cc_zone": self.cc_zone,
            "expires_ms": str(to_ms(expires)), "reactivated_from": reactivated_from,
        }  # fmt: skip
        remind = reminder or self.rules.reminders.default.reminder
        fields |= {"remind_before_s": str(int(remind.before.total_seconds())), "remind_of": remind.of.value}
        remind_at = str(to_ms(max(reminder_instant(remind, None, expires), now)))
        dial_at = str(to_ms(expires - self.rules.at_risk_margin)) if callback else ""
        payload = json.dumps(fields, ensure_ascii=False)
        args = (source_ref or "", payload, dial_at, remind_at, "1" if alone else "")
        reply = await self.run("CREATE", now, *args, keys=[self.keys.lead(lead.lead_id)])
        created, task_id, written = reply[0], reply[1], reply[2:]
        if int(created) == 2:
            raise LeadHasOpenTasks(tuple(text(found) for found in task_id))
        if own_time is not None:
            return (await self.set_own_time(text(task_id), own_time, now=now, actor=actor)).task
        if int(created) and written:  # the new task as the script wrote it: no read back
            return Task.from_hash(dict(zip(written[0][::2], written[0][1::2], strict=True)))
        return await self.get(text(task_id))

    async def record_result(
        self,
        *,
        result: str,
        now: datetime,
        lead_id: str | None = None,
        campaign_id: str | None = None,
        owner: str | None = None,
        call_id: str | None = None,
        answered_at: datetime | None = None,
        lead: Lead | None = None,
    ) -> Task | None:
        """A call ended with `result`: when a rule maps it (e.g. no_answer -> not_reachable, 2 days),
        the lead's open tasks are closed by it and the follow-up task is created (once per call).
        The lead is `lead_id`, else the one of the callback task dialed as `call_id`. An answered
        callback is handled at `answered_at` (default `now`): see `mark_answered`. `lead`: that lead as
        the caller read it (the dial's claim), so the task is made without reading it again."""
        if result == "answered" and call_id:
            await self.mark_answered(call_id, at=answered_at or now, now=now)
        rule = self.rules.for_result(result)
        if rule is None:
            return None
        # the callback task dialed as `call_id` only fills in what the caller did not give
        given = lead_id and owner and campaign_id
        dialed = await self.task_for_call(call_id) if call_id and not given else None
        lead_id = lead_id or (dialed.lead_id if dialed else None)
        if not lead_id:
            return None
        actor, ref = f"result:{result}", f"call:{call_id}" if call_id else None
        owner = owner or (dialed.owner if dialed else None)
        new = functools.partial(
            self.create, lead_id=lead_id, kind=rule.kind, now=now, actor=actor,
            campaign_id=campaign_id or (dialed.campaign_id if dialed else None), source=f"result:{result}",
            source_ref=ref, lead=lead,
        )  # fmt: skip
        try:  # the lead's open tasks are looked up by the creation itself: one round trip if none
            return await new(owner=owner or "", alone=True)
        except LeadHasOpenTasks as found:
            open_ids = found.task_ids
        previous = await self._close_open(
            lead_id, code=result, disposition_id="", actor=actor, now=now, ref=ref, open_ids=open_ids
        )
        return await new(owner=owner or last_owner(previous) or "")

    async def record_disposition(self, disposition: Disposition, *, now: datetime) -> DispositionEffect:
        """A disposition handles the lead: its open tasks are closed by it, and a rule for its code
        creates the follow-up (owned by the advisor who set it); idempotent per disposition."""
        ref = f"disposition:{disposition.disposition_id}"
        closed = await self._close_open(
            disposition.lead_id, code=disposition.code, disposition_id=disposition.disposition_id,
            actor=disposition.advisor, now=now, ref=ref,
        )  # fmt: skip
        rule = self.rules.for_disposition(disposition.code)
        created = None
        if rule is not None:
            created = await self.create(
                lead_id=disposition.lead_id, kind=rule.kind, now=now, actor=disposition.advisor,
                campaign_id=disposition.campaign_id, number=disposition.number, note=disposition.note,
                source=f"disposition:{disposition.code}", source_ref=ref,
            )  # fmt: skip
        return DispositionEffect(tuple(closed), created)

    async def _close_open(
        self, lead_id: str, *, code: str, disposition_id: str, actor: str, now: datetime, ref: str | None,
        open_ids: Sequence[str] | None = None,
    ) -> list[Task]:
        """Close the lead's open tasks (`open_ids`, else read), except the follow-up this same source
        (`ref`) created: a replayed outcome or disposition never closes its own follow-up."""
        tasks = await (self.get_many(open_ids) if open_ids is not None else self.open_for_lead(lead_id))
        own = await self.redis.hget(self.keys.sources, ref) if ref and tasks else None
        closed = []
        for task in tasks:
            if own is not None and task.task_id == text(own):
                continue
            ok, _, _ = await self.close_step(task.task_id, code, disposition_id, actor, now)
            if ok:
                closed.append(await self.get(task.task_id))
        return closed

    # ---- own time -----------------------------------------------------------------------------

    async def set_own_time(
        self, task_id: str, own_time: datetime, *, now: datetime, actor: str, reminder: Reminder | None = None
    ) -> OwnTimeChange:
        """Set or change the advisor's own task time; see the module docstring for the checks. A
        reminder anchored on the own time moves with it; `reminder` replaces the task's."""
        task = await self.get(task_id)
        require_open(task, now)
        own = validate_own_time(own_time, task.deadline_date, task.cc_zone, now)
        place = Callee(task.campaign_id if task.callback else "", task.number, task.zone, task.deadline_date,
                        task.cc_zone)  # fmt: skip
        self._check_hours(own, place)
        lead: Lead | None = await self.leads.find(task.lead_id)
        notice = self._notice(task, lead, own, now)
        webhook = "1" if self.rules.notifications.webhook is not None else "0"
        current = task.reminder or self.rules.reminders.default.reminder
        moves = reminder is None and current.of is ReminderAnchor.OWN_TIME
        remind_at = str(to_ms(max(reminder_instant(current, own, task.expires_at), now))) if moves else ""
        mail = self._customer_mail(task, lead, own, now)
        reply = await self.run(
            "SET_OWN", now, task_id, to_ms(own), own.isoformat(), actor, notice, webhook, remind_at, mail
        )
        if not int(reply[0]):
            raise not_open(task, text(reply[1]))
        if reminder is not None:
            await self.set_reminder(task_id, reminder, now=now, actor=actor)
        return OwnTimeChange(await self.get(task_id), text(reply[1]), int(reply[2]))

    async def set_reminder(self, task_id: str, reminder: Reminder, *, now: datetime, actor: str) -> Task:
        """The advisor chooses when they are reminded (e.g. 1 day before the deadline). An instant
        already past goes out at the next pass."""
        task = await self.get(task_id)
        require_open(task, now)
        due = max(reminder_instant(reminder, task.own_time, task.expires_at), now)
        before = int(reminder.before.total_seconds())
        reply = await self.run("SET_REMINDER", now, task_id, before, reminder.of.value, to_ms(due), actor)
        if not int(reply[0]):
            raise not_open(task, text(reply[1]))
        return await self.get(task_id)

    def _check_hours(self, own: datetime, place: Callee) -> None:
        """A callback's own time must fall inside its campaign's calling hours (callee's local time)."""
        window = self.windows(place.campaign_id) if self.windows and place.campaign_id else None
        check_hours(window, own, place)

    def _notice(self, task: Task, lead: Lead | None, own: datetime, now: datetime) -> str:
        if not self.rules.notifications.enabled:
            return ""
        return json.dumps(customer_notice(task, lead, own, now), ensure_ascii=False)

    def _customer_mail(self, task: Task, lead: Lead | None, own: datetime, now: datetime) -> str:
        """The customer's e-mail of the promised time ('' without mail, an address or notifications)."""
        language = self.customer_mail
        if language is None or not self.rules.notifications.enabled or lead is None or not lead.email:
            return ""
        return json.dumps(customer_mail(task, lead, own, now, language), ensure_ascii=False)

    # ---- closing, expiry, archive -------------------------------------------------------------

    async def close_step(
        self, task_id: str, code: str, disposition_id: str, actor: str, now: datetime
    ) -> tuple[bool, str, str]:
        """One CLOSE script: (closed, state or why not, rule kind); the expiry it causes is counted."""
        reply = await self.run("CLOSE", now, task_id, code, disposition_id, actor)
        ok, state = bool(int(reply[0])), text(reply[1])
        if ok and state == "expired" and self.metrics is not None:
            self.metrics.expired.labels(rule=text(reply[2])).inc()
        return ok, state, text(reply[2]) if len(reply) > 2 else ""

    async def close(
        self, task_id: str, *, code: str, now: datetime, actor: str, disposition_id: str = ""
    ) -> Task:
        """Close one task (done, or expired when at/after its expiry instant)."""
        ok, state, _ = await self.close_step(task_id, code, disposition_id, actor, now)
        if not ok:
            raise not_open(await self.get(task_id), state)
        return await self.get(task_id)

    async def expire_due(self, *, now: datetime, limit: int = 500) -> list[tuple[str, str]]:
        """Turn open tasks past their expiry instant expired; returns (task id, rule kind) of each."""
        reply = await self.run("EXPIRE", now, limit)
        expired = [(text(reply[i]), text(reply[i + 1])) for i in range(0, len(reply), 2)]
        if self.metrics is not None:
            for _, kind in expired:
                self.metrics.expired.labels(rule=kind).inc()
        return expired

    async def archive(self, task_id: str, *, now: datetime, actor: str) -> Task:
        """A supervisor takes a done or expired task off the lists (open tasks cannot be archived)."""
        reply = await self.run("ARCHIVE", now, task_id, actor)
        if not int(reply[0]):
            why = text(reply[1])
            if why == "missing":
                raise TaskNotFoundError(f"no task {task_id!r}", task_id=task_id)
            message = (
                f"task {task_id} is still open: close it with a disposition first"
                if why == "open"
                else f"task {task_id} is already archived"
            )
            raise TaskStateError(message, task_id=task_id, state=why)
        return await self.get(task_id)
