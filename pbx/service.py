"""The seam between the engine's run loop and the features that react to calls.

The engine (switchboard) owns one AMI client and one call tracker; features
(the ACD in routing, the dialer) are `PbxService`s. Each AMI event is applied to
the tracker first, then handed with the resulting changes to every service, in
order and one at a time, so a service sees a consistent picture. Services act
on Asterisk only through an `ActionSender`, which the AMI client implements and
tests may replace with anything that speaks AMI to the simulated PBX.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping, Sequence
from typing import Protocol

from pbx.call_changes import CallChange
from pbx.codec import ActionResult, Event, FieldValue
from pbx.tracker import CallTracker


class ActionSender(Protocol):
    """What a service may ask of Asterisk (implemented by pbx.client.AmiClient)."""

    @property
    def ready(self) -> bool: ...

    async def send(
        self,
        name: str,
        fields: Mapping[str, FieldValue] | None = None,
        *,
        timeout: float | None = None,
        check: bool = False,
    ) -> ActionResult: ...

    async def submit(
        self,
        action: str,
        fields: Mapping[str, FieldValue] | None = None,
        *,
        timeout: float | None = None,
        action_id: str | None = None,
    ) -> Awaitable[ActionResult]:
        """Send now; the answer is awaited apart (AmiClient.submit)."""
        ...

    async def originate(
        self,
        *,
        channel: str,
        variables: Mapping[str, str] | None = None,
        context: str | None = None,
        exten: str | None = None,
        priority: int = 1,
        application: str | None = None,
        data: str | None = None,
        caller_id: str | None = None,
        timeout_ms: int = 30000,
        action_id: str | None = None,
        timeout: float | None = None,
    ) -> ActionResult: ...


class PbxService(Protocol):
    """A feature driven by call events and a clock."""

    name: str

    async def handle(self, event: Event, changes: Sequence[CallChange]) -> None:
        """React to one AMI event after the tracker applied it."""

    async def resync(self, tracker: CallTracker) -> None:
        """After every (re)login: reconcile the service's records with the live channels."""

    async def tick(self, now: float) -> None:
        """Timers (ring timeouts, wrap-up ends, escalation steps); `now` is epoch seconds."""
