"""Who takes a call over (dialer.calls.recovery.sort, pure): the intent store says who placed it,
the channel listing whether it still exists. A live engine's calls are left to it."""

from __future__ import annotations

from dataclasses import replace

from dialer.calls.intents import Intent
from dialer.calls.lifecycle import CallRules
from dialer.calls.recovery import CHANNEL_GRACE_S, Decision, Seen, sort, stranded_action, unseen_end
from dialer.calls.resync import LiveCustomer, still_due
from dialer.compliance.caps import CallResult

NOW = 1000.0
DEADLINE_S = 90.0


def intent(call_id: str, owner: str, *, age: float = 60.0) -> Intent:
    return Intent(call_id, f"a-{call_id}", "+3611", "c1", "campaign", int((NOW - age) * 1000), owner, "L1")


def customer(call_id: str, *, answered: bool = True) -> LiveCustomer:
    return LiveCustomer(call_id, f"u-{call_id}", f"PJSIP/{call_id}", answered, False, False, answered)


def decide(
    orphans: list[LiveCustomer], records: dict[str, Intent | None], gone: list[Intent], *, leader: bool = True
) -> Decision:
    seen = Seen(records, gone, {"engine-live"})
    return sort(orphans, seen, owner="engine-me", now=NOW, deadline=lambda _: DEADLINE_S, leader=leader)


def ids(intents: tuple[Intent, ...]) -> list[str]:
    return [i.call_id for i in intents]


def test_a_customer_of_this_engines_previous_life_or_of_a_dead_engine_is_adopted() -> None:
    records: dict[str, Intent | None] = {
        "mine": intent("mine", "engine-me"), "dead": intent("dead", "engine-dead"),
        "live": intent("live", "engine-live"),
    }  # fmt: skip
    done = decide([customer(c) for c in records], records, [])
    assert ids(done.adopt) == ["mine", "dead"]
    assert done.waiting == 1, "a live engine follows its own customer"


def test_only_the_leader_takes_a_dead_engines_calls() -> None:
    records: dict[str, Intent | None] = {
        "mine": intent("mine", "engine-me"), "dead": intent("dead", "engine-dead"),
    }  # fmt: skip
    gone = [intent("g-dead", "engine-dead"), intent("g-mine", "engine-me")]
    done = decide([customer(c) for c in records], records, gone, leader=False)
    assert (ids(done.adopt), ids(done.settle)) == (["mine"], ["g-mine"])


def test_a_ringing_customer_is_adopted_from_its_intent_with_its_action_id() -> None:
    records: dict[str, Intent | None] = {"r": intent("r", "engine-dead")}
    (adopted,) = decide([customer("r", answered=False)], records, []).adopt
    assert adopted.action_id == "a-r"


def test_a_settled_call_and_a_ringing_leg_without_a_record_are_left_alone() -> None:
    done = decide([customer("settled"), customer("inbound", answered=False)], {"settled": None}, [])
    assert done == Decision()


def test_an_answered_customer_without_any_record_is_reported_unrecorded() -> None:
    done = decide([customer("lost")], {}, [])
    assert [c.call_id for c in done.unrecorded] == ["lost"]


def test_an_intent_with_no_channel_is_settled_by_whom_it_belongs_to() -> None:
    gone = [
        intent("mine", "engine-me", age=0.5),  # this engine's previous life: at once
        intent("dead-old", "engine-dead", age=CHANNEL_GRACE_S + 1),
        intent("dead-young", "engine-dead", age=CHANNEL_GRACE_S - 1),  # its channel may not exist yet
        intent("live", "engine-live", age=DEADLINE_S - 1),  # its engine follows it
        intent("live-overdue", "engine-live", age=DEADLINE_S + 1),  # its own timer would have settled it
    ]
    done = decide([], {}, gone)
    assert ids(done.settle) == ["mine", "dead-old", "live-overdue"]
    assert done.waiting == 2


