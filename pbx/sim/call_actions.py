"""The call-control AMI actions, validated in manager.c's order with its messages.

Originate (async: `Originate successfully queued` at once, then an
OriginateResponse event; sync: the reply waits for answer or failure, and
failure is `Originate failed`), Hangup (by name, or `/regex/` as an EventList of
ChannelHungup), Redirect (single and dual), Bridge (features.c), and the
listings CoreShowChannels and Status.
"""

from __future__ import annotations

import asyncio
import re

from pbx.sim.channels import Channel
from pbx.sim.context import ActionContext, Handler, is_true
from pbx.sim.endpoints import parse_dial_string
from pbx.sim.events import list_complete
from pbx.sim.originate import OriginateRequest

_CALLERID = re.compile(r'^\s*"?([^"<]*?)"?\s*<([^>]*)>\s*$')


def parse_callerid(text: str) -> tuple[str, str]:
    """`"Engine" <7000>` -> ("7000", "Engine"); digits alone are a number, else a name."""
    match = _CALLERID.match(text)
    if match:
        return match.group(2).strip(), match.group(1).strip()
    text = text.strip().strip('"')
    if text and all(char.isdigit() or char in "+*#" for char in text):
        return text, ""
    return "", text


def parse_variables(values: list[str]) -> tuple[tuple[str, str], ...]:
    """Originate `Variable` headers; one header may carry several, comma-separated."""
    found: list[tuple[str, str]] = []
    for value in values:
        for item in value.split(","):
            name, sep, content = item.partition("=")
            if sep and name.strip():
                found.append((name.strip(), content))
    return tuple(found)


def _target_error(ctx: ActionContext, priority: int) -> str | None:
    if ctx.header("Application"):
        return None
    context, exten = ctx.header("Context"), ctx.header("Exten")
    if not context or not exten:
        return "Originate with 'Exten' requires 'Context' and 'Priority'"
    if not ctx.core.dialplan.exists(context, exten, priority):
        return "Extension does not exist."
    return None


def parse_originate(ctx: ActionContext) -> OriginateRequest | str:
    """The request, or the error message Asterisk answers with."""
    name = ctx.header("Channel")
    if not name:
        return "Channel not specified"
    priority_text, timeout_text = ctx.header("Priority").strip(), ctx.header("Timeout").strip()
    if priority_text and not priority_text.isdigit():
        return "Invalid priority"
    if timeout_text and not timeout_text.lstrip("-").isdigit():
        return "Invalid timeout"
    if "/" not in name:
        return "Invalid channel"
    priority = int(priority_text or 1)
    error = _target_error(ctx, priority)
    if error is not None:
        return error
    return OriginateRequest(
        target=parse_dial_string(name, ctx.core.config),
        action_id=ctx.action_id,
        application=ctx.header("Application"),
        data=ctx.header("Data"),
        context=ctx.header("Context"),
        exten=ctx.header("Exten"),
        priority=priority,
        timeout_s=int(timeout_text or 30000) / 1000,
        callerid=parse_callerid(ctx.header("CallerID")),
        variables=parse_variables(ctx.headers("Variable")),
        channel_id=ctx.header("ChannelId"),
        other_channel_id=ctx.header("OtherChannelId"),
        is_async=is_true(ctx.header("Async")),
    )


async def _originate(ctx: ActionContext) -> None:
    request = parse_originate(ctx)
    if isinstance(request, str):
        ctx.error(request)
        return
    if request.is_async:
        ctx.ack("Originate successfully queued")
        ctx.originator.start(request)
        return
    result: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

    def settle(ok: bool, reason: int) -> None:
        if not result.done():
            result.set_result(ok)

    ctx.originator.start(request, settle)
    if await result:
        ctx.ack("Originate successfully queued")
    else:
        ctx.error("Originate failed")


def _cause(text: str) -> int:
    text = text.strip()
    return int(text) if text.isdigit() and int(text) <= 127 else 0


def _hangup(ctx: ActionContext) -> None:
    target = ctx.header("Channel")
    if not target:
        ctx.error("No channel specified")
        return
    cause = _cause(ctx.header("Cause"))
    if not target.startswith("/"):
        channel = ctx.core.channels.get(target)
        if channel is None:
            ctx.error("No such channel")
            return
        ctx.ack("Channel Hungup")
        ctx.core.hangup(channel, cause or ctx.core.end_cause(channel), "soft")
        return
    _hangup_matching(ctx, target, cause)


def _hangup_matching(ctx: ActionContext, target: str, cause: int) -> None:
    if len(target) < 2 or not target.endswith("/"):
        ctx.error("Regex format invalid, Channel param should be /regex/")
        return
    try:
        pattern = re.compile(target[1:-1])
    except re.error:
        ctx.error(f"Regex compile failed on: {target}")
        return
    ctx.respond("Success", "Channels hung up will follow", event_list="start")
    matched = ctx.core.channels.matching(pattern)
    for channel in matched:
        ctx.core.hangup(channel, cause or ctx.core.end_cause(channel), "soft")
        headers = [("Event", "ChannelHungup"), ("Channel", channel.name)]
        if ctx.action_id:
            headers.append(("ActionID", ctx.action_id))
        ctx.send(headers)
    ctx.send(list_complete("ChannelsHungupListComplete", ctx.action_id, len(matched)))


