"""`SimulatedPbx`: the public face of the simulated Asterisk, for demos and tests.

It speaks AMI over real TCP (see server/session/actions), records every action
it receives, and lets a test steer and observe it without sleeping: await an
action, an event or a channel condition; make the next action of a name go
unanswered, close the socket or answer garbage, or meet the channel it names
hung up by its phone a moment before; cut every connection; place
inbound calls one by one or from the traffic generator. The test double is
product code: the demo runs the engine against it too.
"""

from __future__ import annotations

import random
from collections import defaultdict, deque
from collections.abc import Callable, Mapping, Sequence

from pbx.codec import Action, Event, encode_message
from pbx.sim.channels import Channel
from pbx.sim.clock import Clock, ScaledClock
from pbx.sim.config import SimConfig, TrafficConfig
from pbx.sim.core import CallRecord, PbxCore
from pbx.sim.endpoints import dialled_number
from pbx.sim.events import Headers
from pbx.sim.inbound import INBOUND_CONTEXT, place_inbound
from pbx.sim.originate import Originator
from pbx.sim.server import AmiServer
from pbx.sim.session import FailMode, Failure
from pbx.sim.traffic import TrafficGenerator
from pbx.sim.waiters import Waiters

ChannelView = Mapping[str, Channel]


def _event(headers: Headers) -> Event:
    return Event("\r\n".join(f"{key}: {value}" for key, value in headers), headers[0][1])


def _categories(headers: Headers) -> frozenset[str]:
    privilege = next((value for key, value in headers if key == "Privilege"), "")
    return frozenset(part.strip().lower() for part in privilege.split(",") if part.strip())


