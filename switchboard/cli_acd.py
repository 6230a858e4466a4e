"""`switchboard explain` and `switchboard asterisk-dialplan`.

`explain`: which tier, priority and rule a caller gets, and which agent would answer now.

    switchboard explain --caller "06 30 123 4567" --queue support [--dialled N] [--ivr 1]
                        [--rules routing.yaml] [--state state.yaml | --redis redis://...]

The text comes from routing.explain, which runs the engine's own classify and
decide, so it cannot disagree with the engine. Whose state it explains:
- `--redis URL`: the live ACD (agents, their states, waiting callers, the
  caller's CRM record) read from the engine's Redis, read-only; `--shard NAME` names
  the ACD shard (default: the settings' acd.shard);
- `--state FILE`: a YAML/JSON file describing agents and waiting calls (below);
- neither: every agent in the rules is assumed ready and idle.
Rules come from `--rules`, else the settings' `rules.routing`.

`asterisk-dialplan [--rules routing.yaml] [--output FILE]` writes the Asterisk contexts that play
the rules' IVR menus (routing.ivr_dialplan), the include next to extensions_switchboard.conf.

A state file:
    now: 1750068000            # epoch seconds; default: now
    crm: {segment: key}        # the caller's CRM record, if any
    agents:                    # agents of the rules by id, or new ones with name/interface/skills
      - {id: "1004", state: ready, idle_since: 1750067000}
      - {id: "1005", state: paused, pause_reason: lunch}
    calls:                     # callers already waiting (optional)
      - {id: c1, queue: support, tier: key, needs: {tech: 5}, entered_at: 1750067900}
    outages:                   # declared outages (optional; --redis reads the real ones)
      - {id: north, title: TV down, segment: {prefixes: ["+3646"]}, recording: outage-north,
         starts_at: 1750060000, ends_at: 1750090000}
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.config.loader import content_hash, load_rules
from core.config.yaml_file import config_error, load_yaml, problems_from_validation
from core.errors import ConfigError
from core.phone_numbers import try_normalize
from routing.acd.outage_store import OutageStore
from routing.acd.routing_keys import RoutingKeys
from routing.acd.state import AcdState
from routing.acd.store import AcdStore
from routing.agent_events import AgentState
from routing.explain import explain_caller
from routing.ivr_dialplan import render
from routing.outages import OutageSpec
from routing.queue import WaitingCall
from routing.rules import AgentSpec, Rules
from routing.snapshot import AgentView, Snapshot
from switchboard.cli_common import acd_keys, add_shard_option
from switchboard.logs import SecretFilter
from switchboard.redis_conn import connect_redis
from switchboard.settings import load_settings

EXIT_OK = 0


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AgentIn(_In):
    id: str
    state: AgentState = AgentState.READY
    idle_since: float | None = None
    occupancy: float = Field(0.0, ge=0, le=1)
    pause_reason: str = ""
    name: str | None = None
    interface: str | None = None
    skills: dict[str, int] | None = None


class CallIn(_In):
    id: str
    queue: str
    tier: str
    priority: int = 0
    needs: dict[str, int] = Field(min_length=1)
    entered_at: float


class StateFile(_In):
    now: float | None = None
    crm: dict[str, str] | None = None
    agents: list[AgentIn] = []
    calls: list[CallIn] = []
    outages: list[OutageSpec] = []


def register(subparsers: Any) -> None:
    """Add `explain` to the `switchboard` command (`subparsers` from add_subparsers())."""
    explain = subparsers.add_parser(
        "explain",
        help="which tier, rule and agent a caller would get now, and why",
        description="Classify a caller as the engine would and show which agent would be chosen now, "
        "and why the others would not.",
    )
    explain.add_argument("--caller", required=True, metavar="NUMBER", help="the caller's number, any format")
    explain.add_argument("--queue", required=True, metavar="QUEUE")
    explain.add_argument("--dialled", metavar="NUMBER", help="the number the caller dialled (VIP lines)")
    explain.add_argument("--ivr", metavar="N", help="the IVR digit the caller pressed")
    explain.add_argument("--rules", type=Path, metavar="FILE", help="routing.yaml (default: settings)")
    explain.add_argument("--settings", type=Path, metavar="FILE", help="settings file, for rules.routing")
    source = explain.add_mutually_exclusive_group()
    source.add_argument(
        "--state", type=Path, metavar="FILE", help="agents and calls from this YAML/JSON file"
    )
    source.add_argument("--redis", metavar="URL", help="the live ACD state from this Redis (read only)")
    explain.add_argument("--prefix", default=RoutingKeys().prefix, help=argparse.SUPPRESS)
    add_shard_option(explain)
    explain.set_defaults(func=cmd_explain)
    dialplan = subparsers.add_parser(
        "asterisk-dialplan",
        help="write the Asterisk dialplan of the IVR menus in routing.yaml",
        description="Print (or write to --output) extensions_switchboard_ivr.conf: the contexts that "
        "play routing.yaml's menus and send the caller's digit to the engine. Include it after "
        "extensions_switchboard.conf and send your DIDs to [switchboard-ivr].",
    )
    dialplan.add_argument("--rules", type=Path, metavar="FILE", help="routing.yaml (default: settings)")
    dialplan.add_argument("--settings", type=Path, metavar="FILE", help="settings file, for rules.routing")
    dialplan.add_argument("--output", type=Path, metavar="FILE", help="write here instead of stdout")
    dialplan.set_defaults(func=cmd_asterisk_dialplan)


def cmd_asterisk_dialplan(args: argparse.Namespace, secrets: SecretFilter) -> int:
    rules = load_rules(_rules_path(args), Rules)
    conf = render(rules, rules_hash=content_hash(rules))
    if args.output is None:
        print(conf, end="")
    else:
        Path(args.output).write_text(conf, encoding="utf-8")
        lines = sum(len(m.lines) for m in rules.menus)
        print(f"wrote {args.output}: {len(rules.menus)} menus on {lines} lines")
    return EXIT_OK


def cmd_explain(args: argparse.Namespace, secrets: SecretFilter) -> int:
    rules = load_rules(_rules_path(args), Rules)
    outages: list[OutageSpec] | None = None
    if args.redis:
        secrets.add_secrets([args.redis])
        snapshot, crm, now, note, outages = asyncio.run(_live(args, rules))
    elif args.state:
        snapshot, crm, now, note, outages = _from_file(args.state, rules)
    else:
        now = time.time()
        snapshot = Snapshot.build([_view(spec, AgentIn(id=spec.id), now) for spec in rules.agents], [])
        crm, note = (
            None,
            "every agent in the rules is assumed ready, no outages known (use --redis or --state)",
        )
    text = explain_caller(
        args.caller,
        args.queue,
        snapshot,
        rules,
        now,
        dialled=args.dialled,
        ivr_choice=args.ivr,
        crm_record=crm,
        outages=outages,
    )
    print(f"Rules: {_rules_path(args)}")
    print(f"State: {note}")
    print(text)
    return EXIT_OK


EXAMPLE_RULES = Path(__file__).resolve().parent.parent / "config" / "routing.yaml"


def _rules_path(args: argparse.Namespace) -> Path:
    """--rules, else the settings' rules.routing, else the shipped example (as `switchboard run`)."""
    if args.rules is not None:
        return Path(args.rules)
    configured = load_settings(args.settings).rules.routing
    if configured is not None:
        return configured
    if not EXAMPLE_RULES.is_file():
        raise ConfigError("no routing rules: give --rules FILE or set rules.routing in the settings")
    return EXAMPLE_RULES


