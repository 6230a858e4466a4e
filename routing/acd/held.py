"""Who Asterisk holds for the ACD, read from a CoreShowChannels listing. Pure: no I/O.

A caller who arrived while the engine was stopped, or while its AMI link was
down, announced itself with a `SwitchboardInbound` UserEvent nobody heard; Asterisk
still holds them in the holding context. After every (re)login the engine lists
the live channels and adopts them (routing/acd/adoption.py). What identifies them
comes from the channel variables the shipped dialplan sets and manager.conf's
`channelvars` copies into every CoreShowChannel (config/asterisk/*.conf).

Rules it keeps:
- A held caller: Context is the holding context, `SWITCHBOARD_CALL_ID` is set,
  the application is the hold itself (Wait / MusicOnHold: the UserEvent is
  behind it) and the channel is in no bridge. A caller still ahead of its
  UserEvent is left to it.
- Arrival: `SWITCHBOARD_ARRIVED` (epoch with milliseconds, set by the dialplan
  on arrival) when it agrees with the channel's age (`Duration`, whole seconds)
  within ARRIVAL_SLACK_S, so a skewed Asterisk clock cannot reorder the queue;
  else now - Duration. Callers whose arrival comes out equal keep Asterisk's
  creation order (the Uniqueid sequence).
- An absent ChanVariable is not an empty one: `missing` names the variables
  the listing lacked (a manager.conf without them), to be asked with Getvar;
  a variable Getvar did not answer stays missing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from pbx.codec import Event
from pbx.switchboard_events import SHARD_VARIABLE

CALL_ID, DIALLED, IVR = "SWITCHBOARD_CALL_ID", "SWITCHBOARD_DIALLED", "SWITCHBOARD_IVR"
QUEUE, ARRIVED, SHARD = "SWITCHBOARD_QUEUE", "SWITCHBOARD_ARRIVED", SHARD_VARIABLE
DESCRIBING = (DIALLED, IVR, QUEUE, ARRIVED, SHARD)
"""What the dialplan tells about a caller, besides its call id."""
HOLDING_APPS = frozenset({"wait", "musiconhold", "startmusiconhold"})
ARRIVAL_SLACK_S = 2.0
"""Duration is truncated to the second; a bit more absorbs the time the listing took."""
_TIE_STEP_S = 0.001


@dataclass(frozen=True, slots=True)
class HeldCaller:
    """A caller in the holding context, as the dialplan described them."""

    call_id: str
    uniqueid: str
    channel: str
    caller: str = ""
    dialled: str = ""
    ivr: str = ""
    queue: str = ""
    shard: str = ""
    """The ACD shard that takes the caller (SWITCHBOARD_SHARD; '' the default one)."""
    arrived_at: float = 0.0
    age_s: float = 0.0
    """The channel's Duration when listed."""
    missing: tuple[str, ...] = ()
    """Variables the listing did not carry (not in channelvars): ask Asterisk."""

    @property
    def shard_known(self) -> bool:
        """Whether the caller's shard is known (listed, or answered by Getvar): a caller whose
        shard is unknown is nobody's to adopt (an engine guessing the default would take another
        shard's caller, and two ACDs would route it)."""
        return SHARD not in self.missing

    def described(self, values: Mapping[str, str], now: float) -> HeldCaller:
        """With the variables Getvar found for `missing` filled in; those it did not answer stay
        missing (an unanswered SWITCHBOARD_SHARD is not the default shard)."""
        dialled = values.get(DIALLED, self.dialled) or self.dialled
        found = replace(
            self,
            dialled=dialled,
            ivr=values.get(IVR, self.ivr),
            queue=values.get(QUEUE, self.queue),
            shard=values.get(SHARD, self.shard).strip(),
            missing=tuple(name for name in self.missing if name not in values),
        )
        if ARRIVED in values:
            return replace(found, arrived_at=arrival(values[ARRIVED], now, self.age_s))
        return found


def parse_duration(text: str | None) -> float:
    """`HH:MM:SS` (hours may exceed 99) in seconds; 0 for anything else."""
    parts = (text or "").strip().split(":")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return 0.0
    hours, minutes, seconds = (int(p) for p in parts)
    return float(hours * 3600 + minutes * 60 + seconds)


def arrival(arrived: str, now: float, duration_s: float) -> float:
    """The dialplan's arrival stamp if it is plausible, else the channel's age from `now`."""
    by_age = now - duration_s
    try:
        stamped = float(arrived)
    except ValueError:
        return by_age
    if abs(stamped - by_age) <= ARRIVAL_SLACK_S:
        return min(stamped, now)
    return by_age


def _caller_id(value: str | None) -> str:
    return "" if value in (None, "<unknown>") else str(value)


def held_caller(event: Event, holding_context: str, now: float) -> HeldCaller | None:
    """The caller this CoreShowChannel shows waiting in `holding_context`, or None."""
    if event.get("Context") != holding_context or event.get("BridgeId"):
        return None
    if (event.get("Application") or "").lower() not in HOLDING_APPS:
        return None
    variables = event.chan_variables()
    call_id, uniqueid = variables.get(CALL_ID, ""), event.get("Uniqueid") or ""
    if not call_id or not uniqueid:
        return None
    duration = parse_duration(event.get("Duration"))
    return HeldCaller(
        call_id=call_id,
        uniqueid=uniqueid,
        channel=event.get("Channel") or "",
        caller=_caller_id(event.get("CallerIDNum")),
        dialled=variables.get(DIALLED) or event.get("Exten") or "",
        ivr=variables.get(IVR, ""),
        queue=variables.get(QUEUE, ""),
        shard=variables.get(SHARD, "").strip(),
        arrived_at=arrival(variables.get(ARRIVED, ""), now, duration),
        age_s=duration,
        missing=tuple(name for name in DESCRIBING if name not in variables),
    )


def _creation_order(uniqueid: str) -> tuple[float, int]:
    """`1795333707.28` -> (1795333707, 28); a `systemname-` prefix is ignored."""
    epoch, _, seq = uniqueid.rpartition("-")[2].partition(".")
    try:
        return float(epoch), int(seq)
    except ValueError:
        return float("inf"), 0


def held_callers(listing: Iterable[Event], holding_context: str, now: float) -> list[HeldCaller]:
    """Every held caller of a CoreShowChannels listing, in arrival order (ties: creation order)."""
    found = [c for event in listing if (c := held_caller(event, holding_context, now)) is not None]
    found.sort(key=lambda c: (c.arrived_at, _creation_order(c.uniqueid)))
    return spread_ties(found)


def spread_ties(callers: list[HeldCaller]) -> list[HeldCaller]:
    """Equal arrival times (whole-second ages) a millisecond apart, in the given order, so the
    queue's tie-break (the call id, a string) cannot reorder them."""
    spread: list[HeldCaller] = []
    for caller in callers:
        tied = spread and caller.arrived_at <= spread[-1].arrived_at
        spread.append(replace(caller, arrived_at=spread[-1].arrived_at + _TIE_STEP_S) if tied else caller)
    return spread
