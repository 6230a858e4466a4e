"""A tiny dialplan interpreter running the Switchboard contexts as Asterisk would.

The built-in contexts are the ones config/asterisk/extensions_switchboard.conf
ships (holding context for inbound, agent legs, outbound answer with AMD,
abandon message); `SimConfig.extra_dialplan` adds more, and `SimConfig.dialplan_conf`
adds the contexts of an extensions.conf text (labels, `$[...]` expressions: conf.py), e.g.
the IVR menus `switchboard asterisk-dialplan` writes. Each priority emits
Newexten, then the application's own events; Wait, MusicOnHold, AMD and
Playback block on a clock timer, so a Bridge or Redirect can pull the channel
out (`PbxCore.interrupt`). Extension patterns follow Asterisk (`_X.`, `_[+0-9].`,
`N`, `Z`, `!`). `${VAR}`, `${UNIQUEID}`, `${CHANNEL}`, `${EXTEN}`, `${CONTEXT}`,
`${CALLERID(num)}`, `${CHANNEL(context)}`-style reads and `${STRFTIME(epoch,zone,format)}`
(with Asterisk's `%[n]q`, fractions of a second) are substituted.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pbx.sim.apps import APPLICATIONS, unknown_application
from pbx.sim.channels import UNKNOWN, Channel
from pbx.sim.conf import parse_conf, substitute_expressions

if TYPE_CHECKING:
    from pbx.sim.core import PbxCore

Step = tuple[str, str]

SWITCHBOARD_DIALPLAN: dict[str, tuple[str, tuple[str, ...]]] = {
    "switchboard-inbound": (
        "_[+0-9].",
        (
            "NoOp(Switchboard: inbound call from ${CALLERID(num)} to ${EXTEN})",
            "Set(SWITCHBOARD_CALL_ID=${UNIQUEID})",
            "Set(SWITCHBOARD_ARRIVED=${STRFTIME(,,%s.%3q)})",
            "Set(SWITCHBOARD_DIALLED=${EXTEN})",
            "Answer()",
            "UserEvent(SwitchboardInbound,CallID: ${SWITCHBOARD_CALL_ID},CallerIDNum: ${CALLERID(num)},"
            "Dialled: ${EXTEN},IvrChoice: ${SWITCHBOARD_IVR},Queue: ${SWITCHBOARD_QUEUE},"
            "Shard: ${SWITCHBOARD_SHARD})",
            "StartMusicOnHold(default)",
            "Wait(86400)",
            "Hangup()",
        ),
    ),
    "switchboard-agent": (
        "s",
        (
            "Set(CHANNEL(dtmf_features)=T)",
            "NoOp(Switchboard: agent ${SWITCHBOARD_AGENT_ID} answered call ${SWITCHBOARD_CALL_ID})",
            "UserEvent(SwitchboardAgentAnswered,CallID: ${SWITCHBOARD_CALL_ID},"
            "AgentID: ${SWITCHBOARD_AGENT_ID},Channel: ${CHANNEL})",
            "Wait(30)",
            "Hangup()",
        ),
    ),
    "switchboard-outbound": (
        "s",
        (
            "NoOp(Switchboard: outbound call ${SWITCHBOARD_CALL_ID} answered)",
            "AMD()",
            "UserEvent(SwitchboardOutboundAnswered,CallID: ${SWITCHBOARD_CALL_ID},AMDStatus: ${AMDSTATUS})",
            "StartMusicOnHold(default)",
            "Wait(86400)",
            "Hangup()",
        ),
    ),
    "switchboard-exit": (
        "_[a-z].",
        (
            "NoOp(Switchboard: caller ${SWITCHBOARD_CALL_ID} leaves the queue to ${EXTEN})",
            "Playback(switchboard-${EXTEN})",
            "Hangup(16)",
        ),
    ),
    "switchboard-transfer": (
        "_[a-z0-9+].",
        (
            "NoOp(Switchboard: ${SWITCHBOARD_CALL_ID} transferred to ${EXTEN})",
            "StartMusicOnHold(default)",
            "Wait(86400)",
            "Hangup()",
        ),
    ),
    "switchboard-abandon": (
        "s",
        (
            "NoOp(Switchboard: abandoned call ${SWITCHBOARD_CALL_ID})",
            "Playback(switchboard-abandon-message)",
            "Hangup(16)",
        ),
    ),
}

NOTICE_DIALPLAN = """\
[switchboard-notice]
exten => recording,1,NoOp(Switchboard: outage ${SWITCHBOARD_OUTAGE} announced to ${SWITCHBOARD_CALL_ID})
 same => n,StopMusicOnHold()
 same => n,Playback(${SWITCHBOARD_NOTICE})
 same => n,Goto(switchboard-notice,after,1)