Explained = tuple[Snapshot, dict[str, str] | None, float, str, list[OutageSpec]]


async def _live(args: argparse.Namespace, rules: Rules) -> Explained:
    keys = acd_keys(args, load_settings(args.settings), args.prefix)
    client = await connect_redis(args.redis)
    try:
        store = AcdStore(client, keys)
        stored = await store.load()
        number = try_normalize(args.caller, rules.default_region)
        crm = await store.crm_record(number) if number else None
        outages = [record.effective for record in await OutageStore(client, keys).all()]
    finally:
        await client.aclose()
    now = time.time()
    state = AcdState(rules)
    state.profiles, state.sources, state.statuses, state.calls = (
        stored.profiles,
        stored.sources,
        stored.statuses,
        stored.calls,
    )
    state.rebuild(now)
    waiting = len(state.snapshot.calls)
    note = f"live from Redis: {len(state.profiles)} agents, {waiting} callers waiting"
    return state.snapshot, crm, now, note + (", CRM record found" if crm else ""), outages


def _from_file(path: Path, rules: Rules) -> Explained:
    doc = load_yaml(path)
    try:
        found = StateFile.model_validate(doc.data or {})
    except ValidationError as exc:
        raise config_error(problems_from_validation(exc, doc), "invalid state file") from None
    now = found.now if found.now is not None else time.time()
    specs = {spec.id: spec for spec in rules.agents}
    views = [_view(_spec(agent, specs, path), agent, now) for agent in found.agents]
    calls = [
        WaitingCall(c.id, c.queue, c.tier, c.priority, tuple(c.needs.items()), c.entered_at, c.entered_at)
        for c in found.calls
    ]
    note = f"from {path}: {len(views)} agents, {len(calls)} callers waiting"
    return Snapshot.build(views, calls), found.crm, now, note, found.outages


def _spec(agent: AgentIn, specs: dict[str, AgentSpec], path: Path) -> AgentSpec:
    known = specs.get(agent.id)
    if known is not None and agent.skills is None:
        return known
    try:
        return AgentSpec(
            id=agent.id,
            name=agent.name or (known.name if known else agent.id),
            interface=agent.interface or (known.interface if known else "PJSIP/unknown"),
            skills=agent.skills or {},
        )
    except ValidationError as exc:
        raise ConfigError(f"{path}: agent {agent.id!r} is not in the rules and incomplete: {exc}") from None


def _view(spec: AgentSpec, agent: AgentIn, now: float) -> AgentView:
    return AgentView(
        id=spec.id,
        state=agent.state,
        skills=dict(spec.skills),
        idle_since=now if agent.idle_since is None else agent.idle_since,
        occupancy=agent.occupancy,
        name=spec.name,
        interface=spec.interface,
        pause_reason=agent.pause_reason,
    )