class SimulatedPbx:
    """A simulated Asterisk 22 on a TCP port. `await start()`, then point an AMI client at it."""

    def __init__(
        self, config: SimConfig | None = None, *, seed: int | None = None, clock: Clock | None = None
    ) -> None:
        self.config = config or SimConfig()
        self.clock = clock or ScaledClock(self.config.time_scale, self.config.start_time)
        self.rng = random.Random(seed)
        self._core = PbxCore(self.config, self.clock, self.rng, self._on_event)
        self._originator = Originator(self._core)
        self._server = AmiServer(self, self.config.banner_version)
        self.actions: list[Action] = []
        """Every action received, from all connections, in arrival order."""
        self._events: deque[tuple[int, Event]] = deque(maxlen=self.config.event_history or None)
        self.event_count = 0
        self._action_waiters: Waiters[tuple[int, Action]] = Waiters()
        self._event_waiters: Waiters[tuple[int, Event]] = Waiters()
        self._channel_waiters: Waiters[ChannelView] = Waiters()
        self._failures: defaultdict[str, deque[Failure]] = defaultdict(deque)
        self._late: dict[str, float] = {}
        self._refusing = False
        self._traffic: TrafficGenerator | None = None

    # -- SessionHost ---------------------------------------------------------
    @property
    def core(self) -> PbxCore:
        return self._core

    @property
    def originator(self) -> Originator:
        return self._originator

    def record_action(self, action: Action) -> None:
        self.actions.append(action)
        self._action_waiters.offer((len(self.actions) - 1, action))

    def take_failure(self, name: str) -> Failure | None:
        if self._refusing and name.lower() in ("login", "challenge"):
            return Failure("close")
        queue = self._failures.get(name.lower())
        return queue.popleft() if queue else None

    def answer_delay(self, name: str) -> float:
        return self._late.get(name.lower(), 0.0)

    # -- lifecycle -------------------------------------------------------------
    @property
    def port(self) -> int:
        return self._server.port

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen; returns the bound port (also `self.port`)."""
        return await self._server.start(host, port)

    async def stop(self) -> None:
        self.stop_traffic()
        self._core.shutdown()
        await self._server.stop()

    # -- events ------------------------------------------------------------------
    def _on_event(self, headers: Headers) -> None:
        self._server.broadcast(encode_message(headers), _categories(headers))
        self.event_count += 1
        if self.config.event_history or self._event_waiters:
            item = (self.event_count - 1, _event(headers))
            if self.config.event_history:
                self._events.append(item)
            self._event_waiters.offer(item)
        if self._channel_waiters:
            self._channel_waiters.offer(self._core.channels.snapshot())

    @property
    def events(self) -> list[Event]:
        """The most recent events emitted (SimConfig.event_history of them), oldest first."""
        return [event for _, event in self._events]

    # -- observing -----------------------------------------------------------------
    @property
    def channels(self) -> dict[str, Channel]:
        """Live channels by name, in creation order (a snapshot)."""
        return self._core.channels.snapshot()

    @property
    def call_log(self) -> list[CallRecord]:
        """Every simulated party's call: role, number, tier, answered / bridged / ended times."""
        return list(self._core.call_log)

    def originated_numbers(self) -> list[str]:
        """Numbers / extensions of every Originate received, in order (dial string parsed)."""
        found = []
        for action in self.actions:
            if action.name.lower() == "originate":
                channel = next((v for k, v in action.headers if k.lower() == "channel"), "")
                found.append(dialled_number(channel))
        return found

    async def wait_for_action(
        self,
        name: str,
        predicate: Callable[[Action], bool] | None = None,
        timeout: float = 5.0,
        *,
        since: int = 0,
    ) -> Action:
        """The first action called `name` (case-insensitive) from index `since` on, waiting if needed."""

        def matches(item: tuple[int, Action]) -> bool:
            index, action = item
            if index < since or action.name.lower() != name.lower():
                return False
            return predicate is None or predicate(action)

        for item in enumerate(self.actions):
            if matches(item):
                return item[1]
        return (await self._action_waiters.wait(matches, timeout, f"action {name}"))[1]

    async def wait_for_event(
        self,
        name: str,
        predicate: Callable[[Event], bool] | None = None,
        timeout: float = 5.0,
        *,
        since: int = 0,
    ) -> Event:
        """The first event `name` numbered `since` or later (see `event_count`), waiting if needed."""

        def matches(item: tuple[int, Event]) -> bool:
            index, event = item
            if index < since or event.name != name:
                return False
            return predicate is None or predicate(event)

        for item in self._events:
            if matches(item):
                return item[1]
        return (await self._event_waiters.wait(matches, timeout, f"event {name}"))[1]

    async def wait_for_channels(
        self,
        predicate: Callable[[ChannelView], bool],
        timeout: float = 5.0,
    ) -> dict[str, Channel]:
        """Wait until `predicate(channels)` holds; returns the channels then."""
        current = self._core.channels.snapshot()
        if predicate(current):
            return current
        return dict(await self._channel_waiters.wait(predicate, timeout, "channel condition"))

    async def wait_for_channel_count(self, count: int, timeout: float = 5.0) -> dict[str, Channel]:
        return await self.wait_for_channels(lambda channels: len(channels) == count, timeout)

    # -- steering --------------------------------------------------------------------
    def fail_next(self, action: str, mode: FailMode = "silence", *, execute: bool = False) -> None:
        """The next `action` gets no answer / a closed socket / garbage; `execute` still runs it."""
        if mode not in ("silence", "close", "garbage"):
            raise ValueError(f"unknown failure mode {mode!r}")
        self._failures[action.lower()].append(Failure(mode, execute))

    def vanish_before(self, action: str, header: str = "Channel2") -> None:
        """Before the next `action` runs, the person on the channel its `header` names hangs up (the
        phone's BYE, with its events): the action then finds the channel gone and is answered as
        Asterisk answers then (a Bridge: `Response: Error`, `Channel2 does not exist: <name>`)."""
        self._failures[action.lower()].append(Failure("vanish", header=header))

    def answer_late(self, action: str, seconds: float) -> None:
        """Every `action` takes effect at once but its Response is written `seconds` (real time)
        later (a slow Asterisk); events it causes are not held. 0 stops it."""
        self._late[action.lower()] = seconds

    def refuse_logins(self, refuse: bool = True) -> None:
        """While set, every Challenge and Login is answered by closing the socket: the link stays
        down (clients keep retrying) while calls go on; `refuse_logins(False)` lets them back."""
        self._refusing = refuse

    async def drop_connections(self) -> None:
        """Close every client socket (network cut / PBX restart); keep listening."""
        await self._server.drop_connections()

    def stall_connections(self) -> None:
        """Hang every open client connection: no byte read or sent, socket open (new ones work)."""
        self._server.stall_connections()

    async def send_raw(self, data: bytes) -> None:
        """Write raw bytes to every connected client, logged in or not."""
        self._server.send_raw(data)

    async def inbound_call(  # noqa: PLR0917 - the agreed public signature
        self,
        caller: str = "+36301234567",
        dialled: str = "+3612345678",
        ivr_choice: str | None = None,
        tier_hint: str | None = None,
        patience_s: float | None = None,
        talk_s: float | None = None,
        *,
        queue: str | None = None,
        context: str = INBOUND_CONTEXT,
        keys: Sequence[str] = (),
        shard: str | None = None,
    ) -> str:
        """One call into the holding context now (`queue`: SWITCHBOARD_QUEUE, as the DID's context
        sets it; `context`: another entry, e.g. `switchboard-ivr`; `keys`: what the caller presses
        at each Read(), "" for nothing; `shard`: SWITCHBOARD_SHARD); returns the caller's channel name."""
        channel = place_inbound(
            self._core,
            caller,
            dialled,
            ivr_choice=ivr_choice,
            queue=queue,
            tier_hint=tier_hint,
            patience_s=patience_s,
            talk_s=talk_s,
            context=context,
            keys=keys,
            shard=shard,
        )
        return channel.name

    def start_traffic(self, config: TrafficConfig | None = None) -> TrafficGenerator:
        """Start the inbound generator (SimConfig.traffic unless given); returns it."""
        self.stop_traffic()
        self._traffic = TrafficGenerator(self._core, config or self.config.traffic)
        self._traffic.start()
        return self._traffic

    def stop_traffic(self) -> None:
        if self._traffic is not None:
            self._traffic.stop()
            self._traffic = None
