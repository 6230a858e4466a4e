"""AMI action dispatch and the session-level actions, with manager.c's exact replies.

- Before Login, only Login, Logoff and Challenge run; anything else gets
  `Permission denied`. An unknown action gets `Invalid/unknown command: <name>.
  Use Action: ListCommands to show available commands.`; a message without
  Action gets `Missing action in request`. Action names are case-insensitive.
- Login: plain `Secret`, or `AuthType: MD5` with `Key: md5(challenge + secret)`
  after `Action: Challenge`. A failed login answers `Authentication failed` and
  the server closes the socket. Events on (or a category list) sends FullyBooted.
- Logoff answers `Response: Goodbye` / `Thanks for all the fish.` and closes.
The call actions (Originate, Hangup, Redirect, Bridge, ...) are in call_actions.
"""

from __future__ import annotations

import hashlib
import hmac
import inspect
import secrets
from datetime import UTC, datetime

from pbx.sim.call_actions import CALL_ACTIONS
from pbx.sim.cli import run_cli
from pbx.sim.context import FALSE_WORDS, TRUE_WORDS, ActionContext, Handler
from pbx.sim.dialplan import read_variable
from pbx.sim.events import USER, fully_booted
from pbx.sim.transfers import TRANSFER_ACTIONS

OPEN_ACTIONS = frozenset({"login", "logoff", "challenge"})


def parse_event_mask(text: str) -> frozenset[str] | None:
    """`on` -> None (everything), `off` -> nothing, `call,user` -> those categories."""
    words = text.strip().lower()
    if not words or words in TRUE_WORDS:
        return None
    if words in FALSE_WORDS:
        return frozenset()
    return frozenset(part.strip() for part in words.split(",") if part.strip())


def _secret_for(ctx: ActionContext, username: str) -> str | None:
    users = ctx.core.config.users
    if username in users:
        return users[username]
    folded = username.lower()
    return next((secret for name, secret in users.items() if name.lower() == folded), None)


def _authenticate(ctx: ActionContext) -> bool:
    username = ctx.header("Username")
    secret = _secret_for(ctx, username) if username else None
    if secret is None:
        return False
    if ctx.header("AuthType").lower() == "md5":
        key, challenge = ctx.header("Key"), ctx.session.challenge
        expected = hashlib.md5((challenge + secret).encode()).hexdigest()
        return bool(key and challenge) and hmac.compare_digest(key, expected)
    return hmac.compare_digest(ctx.header("Secret").encode(), secret.encode())


def _login(ctx: ActionContext) -> None:
    session = ctx.session
    if session.authenticated:
        ctx.ack("Already authenticated")
        return
    if not _authenticate(ctx):
        ctx.error("Authentication failed")
        session.close()
        return
    session.authenticated = True
    session.username = ctx.header("Username")
    read = next((v for k, v in ctx.core.config.read.items() if k.lower() == session.username.lower()), None)
    session.read = None if read is None or "all" in read else frozenset(read)
    session.event_mask = parse_event_mask(ctx.header("Events"))
    ctx.ack("Authentication accepted")
    if session.wants(frozenset({"system"})):
        ctx.send(fully_booted(int(ctx.core.clock.now() - ctx.core.started_at)))


def _challenge(ctx: ActionContext) -> None:
    if ctx.header("AuthType").lower() != "md5":
        ctx.error("Must specify AuthType")
        return
    if not ctx.session.challenge:
        ctx.session.challenge = str(secrets.randbelow(2**31))
    ctx.respond("Success", None, ("Challenge", ctx.session.challenge))


def _logoff(ctx: ActionContext) -> None:
    ctx.respond("Goodbye", "Thanks for all the fish.")
    ctx.session.close()


def _ping(ctx: ActionContext) -> None:
    ctx.respond("Success", None, ("Ping", "Pong"), ("Timestamp", f"{ctx.core.clock.now():.6f}"))


def _events(ctx: ActionContext) -> None:
    ctx.session.event_mask = parse_event_mask(ctx.header("EventMask"))
    state = "Off" if ctx.session.event_mask == frozenset() else "On"
    ctx.respond("Success", None, ("Events", state))


