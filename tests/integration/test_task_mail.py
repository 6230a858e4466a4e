"""Task e-mail against a real SMTP server (aiosmtpd): advisors' reminders at their instant, the
morning digest, customers' callback times; once each across restarts, retried while SMTP is down."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import timedelta

import pytest
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry

from dialer.tasks.advisor_mail import AdvisorContact, AdvisorDirectory
from dialer.tasks.mail import MailRetry, SmtpConfig
from dialer.tasks.reminders import Reminder, ReminderAnchor
from dialer.tasks.service import MailSetup, PassReport, TaskService
from tests.support.smtp_server import Received, SmtpServer, smtp_server
from tests.support.tasks_harness import Clock, Kit, build_kit, lead, local

pytestmark = pytest.mark.integration

ADVISORS = [
    AdvisorContact("anna", "Kovács Anna", "anna@cc.example", "hu"),
    AdvisorContact("piotr", "Piotr Nowak", "piotr@cc.example", "pl"),
    AdvisorContact("bob", "Bob Smith", "bob@cc.example", None),
    AdvisorContact("nomail", "No Mail", None, "en"),
]


@pytest.fixture
async def smtp() -> AsyncIterator[SmtpServer]:
    async with smtp_server() as server:
        yield server


def engine(
    kit: Kit,
    smtp: SmtpServer,
    *,
    retries: int = 3,
    advisors: Sequence[AdvisorContact] = ADVISORS,
    shard: str = "",
    batch: int = 200,
) -> TaskService:
    """One engine's task service (a new one = a restarted engine: nothing but Redis carries over);
    `advisors`: its routing.yaml's, `shard`: its ACD shard."""
    setup = MailSetup(
        SmtpConfig(host="127.0.0.1", port=smtp.port, security="none", sender="cc@cc.example", timeout_s=5),
        AdvisorDirectory(lambda: advisors),
        MailRetry(retries, timedelta(seconds=30), timedelta(minutes=5)),
        default_language="en",
        reminder_batch=batch,
        shard=shard,
    )
    return TaskService.build(
        kit.redis, leads=kit.stores.leads, registry=CollectorRegistry(), rules=kit.tasks.rules,
        clock=lambda: kit.clock().timestamp(), mail=setup,
    )  # fmt: skip


def mails(smtp: SmtpServer, kind: str, to: str | None = None) -> list[Received]:
    """The messages of one kind (remind, digest, own) received, for one address or all."""
    found = smtp.to(to) if to else smtp.received
    return [mail for mail in found if mail.header("X-Switchboard-Key").startswith(kind + ":")]


async def at(service: TaskService, clock: Clock, moment: object) -> PassReport:
    clock.set(moment)  # type: ignore[arg-type]
    return await service.run_once()


async def test_the_reminder_reaches_the_advisor_at_its_instant_once_in_their_language(
    redis_client: aioredis.Redis, smtp: SmtpServer
) -> None:
    kit = build_kit(redis_client)
    await kit.leads(1)
    service = engine(kit, smtp)
    task = await service.store.create(
        lead_id="L1", kind="callback_requested", now=kit.clock(), actor="anna", own_time=local(2026, 6, 2, 14)
    )
    assert task.reminder == Reminder(timedelta(hours=1), ReminderAnchor.OWN_TIME)  # the documented default
    assert task.remind_at == local(2026, 6, 2, 13)

    await at(service, kit.clock, local(2026, 6, 2, 12, 59, 59))
    assert mails(smtp, "remind") == []
    report = await at(service, kit.clock, local(2026, 6, 2, 13))
    assert report.queued is not None and report.queued.reminders == {"queued": 1}
    [mail] = mails(smtp, "remind", "anna@cc.example")
    assert mail.subject.startswith("Emlékeztető: Callback requested - Customer 1")
    assert mail.header("Content-Language") == "hu"
    assert "Feladat időpontja: 2026-06-02 14:00 Europe/Budapest" in mail.body
    assert "Központi határidő: 2026-06-15 23:59:59 Europe/Budapest" in mail.body

    await at(service, kit.clock, local(2026, 6, 2, 13, 30))
    assert len(mails(smtp, "remind")) == 1


async def test_the_advisor_chooses_a_day_before_the_deadline_and_it_moves_with_nothing_else(
    redis_client: aioredis.Redis, smtp: SmtpServer
) -> None:
    kit = build_kit(redis_client)
    await kit.leads(1)
    service = engine(kit, smtp)
    task = await service.store.create(lead_id="L1", kind="not_reachable", now=kit.clock(), actor="piotr")
    day_before = Reminder(timedelta(days=1), ReminderAnchor.DEADLINE)
    task = await service.store.set_reminder(task.task_id, day_before, now=kit.clock(), actor="piotr")
    assert task.remind_at == local(2026, 6, 3)  # deadline 2026-06-03 ends 06-04 00:00, one day before
    await service.store.set_own_time(task.task_id, local(2026, 6, 2, 9), now=kit.clock(), actor="piotr")

    await at(service, kit.clock, local(2026, 6, 2, 23, 59))
    assert mails(smtp, "remind") == []
    await at(service, kit.clock, local(2026, 6, 3))
    [mail] = mails(smtp, "remind", "piotr@cc.example")
    assert mail.subject.startswith("Przypomnienie:") and mail.header("Content-Language") == "pl"
    assert "Termin ostateczny: 2026-06-03 23:59:59 Europe/Budapest" in mail.body


