"""Dialplan applications the simulator understands, each as Asterisk runs it.

An application returns True when the channel goes straight on to the next
priority, False when it blocks (Wait, MusicOnHold, AMD, Playback: a clock
timer continues it) or ended the channel (Hangup). Unknown applications hang
the channel up, as Asterisk does when an application is missing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from pbx.sim.channels import Channel

if TYPE_CHECKING:
    from pbx.sim.dialplan import Dialplan

App = Callable[["Dialplan", Channel, str], bool]
DTMF_DURATION_MS = 100  # Asterisk's default DTMF length (SendDTMF, most phones)


def _seconds(text: str) -> float | None:
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if value > 0 else None


def _noop(dialplan: Dialplan, channel: Channel, data: str) -> bool:
    return True


def _set(dialplan: Dialplan, channel: Channel, data: str) -> bool:
    name, _, value = data.partition("=")
    name = name.strip()
    if name.upper() == "CHANNEL(DTMF_FEATURES)":  # a function write: no VarSet, as in Asterisk
        channel.dtmf_features = value.strip()
    elif name:
        dialplan.core.set_var(channel, name, value)
    return True


def _answer(dialplan: Dialplan, channel: Channel, data: str) -> bool:
    dialplan.core.answer(channel)
    return True


def _user_event(dialplan: Dialplan, channel: Channel, data: str) -> bool:
    name, *items = data.split(",")
    body = []
    for item in items:
        key, _, value = item.partition(":")
        if key.strip():
            body.append((key.strip(), value.strip()))
    dialplan.core.emit(dialplan.core.events.user_event(channel, name.strip(), body))
    return True


def _music_on_hold(dialplan: Dialplan, channel: Channel, data: str) -> bool:
    moh_class, _, duration = data.partition(",")
    channel.moh_class = moh_class.strip() or "default"
    dialplan.core.emit(dialplan.core.events.moh_start(channel, channel.moh_class))
    return dialplan.block(channel, _seconds(duration))


def _start_music_on_hold(dialplan: Dialplan, channel: Channel, data: str) -> bool:
    """StartMusicOnHold(class): music plays on through the next applications (e.g. Wait)."""
    channel.moh_class = data.strip() or "default"
    dialplan.core.emit(dialplan.core.events.moh_start(channel, channel.moh_class))
    return True


def _stop_music_on_hold(dialplan: Dialplan, channel: Channel, data: str) -> bool:
    dialplan.core.stop_moh(channel)
    return True


def _wait(dialplan: Dialplan, channel: Channel, data: str) -> bool:
    return dialplan.block(channel, _seconds(data) or 0.0)


def _until_interrupted(dialplan: Dialplan, channel: Channel, data: str) -> bool:
    return dialplan.block(channel, None)


def _playback(dialplan: Dialplan, channel: Channel, data: str) -> bool:
    """Playback(file): plays for `playback_s`, then PLAYBACKSTATUS=SUCCESS. Asterisk 22 reports
    SUCCESS also to a caller who hung up during it (between HangupRequest and Hangup)."""
    core = dialplan.core

    def played() -> None:
        core.set_var(channel, "PLAYBACKSTATUS", "SUCCESS")

    channel.app_hungup = played
    return dialplan.block(channel, core.config.playback_s, played)


def _festival(dialplan: Dialplan, channel: Channel, data: str) -> bool:
    return dialplan.block(channel, dialplan.core.config.playback_s)  # as long as a recording


def _amd(dialplan: Dialplan, channel: Channel, data: str) -> bool:
    """AMD(): listens a while, then sets AMDSTATUS / AMDCAUSE from the far end."""
    core = dialplan.core
    far = core.endpoint_channel(channel)
    status = far.endpoint.amd_status if far is not None and far.endpoint is not None else "HUMAN"
    cause = "HUMAN-800-1200" if status == "HUMAN" else "LONGGREETING-1500-1500"

    def decided() -> None:
        core.set_var(channel, "AMDSTATUS", status)
        core.set_var(channel, "AMDCAUSE", cause)

    return dialplan.block(channel, core.endpoints.draw(core.config.amd_s), decided)


def _hangup(dialplan: Dialplan, channel: Channel, data: str) -> bool:
    cause = int(data) if data.strip().isdigit() else 16
    dialplan.core.hangup(channel, cause, "soft")
    return False


def _goto(dialplan: Dialplan, channel: Channel, data: str) -> bool:
    """Goto([[context,]exten,]priority); the priority may be a label of the target extension;
    the runner then steps to it. An unknown label fails the Goto: Asterisk hangs the channel up."""
    parts = [part.strip() for part in data.split(",")]
    if len(parts) == 3:
        channel.context = parts[0]
    if len(parts) >= 2:
        channel.exten = parts[-2]
    target = parts[-1]
    priority = int(target) if target.isdigit() else dialplan.label(channel.context, channel.exten, target)
    if priority is None:
        dialplan.core.hangup(channel, 0, "end")
        return False
    channel.priority = priority - 1
    return True


def _goto_if(dialplan: Dialplan, channel: Channel, data: str) -> bool:
    """GotoIf(condition?[label_if_true][:label_if_false]): the condition is already evaluated."""
    condition, _, targets = data.partition("?")
    when_true, _, when_false = targets.partition(":")
    target = when_true if condition.strip() not in ("", "0") else when_false
    return _goto(dialplan, channel, target) if target.strip() else True


def _read(dialplan: Dialplan, channel: Channel, data: str) -> bool:
    """Read(variable,prompt,maxdigits,options,attempts,timeout): plays the prompt and takes the key
    the caller presses next (their `keys`, in order; "" or none left: nothing pressed). A key comes
    `dtmf_s` after the start, cutting the prompt short, with DTMFBegin/DTMFEnd; no key: the prompt
    plays to its end, the timeout runs out and the variable is empty (READSTATUS=TIMEOUT).
    As Asterisk 22's app_read: READSTATUS=ERROR first (its default, before the prompt), the
    variable then READSTATUS at the end; a caller who hangs up meanwhile: empty and HANGUP."""
    core = dialplan.core
    core.set_var(channel, "READSTATUS", "ERROR")
    fields = [part.strip() for part in data.split(",")]
    variable = fields[0]
    limit = int(fields[2]) if len(fields) > 2 and fields[2].isdigit() else 0
    timeout = _seconds(fields[5]) if len(fields) > 5 else None
    keys = channel.keys.pop(0) if channel.keys else ""
    if limit:
        keys = keys[:limit]

    def pressed() -> None:
        for digit in keys:
            core.emit(core.events.dtmf_begin(channel, digit))
            core.emit(core.events.dtmf_end(channel, digit, DTMF_DURATION_MS))
        core.set_var(channel, variable, keys)
        core.set_var(channel, "READSTATUS", "OK" if keys else "TIMEOUT")

    def hung_up() -> None:
        core.set_var(channel, variable, "")
        core.set_var(channel, "READSTATUS", "HANGUP")

    channel.app_hungup = hung_up
    wait = core.config.dtmf_s if keys else core.config.playback_s + (timeout or 0.0)
    return dialplan.block(channel, wait, pressed)


def _try_exec(dialplan: Dialplan, channel: Channel, data: str) -> bool:
    """TryExec(App(args)): runs App (its arguments substituted once more, as app_exec does) and sets
    TRYSTATUS: NOAPP for an application this Asterisk lacks, FAILED for one in
    `failing_applications`, SUCCESS when it ends; the call goes on
    either way (Asterisk's TryExec never hangs up)."""
    core = dialplan.core
    app, _, rest = data.partition("(")
    args = dialplan.substitute(channel, rest[: rest.rfind(")")] if ")" in rest else rest)
    if not dialplan.has_application(app.strip()):
        core.set_var(channel, "TRYSTATUS", "NOAPP")
        return True
    if app.strip().lower() in {name.lower() for name in core.config.failing_applications}:
        core.set_var(channel, "TRYSTATUS", "FAILED")
        return True
    if APPLICATIONS[app.strip().lower()](dialplan, channel, args):
        core.set_var(channel, "TRYSTATUS", "SUCCESS")
        return True
    if not channel.hungup:
        channel.app_done = lambda: core.set_var(channel, "TRYSTATUS", "SUCCESS")
    return False


def unknown_application(dialplan: Dialplan, channel: Channel, data: str) -> bool:
    dialplan.core.hangup(channel, 0, "end")
    return False


APPLICATIONS: dict[str, App] = {
    "noop": _noop,
    "verbose": _noop,
    "log": _noop,
    "ringing": _noop,
    "progress": _noop,
    "set": _set,
    "answer": _answer,
    "userevent": _user_event,
    "musiconhold": _music_on_hold,
    "startmusiconhold": _start_music_on_hold,
    "stopmusiconhold": _stop_music_on_hold,
    "wait": _wait,
    "echo": _until_interrupted,
    "milliwatt": _until_interrupted,
    "playback": _playback,
    "festival": _festival,
    "amd": _amd,
    "hangup": _hangup,
    "goto": _goto,
    "gotoif": _goto_if,
    "read": _read,
    "tryexec": _try_exec,
}
