"""Task e-mail against a real SMTP server (aiosmtpd): advisors' reminders at their instant, the
morning digest, customers' callback times; once each across restarts, retried while SMTP is down."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import pytest
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry

from dialer.tasks.advisor_mail import AdvisorContact, AdvisorDirectory
from dialer.tasks.mail import MailRetry, SmtpConfig
from dialer.tasks.reminders import Reminder, ReminderAnchor
from dialer.tasks.service import MailSetup, PassReport, TaskService
from tests.support.smtp_server import Received, SmtpServer, smtp_server
from tests.support.tasks_harness import Clock, Kit, build_kit, local

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
    kit: Kit, smtp: SmtpServer, *, retries: int = 3, takes: Callable[[str | None], bool] = lambda _: True
) -> TaskService:
    """One engine's task service (a new one = a restarted engine: nothing but Redis carries over);
    `takes`: the tasks' campaigns whose reminders it sends (its ACD shard's)."""
    setup = MailSetup(
        SmtpConfig(host="127.0.0.1", port=smtp.port, security="none", sender="cc@cc.example", timeout_s=5),
        AdvisorDirectory(lambda: ADVISORS),
        MailRetry(retries, timedelta(seconds=30), timedelta(minutes=5)),
        default_language="en",
        takes=takes,
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


async def test_another_acd_shards_engine_leaves_the_reminder_to_the_advisors_shard(
    redis_client: aioredis.Redis, smtp: SmtpServer
) -> None:
    kit = build_kit(redis_client)
    await kit.leads(1)
    other_shard = engine(kit, smtp, takes=lambda _campaign: False)
    task = await other_shard.store.create(
        lead_id="L1", kind="callback_requested", now=kit.clock(), actor="anna", own_time=local(2026, 6, 2, 14)
    )
    left = await at(other_shard, kit.clock, local(2026, 6, 2, 13))
    assert left.queued is not None and left.queued.reminders == {}, "neither sent nor marked no-address"
    own_shard = engine(kit, smtp, takes=lambda campaign: campaign == task.campaign_id)
    sent = await at(own_shard, kit.clock, local(2026, 6, 2, 13))
    assert sent.queued is not None and sent.queued.reminders == {"queued": 1}
    assert len(mails(smtp, "remind", "anna@cc.example")) == 1


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