exten => text,1,NoOp(Switchboard: outage ${SWITCHBOARD_OUTAGE} read out to ${SWITCHBOARD_CALL_ID})
 same => n,StopMusicOnHold()
 same => n,TryExec(Festival(${SWITCHBOARD_NOTICE_TEXT}))
 same => n,GotoIf($["${TRYSTATUS}" = "SUCCESS"]?switchboard-notice,after,1)
 same => n,UserEvent(SwitchboardNoticeUnheard,CallID: ${SWITCHBOARD_CALL_ID},Outage: ${SWITCHBOARD_OUTAGE},Status: ${TRYSTATUS})
 same => n,Goto(switchboard-inbound,${SWITCHBOARD_DIALLED},1)
exten => after,1,NoOp(Switchboard: ${SWITCHBOARD_CALL_ID} may hang up now, or hold for an agent)
 same => n,Wait(${SWITCHBOARD_NOTICE_LEAVE})
 same => n,Goto(switchboard-inbound,${SWITCHBOARD_DIALLED},1)
"""  # noqa: E501 - the shipped text, line for line
"""The outage notice context, as extensions_switchboard.conf ships it (a test compares the two)."""

_VARIABLE = re.compile(r"\$\{([^${}]+)\}")
_STEP = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_]*)\s*(?:\((.*)\))?\s*$", re.DOTALL)
_PATTERN_CLASS = {"X": "[0-9]", "Z": "[1-9]", "N": "[2-9]", ".": ".+", "!": ".*"}


def parse_step(text: str) -> Step:
    """`App(data)` -> ("App", "data")."""
    match = _STEP.match(text)
    if match is None:
        raise ValueError(f"not a dialplan step 'App(data)': {text!r}")
    return match.group(1), match.group(2) or ""


def exten_pattern(pattern: str) -> re.Pattern[str]:
    """An Asterisk extension (literal, or `_` pattern) as a compiled regex."""
    if not pattern.startswith("_"):
        return re.compile(re.escape(pattern) + r"\Z", re.IGNORECASE)
    parts: list[str] = []
    body = pattern[1:]
    index = 0
    while index < len(body):
        char = body[index]
        if char == "[":
            end = body.index("]", index)
            parts.append("[" + body[index + 1 : end].replace("\\", "\\\\") + "]")
            index = end + 1
            continue
        parts.append(_PATTERN_CLASS.get(char.upper(), re.escape(char)))
        index += 1
    return re.compile("".join(parts) + r"\Z")


_BUILTINS: dict[str, Callable[[Channel], str]] = {
    "UNIQUEID": lambda c: c.uniqueid,
    "CHANNEL": lambda c: c.name,
    "CHANNEL(NAME)": lambda c: c.name,
    "EXTEN": lambda c: c.exten,
    "CONTEXT": lambda c: c.context,
    "PRIORITY": lambda c: str(c.priority),
    "CHANNEL(CONTEXT)": lambda c: c.context,
    "CHANNEL(EXTEN)": lambda c: c.exten,
    "CHANNEL(PRIORITY)": lambda c: str(c.priority),
    "CHANNEL(UNIQUEID)": lambda c: c.uniqueid,
    "CHANNEL(LINKEDID)": lambda c: c.linkedid,
    "CHANNEL(STATE)": lambda c: c.state_desc,
    "CALLERID(NUM)": lambda c: "" if c.caller_num == UNKNOWN else c.caller_num,
    "CALLERID(NAME)": lambda c: "" if c.caller_name == UNKNOWN else c.caller_name,
}


_FRACTION = re.compile(r"%([1-6]?)q")


def strftime(arguments: str, now: float) -> str:
    """`STRFTIME(epoch,timezone,format)`: an empty epoch is now; `%[n]q` is n digits (default 3) of
    the second's fraction, truncated as Asterisk does; an unknown zone is UTC."""
    epoch_text, _, rest = arguments.partition(",")
    zone, _, layout = rest.partition(",")
    try:
        epoch = float(epoch_text) if epoch_text.strip() else now
    except ValueError:
        epoch = now
    whole = int(epoch)

    def fraction(match: re.Match[str]) -> str:
        digits = int(match.group(1) or 3)
        return f"{int((epoch - whole) * 10**digits):0{digits}d}"

    layout = _FRACTION.sub(fraction, layout or "%c").replace("%s", str(whole))
    try:
        tz: tzinfo = ZoneInfo(zone.strip()) if zone.strip() else UTC
    except (ValueError, ZoneInfoNotFoundError):
        tz = UTC
    return datetime.fromtimestamp(whole, tz).strftime(layout)


def read_variable(
    channel: Channel | None, name: str, globals_: Mapping[str, str], now: float | None = None
) -> str:
    """What `${name}` (or Getvar) reads on `channel`, functions included (`now`: for STRFTIME)."""
    name = name.strip()
    if now is not None and name.upper().startswith("STRFTIME(") and name.endswith(")"):
        return strftime(name[9:-1], now)
    if channel is None:
        return globals_.get(name, "")
    reader = _BUILTINS.get(name.upper())
    if reader is not None:
        return reader(channel)
    if name in channel.variables:
        return channel.variables[name]
    return globals_.get(name, "")