def _user_event(ctx: ActionContext) -> None:
    name = ctx.header("UserEvent")
    # Every other header goes along (ActionID too), as manager.c copies them.
    skipped = ("action", "userevent")
    body = [(k, v) for k, v in ctx.action.headers if k.lower() not in skipped and ":" not in k]
    ctx.ack("Event Sent")
    ctx.core.emit([("Event", "UserEvent"), ("Privilege", USER), ("UserEvent", name), *body])


def _setvar(ctx: ActionContext) -> None:
    name = ctx.header("Variable")
    if not name:
        ctx.error("No variable specified")
        return
    channel = None
    if ctx.header("Channel"):
        channel = ctx.core.channels.get(ctx.header("Channel"))
        if channel is None:
            ctx.error("No such channel")
            return
    if channel is not None:
        ctx.core.set_var(channel, name, ctx.header("Value"))
    else:
        ctx.core.globals[name] = ctx.header("Value")
    ctx.ack("Variable Set")


def _getvar(ctx: ActionContext) -> None:
    name = ctx.header("Variable")
    if not name:
        ctx.error("No variable specified")
        return
    channel = None
    if ctx.header("Channel"):
        channel = ctx.core.channels.get(ctx.header("Channel"))
        if channel is None:
            ctx.error("No such channel")
            return
    value = read_variable(channel, name, ctx.core.globals, ctx.core.clock.now())
    ctx.respond("Success", None, ("Variable", name), ("Value", value))


def _core_settings(ctx: ActionContext) -> None:
    config = ctx.core.config
    ctx.respond(
        "Success",
        None,
        ("AMIversion", config.banner_version),
        ("AsteriskVersion", config.asterisk_version),
        ("SystemName", ""),
        ("CoreMaxCalls", "2000"),
        ("CoreMaxLoadAvg", "0.000000"),
        ("CoreRunUser", ""),
        ("CoreRunGroup", ""),
        ("CoreMaxFilehandles", "8192"),
        ("CoreRealTimeEnabled", "No"),
        ("CoreCDRenabled", "No"),
        ("CoreHTTPenabled", "No"),
        ("SoundsSearchCustomDir", "No"),
    )


def _core_status(ctx: ActionContext) -> None:
    started = datetime.fromtimestamp(ctx.core.started_at, UTC)
    ctx.respond(
        "Success",
        None,
        ("CoreStartupDate", started.strftime("%Y-%m-%d")),
        ("CoreStartupTime", started.strftime("%H:%M:%S")),
        ("CoreReloadDate", started.strftime("%Y-%m-%d")),
        ("CoreReloadTime", started.strftime("%H:%M:%S")),
        ("CoreCurrentCalls", str(len(ctx.core.channels))),
        ("CoreProcessedCalls", str(ctx.core.processed_calls)),
    )


def _command(ctx: ActionContext) -> None:
    command = ctx.header("Command").strip()
    if not command:
        ctx.error("No command provided")
        return
    ok, lines = run_cli(ctx.core, command)
    ctx.respond("Success" if ok else "Error", "Command output follows", *(("Output", line) for line in lines))


HANDLERS: dict[str, Handler] = {
    "login": _login,
    "challenge": _challenge,
    "logoff": _logoff,
    "ping": _ping,
    "events": _events,
    "userevent": _user_event,
    "setvar": _setvar,
    "getvar": _getvar,
    "coresettings": _core_settings,
    "corestatus": _core_status,
    "command": _command,
    **CALL_ACTIONS,
    **TRANSFER_ACTIONS,
}


async def dispatch(ctx: ActionContext) -> None:
    name = ctx.action.name.strip()
    if not name:
        ctx.error("Missing action in request")
        return
    key = name.lower()
    if not ctx.session.authenticated and key not in OPEN_ACTIONS:
        ctx.error("Permission denied")
        return
    handler = HANDLERS.get(key)
    if handler is None:
        ctx.error(f"Invalid/unknown command: {name}. Use Action: ListCommands to show available commands.")
        return
    result = handler(ctx)
    if inspect.isawaitable(result):
        await result