def test_an_intent_with_no_channel_is_settled_by_what_its_dial_record_saw() -> None:
    """Bridged, or a Bridge sent by the desk (the customer may have talked): answered. Answered only
    (on hold or not, end unseen): an abandon in doubt past the grace since the answer, a no answer
    within it. Neither: unknown."""
    placed = intent("c1", "engine-me")
    answered = replace(placed, answered_ms=int((NOW - 10.0) * 1000))

    def settled(found: Intent, grace_s: float = 2.0) -> tuple[CallResult, bool, bool, bool]:
        settle = unseen_end(found, NOW, grace_s)
        return settle.result, settle.live, settle.abandoned, "in doubt" in settle.doubt

    assert settled(placed) == (CallResult.UNKNOWN, False, False, False)
    assert settled(answered) == (CallResult.ABANDONED, True, True, True)
    assert settled(answered, grace_s=15.0) == (CallResult.NO_ANSWER, False, False, False)
    connected = replace(answered, connected_ms=int((NOW - 8.0) * 1000))
    assert settled(connected) == (CallResult.ANSWERED, True, False, False)
    bridge_sent = replace(answered, bridge_ms=int((NOW - 7.0) * 1000))
    assert settled(bridge_sent) == (CallResult.ANSWERED, True, False, False), "the ACD's talk wins"


def test_a_bridge_asterisk_refused_connected_nobody_unless_a_later_one_went_out() -> None:
    """The desk's Bridge refused over a live link (the agent's leg vanished) and the customer gone
    unseen: nobody talked, so the answered customer's rule applies (an abandon in doubt past the
    grace, never `answered`); a Bridge sent after the refusal may have connected them again. A
    Bridge left in doubt is never marked refused (the ACD's talk wins, as above)."""
    answered = replace(intent("c1", "engine-me"), answered_ms=int((NOW - 10.0) * 1000))
    sent_ms = int((NOW - 7.0) * 1000)

    def settled(found: Intent, grace_s: float = 2.0) -> tuple[CallResult, bool, bool, bool]:
        settle = unseen_end(found, NOW, grace_s)
        return settle.result, settle.live, settle.abandoned, "in doubt" in settle.doubt

    refused = replace(answered, bridge_ms=sent_ms, bridge_refused_ms=sent_ms + 40)
    assert settled(refused) == (CallResult.ABANDONED, True, True, True), "one abandon, in doubt"
    assert settled(refused, grace_s=15.0) == (CallResult.NO_ANSWER, False, False, False)
    same_ms = replace(refused, bridge_refused_ms=sent_ms)  # refused within the millisecond it left
    assert settled(same_ms) == (CallResult.ABANDONED, True, True, True)
    again = replace(refused, bridge_ms=sent_ms + 3000)  # routed again: a second Bridge went out
    assert settled(again) == (CallResult.ANSWERED, True, False, False)
    seen_talking = replace(refused, connected_ms=sent_ms + 3000)
    assert settled(seen_talking) == (CallResult.ANSWERED, True, False, False), "seen bridged: a talk"
    never_answered = replace(refused, answered_ms=0)
    assert settled(never_answered) == (CallResult.UNKNOWN, False, False, False)


def test_each_shards_leader_takes_over_only_its_own_campaigns_calls() -> None:
    """A center split into ACD shards: the leader of shard `east` takes a dead engine's calls of
    its campaigns, never those of another shard's campaign (that shard's leader does), nor an
    answered customer without a record whose SWITCHBOARD_SHARD is another's."""
    east, west = intent("east", "engine-dead"), replace(intent("west", "engine-dead"), campaign_id="c2")
    records: dict[str, Intent | None] = {"east": east, "west": west}
    gone = [replace(east, call_id="g-east"), replace(west, call_id="g-west")]
    orphans = [customer("east"), customer("west"), customer("lost-east"), customer("lost-default")]
    orphans[2] = replace(orphans[2], shard="east")
    seen = Seen(records, gone, {"engine-live"})
    done = sort(
        orphans, seen, owner="engine-me", now=NOW, deadline=lambda _: DEADLINE_S,
        mine=lambda i: i.campaign_id == "c1", shard="east",
    )  # fmt: skip
    assert (ids(done.adopt), ids(done.settle)) == (["east"], ["g-east"])
    assert [c.call_id for c in done.unrecorded] == ["lost-east"]
    assert done.waiting == 2, "the other shard's calls are left to its leader"