async def test_a_restarted_engine_neither_repeats_nor_loses_a_reminder(
    redis_client: aioredis.Redis, smtp: SmtpServer
) -> None:
    kit = build_kit(redis_client)
    await kit.leads(1, 2)
    first = engine(kit, smtp)
    now = kit.clock()
    sent = await first.store.create(lead_id="L1", kind="callback_requested", now=now, actor="bob",
                                    own_time=local(2026, 6, 1, 12))  # fmt: skip
    queued = await first.store.create(lead_id="L2", kind="callback_requested", now=now, actor="bob",
                                      own_time=local(2026, 6, 1, 12, 30))  # fmt: skip
    await at(first, kit.clock, local(2026, 6, 1, 11))  # the first reminder goes out
    kit.clock.set(local(2026, 6, 1, 11, 30))
    assert first.mail is not None
    await first.mail.run_once(kit.clock())  # the second is queued; the engine dies before sending it

    restarted = engine(kit, smtp)
    await at(restarted, kit.clock, local(2026, 6, 1, 11, 30))
    await at(restarted, kit.clock, local(2026, 6, 1, 12, 30))
    keys = sorted(mail.header("X-Switchboard-Key") for mail in mails(smtp, "remind", "bob@cc.example"))
    assert keys == sorted(
        [f"remind:{sent.task_id}:{int(local(2026, 6, 1, 11).timestamp() * 1000)}",
         f"remind:{queued.task_id}:{int(local(2026, 6, 1, 11, 30).timestamp() * 1000)}"]
    )  # fmt: skip
    assert "Reminder:" in mails(smtp, "remind", "bob@cc.example")[0].subject  # no language: the mail default


async def test_while_smtp_is_down_the_reminder_is_retried_and_then_delivered(
    redis_client: aioredis.Redis, smtp: SmtpServer
) -> None:
    kit = build_kit(redis_client)
    await kit.leads(1)
    service = engine(kit, smtp)
    await service.store.create(lead_id="L1", kind="callback_requested", now=kit.clock(), actor="anna",
                               own_time=local(2026, 6, 1, 12))  # fmt: skip
    await smtp.stop()
    down = await at(service, kit.clock, local(2026, 6, 1, 11))  # the customer's, the digest, the reminder
    assert (down.mailed.retried, down.mailed.deferred, down.mailed.sent) == (1, 2, 0)  # one timeout at most
    await smtp.start()  # back on the same port
    early = await at(service, kit.clock, local(2026, 6, 1, 11, 0, 29))
    assert early.mailed.sent == 0  # each waits for its backoff (30 s)
    later = await at(service, kit.clock, local(2026, 6, 1, 11, 0, 30))
    assert later.mailed.sent == 3
    assert len(mails(smtp, "remind", "anna@cc.example")) == len(mails(smtp, "digest", "anna@cc.example")) == 1
    assert len(mails(smtp, "own", "customer1@example.hu")) == 1
    assert service.mail_worker is not None and await service.mail_worker.pending() == 0


EAST, WEST = ADVISORS[:2], ADVISORS[2:]  # anna and piotr in shard east's routing.yaml, bob and nomail


async def test_a_reminder_is_sent_by_the_engines_of_its_owners_acd_shard(
    redis_client: aioredis.Redis, smtp: SmtpServer
) -> None:
    """Whatever the task's campaign (none here: a task the CRM made): the owner's shard's engines
    have the address. An owner no shard has is the default shard's to mark `no-address`."""
    kit = build_kit(redis_client)
    item = lead(1)
    item.pop("campaign_id")
    await kit.stores.leads.upsert_many([item], now=kit.clock(), actor="crm")
    east, default = engine(kit, smtp, advisors=EAST, shard="east"), engine(kit, smtp, advisors=WEST)
    await at(east, kit.clock, kit.clock())  # each shard's engines have run: their advisors are known
    await at(default, kit.clock, kit.clock())
    two = local(2026, 6, 2, 14)
    for owner in ("anna", "bob", "gone"):
        task = await east.store.create(lead_id="L1", kind="callback_requested", now=kit.clock(), actor=owner,
                                       own_time=two)  # fmt: skip
        assert task.campaign_id is None
    report = await at(default, kit.clock, local(2026, 6, 2, 13))
    assert report.queued is not None and report.queued.reminders == {"queued": 1, "no-address": 1}
    report = await at(east, kit.clock, local(2026, 6, 2, 13))
    assert report.queued is not None and report.queued.reminders == {"queued": 1}
    await at(default, kit.clock, local(2026, 6, 2, 13, 0, 30))  # the mail pass of either engine sends
    assert [len(mails(smtp, "remind", to)) for to in ("anna@cc.example", "bob@cc.example")] == [1, 1]