class Dialplan:
    """Runs channels through contexts; one instance per simulated PBX."""

    def __init__(self, core: PbxCore) -> None:
        self.core = core
        self.contexts: dict[str, list[tuple[re.Pattern[str], list[Step], dict[str, int]]]] = {}
        for context, (pattern, steps) in SWITCHBOARD_DIALPLAN.items():
            self.add(context, pattern, steps)
        self.load_conf(NOTICE_DIALPLAN)
        for context, steps in core.config.extra_dialplan.items():
            self.add(context, "_!", steps)
        if core.config.dialplan_conf:
            self.load_conf(core.config.dialplan_conf)

    def add(
        self,
        context: str,
        pattern: str,
        steps: tuple[str, ...] | list[str],
        labels: Mapping[str, int] | None = None,
    ) -> None:
        entry = (exten_pattern(pattern), [parse_step(s) for s in steps], dict(labels or {}))
        self.contexts.setdefault(context, []).append(entry)

    def load_conf(self, text: str) -> None:
        """Add the contexts of an extensions.conf text; a context it names again is replaced."""
        parsed = parse_conf(text)
        for context in {name for name, _ in parsed}:
            self.contexts.pop(context, None)
        for context, extension in parsed:
            self.add(context, extension.pattern, extension.steps, extension.labels)

    def find(self, context: str, exten: str) -> list[Step] | None:
        for pattern, steps, _ in self.contexts.get(context, ()):
            if pattern.match(exten):
                return steps
        return None

    def label(self, context: str, exten: str, name: str) -> int | None:
        """The priority of label `name` in the extension `exten` of `context` runs, if any."""
        for pattern, _, labels in self.contexts.get(context, ()):
            if pattern.match(exten):
                return labels.get(name)
        return None

    def exists(self, context: str, exten: str, priority: int = 1) -> bool:
        steps = self.find(context, exten)
        return steps is not None and 1 <= priority <= len(steps)

    def substitute(self, channel: Channel, template: str) -> str:
        now = self.core.clock.now()
        text = _VARIABLE.sub(lambda m: read_variable(channel, m.group(1), self.core.globals, now), template)
        return substitute_expressions(text) if "$[" in text else text

    # -- running -----------------------------------------------------------
    def goto(self, channel: Channel, context: str, exten: str, priority: int = 1) -> None:
        channel.context, channel.exten, channel.priority = context, exten, priority
        channel.in_dialplan = True
        self._run(channel)

    def resume(self, channel: Channel) -> None:
        """Continue after a bridge: the next priority, or the end of an Application."""
        if channel.in_dialplan:
            channel.priority += 1
            self._run(channel)
        else:
            self.core.hangup(channel, self.core.end_cause(channel), "end")

    def run_application(self, channel: Channel, app: str, data: str) -> None:
        """An Originate's Application: run it, then the channel ends."""
        channel.in_dialplan = False
        channel.app, channel.app_data = app, data
        if APPLICATIONS.get(app.lower(), unknown_application)(self, channel, data):
            self.core.hangup(channel, self.core.end_cause(channel), "end")

    def _run(self, channel: Channel) -> None:
        for _ in range(1000):  # a Goto loop must not hang the simulator
            if channel.hungup or self.core.stopped:
                return
            steps = self.find(channel.context, channel.exten)
            if steps is None or not 1 <= channel.priority <= len(steps):
                self.core.hangup(channel, self.core.end_cause(channel), "end")
                return
            app, template = steps[channel.priority - 1]
            if not self.has_application(app):
                self._missing_application(channel)
                return
            data = self.substitute(channel, template)
            channel.app, channel.app_data = app, data
            self.core.emit(self.core.events.newexten(channel, app, data))
            if not APPLICATIONS.get(app.lower(), unknown_application)(self, channel, data):
                return
            channel.priority += 1
        self.core.hangup(channel, 0, "end")

    def has_application(self, app: str) -> bool:
        missing = {name.lower() for name in self.core.config.missing_applications}
        return app.lower() in APPLICATIONS and app.lower() not in missing

    def _missing_application(self, channel: Channel) -> None:
        """Asterisk 22: no Newexten; the soft hangup still shows the last priority that ran, the
        Hangup (cause 0) the missing one."""
        at = channel.priority
        channel.priority = max(1, at - 1)
        self.core.emit(self.core.events.soft_hangup_request(channel, 16))
        channel.priority = at
        self.core.hangup(channel, 0, "end")

    def block(self, channel: Channel, seconds: float | None, then: Callable[[], None] | None = None) -> bool:
        """Block the channel `seconds` (None: until interrupted); `then` runs before continuing."""
        if seconds is not None:
            channel.pending = self.core.later(seconds, lambda: self._continue(channel, then))
        return False

    def _continue(self, channel: Channel, then: Callable[[], None] | None) -> None:
        channel.pending = None
        channel.app_hungup = None
        done, channel.app_done = channel.app_done, None
        if channel.hungup:
            return
        self.core.stop_moh(channel)
        if then is not None:
            then()
        if done is not None:
            done()
        self.resume(channel)