def _redirect_one(
    ctx: ActionContext,
    channel: Channel,
    where: tuple[str, str, int],
    *,
    moved: tuple[Channel, ...] = (),
) -> None:
    context, exten, priority = where
    core = ctx.core
    core.interrupt(channel)
    channel.context, channel.exten, channel.priority = context, exten, priority
    if channel.bridge is not None:
        core.bridges.leave(channel, moved=moved)
    core.arm_endpoint(channel, bridged=False)

    def go() -> None:
        if not channel.hungup:
            core.dialplan.goto(channel, context, exten, priority)

    core.soon(go)


def _redirect_checks(ctx: ActionContext, prefix: str) -> tuple[str, str, int] | str:
    context, exten, priority = (ctx.header(f"{prefix}{key}") for key in ("Context", "Exten", "Priority"))
    if not context:
        return f"{prefix}Context not specified"
    if not exten:
        return f"{prefix}Exten not specified"
    if not priority:
        return f"{prefix}Priority not specified"
    if not priority.strip().isdigit() or int(priority) < 1:
        return f"{prefix}Priority is invalid"
    return context, exten, int(priority)


def _live_channel(ctx: ActionContext, key: str) -> Channel | str:
    name = ctx.header(key)
    channel = ctx.core.channels.get(name)
    if channel is None:
        return f"{key} does not exist: {name}"
    if channel.hungup:
        which = "channel" if key == "Channel" else "extra channel"
        return f"Redirect failed, {which} not up."
    return channel


def _redirect(ctx: ActionContext) -> None:
    if not ctx.header("Channel"):
        ctx.error("Channel not specified")
        return
    where = _redirect_checks(ctx, "")
    if isinstance(where, str):
        ctx.error(where)
        return
    extra = ctx.header("ExtraChannel")
    extra_where = _redirect_checks(ctx, "Extra") if extra and ctx.header("ExtraContext") else where
    if isinstance(extra_where, str):
        ctx.error(extra_where)
        return
    channel = _live_channel(ctx, "Channel")
    second = _live_channel(ctx, "ExtraChannel") if extra else None
    for found in (channel, second):
        if isinstance(found, str):
            ctx.error(found)
            return
    assert isinstance(channel, Channel)
    ctx.ack("Dual Redirect successful" if isinstance(second, Channel) else "Redirect successful")
    # A dual Redirect moves both halves of a bridge: neither goes on in its old dialplan.
    _redirect_one(ctx, channel, where, moved=(second,) if isinstance(second, Channel) else ())
    if isinstance(second, Channel):
        _redirect_one(ctx, second, extra_where)


def _bridge(ctx: ActionContext) -> None:
    first, second = ctx.header("Channel1"), ctx.header("Channel2")
    if not first or not second:
        ctx.error("Missing channel parameter in request")
        return
    one = ctx.core.channels.get_by_prefix(first)
    if one is None:
        ctx.error(f"Channel1 does not exist: {first}")
        return
    two = ctx.core.channels.get_by_prefix(second)
    if two is None:
        ctx.error(f"Channel2 does not exist: {second}")
        return
    if one is two:
        ctx.error(f"Unable to add Channel2 to bridge: {two.name}")
        return
    ctx.ack("Channels have been bridged")
    ctx.core.bridges.bridge(one, two)


def _core_show_channels(ctx: ActionContext) -> None:
    ctx.respond("Success", "Channels will follow", event_list="start")
    now = ctx.core.clock.now()
    channels = list(ctx.core.channels)
    for channel in channels:
        ctx.send(ctx.core.events.core_show_channel(channel, ctx.action_id, now))
    ctx.send(list_complete("CoreShowChannelsComplete", ctx.action_id, len(channels)))


def _status(ctx: ActionContext) -> None:
    name = ctx.header("Channel")
    channels = list(ctx.core.channels)
    if name:
        found = ctx.core.channels.get(name)
        if found is None:
            ctx.error("No such channel")
            return
        channels = [found]
    ctx.respond("Success", "Channel status will follow", event_list="start")
    now = ctx.core.clock.now()
    for channel in channels:
        ctx.send(ctx.core.events.status(channel, ctx.action_id, now))
    ctx.send(list_complete("StatusComplete", ctx.action_id, len(channels), ("Items", str(len(channels)))))


CALL_ACTIONS: dict[str, Handler] = {
    "originate": _originate,
    "hangup": _hangup,
    "redirect": _redirect,
    "bridge": _bridge,
    "coreshowchannels": _core_show_channels,
    "status": _status,
}