async def test_reminders_left_to_a_shard_whose_engines_are_down_do_not_hold_up_the_others(
    redis_client: aioredis.Redis, smtp: SmtpServer
) -> None:
    kit = build_kit(redis_client)
    await kit.leads(1)
    east, default = engine(kit, smtp, advisors=EAST, shard="east"), engine(kit, smtp, advisors=WEST, batch=2)
    await at(east, kit.clock, kit.clock())  # east's engines ran once, then stopped
    for hour, owner in ((13, "anna"), (14, "piotr"), (15, "anna"), (16, "bob")):  # due first: east's
        await default.store.create(lead_id="L1", kind="callback_requested", now=kit.clock(), actor=owner,
                                   own_time=local(2026, 6, 2, hour))  # fmt: skip
    report = await at(default, kit.clock, local(2026, 6, 2, 16))
    assert report.queued is not None and report.queued.reminders == {"queued": 1}
    assert await redis_client.zcard(default.store.keys.remind) == 3  # east's wait


async def test_an_advisor_without_an_address_gets_nothing_and_the_reminder_is_not_retried(
    redis_client: aioredis.Redis, smtp: SmtpServer
) -> None:
    kit = build_kit(redis_client)
    await kit.leads(1)
    service = engine(kit, smtp)
    hour_before = Reminder(timedelta(hours=1), ReminderAnchor.DEADLINE)
    task = await service.store.create(
        lead_id="L1", kind="not_reachable", now=kit.clock(), actor="nomail", reminder=hour_before
    )
    report = await at(service, kit.clock, task.expires_at - timedelta(hours=1))
    assert report.queued is not None and report.queued.reminders == {"no-address": 1}
    again = await at(service, kit.clock, task.expires_at - timedelta(minutes=1))
    assert again.queued is not None and again.queued.reminders == {}
    assert mails(smtp, "remind") == []


async def test_the_morning_digest_lists_the_day_once_per_advisor_and_skips_the_idle(
    redis_client: aioredis.Redis, smtp: SmtpServer
) -> None:
    kit = build_kit(redis_client)
    await kit.leads(1, 2, 3)
    service = engine(kit, smtp)
    now = kit.clock()  # Monday 2026-06-01 10:00
    today = await service.store.create(lead_id="L1", kind="callback_requested", now=now, actor="anna",
                                       own_time=local(2026, 6, 2, 15))  # fmt: skip
    late = await service.store.create(lead_id="L2", kind="callback_requested", now=now, actor="anna",
                                      own_time=local(2026, 6, 1, 18))  # fmt: skip
    await service.store.create(
        lead_id="L3", kind="callback_requested", now=now, actor="anna", own_time=local(2026, 6, 10, 9)
    )  # fmt: skip  (not today: not listed)

    await at(service, kit.clock, local(2026, 6, 2, 6, 59))
    assert mails(smtp, "digest") == []
    report = await at(service, kit.clock, local(2026, 6, 2, 7))
    assert report.queued is not None and report.queued.digests == 1  # anna; bob and piotr: nothing to do
    [digest] = mails(smtp, "digest", "anna@cc.example")
    assert digest.subject == "Mai feladataid - 2026-06-02"
    body = digest.body
    assert body.index("Mára esedékes (1)") < body.index(today.task_id) < body.index("Késésben (1)")
    assert body.index("Késésben (1)") < body.index(late.task_id)
    assert "t-3" not in body

    await at(service, kit.clock, local(2026, 6, 2, 7, 30))
    await at(engine(kit, smtp), kit.clock, local(2026, 6, 2, 8))  # a restarted engine
    assert len(mails(smtp, "digest")) == 1
    assert mails(smtp, "digest", "bob@cc.example") == mails(smtp, "digest", "piotr@cc.example") == []


async def test_the_customer_is_mailed_the_promised_time_in_their_language(
    redis_client: aioredis.Redis, smtp: SmtpServer
) -> None:
    kit = build_kit(redis_client)
    await kit.leads(1)
    service = engine(kit, smtp)
    task = await service.store.create(lead_id="L1", kind="callback_requested", now=kit.clock(), actor="anna")
    await service.store.set_own_time(task.task_id, local(2026, 6, 3, 9), now=kit.clock(), actor="anna")
    await service.store.set_own_time(task.task_id, local(2026, 6, 3, 10), now=kit.clock(), actor="anna")
    await service.run_once()
    [mail] = mails(smtp, "own", "customer1@example.hu")
    assert mail.subject == "Visszahívás időpontja: 2026-06-03 10:00 Europe/Budapest"  # the newest time only
    assert mail.header("X-Switchboard-Key") == f"own:{task.task_id}:v2"
    await service.run_once()
    assert len(smtp.to("customer1@example.hu")) == 1
