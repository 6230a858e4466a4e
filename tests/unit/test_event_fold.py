"""Which stream events ride with the commit before them (routing/acd/inbound_effects.folded): only
those the commit's change describes, with nothing that talks to Asterisk between."""

from __future__ import annotations

from routing.acd import call_events as ev
from routing.acd.inbound_effects import folded


def test_an_event_rides_with_the_commit_before_it_unless_io_comes_between() -> None:
    call = object()
    talks, publish = ev.AgentTalks("a1", call), ev.Publish("handover", "a1", {})  # type: ignore[arg-type]
    note, hangup = ev.Note("n"), ev.HangUp("SIP/a1-1")
    assert folded((talks, note, publish)) == {0: [2]}
    assert folded((talks, publish, publish)) == {0: [1, 2]}
    assert folded((talks, hangup, publish)) == {}, "an AMI action between: published on its own"
    assert folded((publish, talks)) == {}, "an event before the commit is not the commit's"