def stranded_of(
    records: dict[str, Intent | None], settled: dict[str, tuple[Intent, str]], *, first: bool,
    leader: bool = True, orphans: list[LiveCustomer] | None = None,
) -> list[str]:  # fmt: skip
    seen = Seen(records, (), {"engine-live"}, settled)
    found = orphans if orphans is not None else [customer(c) for c in records]
    decided = sort(
        found, seen, owner="engine-me", now=NOW, deadline=lambda _: DEADLINE_S, leader=leader, first=first
    )
    return [s.intent.call_id for s in decided.stranded]


def test_a_customer_on_hold_whose_call_is_settled_abandoned_is_owed_its_message_once_by_one_engine() -> None:
    """The abandon Redirect never reached Asterisk: a restarted engine sends its previous life's at
    its first login only (later its own are in its memory), the leader a dead engine's; a live
    engine's are its own; nothing is adopted or settled again."""
    owners = {"mine": "engine-me", "dead": "engine-dead", "live": "engine-live"}
    records: dict[str, Intent | None] = dict.fromkeys(owners)
    settled = {c: (intent(c, owner), CallResult.ABANDONED.value) for c, owner in owners.items()}
    assert stranded_of(records, settled, first=True) == ["mine", "dead"]
    assert stranded_of(records, settled, first=False) == ["dead"]
    assert stranded_of(records, settled, first=True, leader=False) == ["mine"]
    seen = Seen(records, (), {"engine-live"}, settled)
    decided = sort([customer(c) for c in records], seen, owner="engine-me", now=NOW, deadline=lambda _: 90.0)
    assert (decided.adopt, decided.settle, decided.waiting) == ((), (), 0)


def test_only_a_customer_still_on_hold_after_an_abandon_or_a_machine_verdict_is_stranded() -> None:
    records: dict[str, Intent | None] = {"x": None}
    on_hold = customer("x")
    for result, expected in [
        (CallResult.ABANDONED, ["x"]), (CallResult.ANSWERING_MACHINE, ["x"]),
        (CallResult.ANSWERED, []), (CallResult.NO_ANSWER, []), (CallResult.UNKNOWN, []),
    ]:  # fmt: skip
        settled = {"x": (intent("x", "engine-dead"), result.value)}
        assert stranded_of(records, settled, first=True, orphans=[on_hold]) == expected, result
    settled = {"x": (intent("x", "engine-dead"), CallResult.ABANDONED.value)}
    moved_on = [
        replace(on_hold, bridged=True),
        replace(on_hold, detecting=True),
        replace(on_hold, answered=False),
    ]  # the message already playing (another context), in a bridge, or still in AMD
    for found in moved_on:
        assert stranded_of(records, settled, first=True, orphans=[found]) == [], found


def test_what_a_stranded_customer_is_owed_follows_the_campaigns_rules() -> None:
    rules = CallRules(machine="hangup", machine_target=("m-ctx", "m"), abandon_target=("a-ctx", "a"))
    assert stranded_action("abandoned", "PJSIP/x", rules) == (
        "Redirect", {"Channel": "PJSIP/x", "Context": "a-ctx", "Exten": "a", "Priority": 1},
    )  # fmt: skip
    assert stranded_action("answering_machine", "PJSIP/x", rules) == (
        "Hangup", {"Channel": "PJSIP/x", "Cause": 16},
    )  # fmt: skip
    message = replace(rules, machine="message")
    assert stranded_action("answering_machine", "PJSIP/x", message)[1]["Context"] == "m-ctx"


def test_an_unconfirmed_effect_is_due_only_while_the_customer_waits_on_that_channel() -> None:
    live = {"x": customer("x")}
    assert still_due("x", "PJSIP/x", live)
    assert not still_due("x", "PJSIP/other", live)
    assert not still_due("y", "PJSIP/y", live), "gone"
    assert not still_due("x", "PJSIP/x", {"x": replace(customer("x"), answered=False)}), "executed"
    assert not still_due("x", "PJSIP/x", {"x": replace(customer("x"), bridged=True)})
