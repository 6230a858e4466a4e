"""The shipped dashboards and alert rules only use metrics the engine really exports, and the
runtime delivers call webhooks end to end.

The real runtime (`switchboard run`'s Runtime) runs with a private Redis, the simulated PBX over
TCP and a webhook to a real HTTP endpoint; one inbound call is answered and ends. Then /metrics
is scraped over HTTP and every PromQL expression of config/grafana/dashboards and
config/prometheus/rules is parsed for metric names, each of which must be in the scrape."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import httpx
import redis.asyncio as aioredis
import yaml
from pydantic import SecretStr

from pbx.sim import AgentPhone, SimConfig, SimulatedPbx
from switchboard.api.tokens import TokenStore
from switchboard.private_redis import PrivateRedis
from switchboard.runtime import EXAMPLE_CONFIG, Runtime
from switchboard.settings import AmiSection, HttpSection, RedisSection, RulesSection, Settings
from switchboard.webhooks.config import WebhookSection
from tests.support.dialer_harness import RunningClock
from tests.support.webhook_receiver import WebhookReceiver

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = sorted((ROOT / "config/grafana/dashboards").glob("*.json"))
RULES = sorted((ROOT / "config/prometheus/rules").glob("*.yml"))
SECRET, HOOK_SECRET = "obs-secret", "observability-hook-secret"
# Made by Prometheus itself, not by the engine.
PROMETHEUS_OWN = {"up"}
KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool",
    "offset", "inf", "nan", "le",
}  # fmt: skip
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression selects: identifiers outside strings, label matchers,
    ranges and grouping clauses, that are not functions (followed by `(`) or keywords."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = _GROUPING.sub(" ", text)
    text = re.sub(r"\$\w+", " ", text)
    names = set()
    for match in _IDENT.finditer(text):
        rest = text[match.end() :].lstrip()
        word = match.group()
        if rest.startswith("(") or word.lower() in KEYWORDS or re.fullmatch(r"\d+e\d+", word):
            continue
        if match.start() > 0 and (text[match.start() - 1].isdigit() or text[match.start() - 1] == "."):
            continue  # the tail of a number such as 1e6
        names.add(word)
    return names


def test_the_name_extraction_handles_the_shapes_the_files_use() -> None:
    expr = (
        'histogram_quantile(0.9, sum by (le, queue) (rate(x_bucket{instance=~"$instance", a="b{c}"}[5m])))'
        " / on(instance, queue) group_left y_total * 1e6 and z > bool 0 unless absent(w) or vector(0)"
    )
    assert metric_names(expr) == {"x_bucket", "y_total", "z", "w"}
    assert metric_names("label_values(switchboard_redis_up, instance)") == {
        "switchboard_redis_up",
        "instance",
    }


def _dashboard_exprs(dashboard: dict[str, Any]) -> list[str]:
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    for var in dashboard["templating"]["list"]:
        if var["type"] == "query":
            query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
            match = re.fullmatch(r"label_values\((\w+),\s*\w+\)", query)
            assert match, f"{var['name']}: only label_values(metric, label) queries are checked"
            exprs.append(match.group(1))
    return exprs


def _rule_exprs() -> list[str]:
    return [
        rule["expr"]
        for path in RULES
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
    ]


def test_dashboards_are_valid_and_pick_their_datasource_from_a_variable() -> None:
    assert len(DASHBOARDS) >= 5
    uids = set()
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        uids.add(dashboard["uid"])
        variables = {v["name"]: v for v in dashboard["templating"]["list"]}
        assert (
            variables["datasource"]["type"] == "datasource"
            and variables["datasource"]["query"] == "prometheus"
        )
        for panel in dashboard["panels"]:
            assert panel["datasource"]["uid"] == "${datasource}", f"{path.name}: {panel['title']}"
            assert panel["targets"], f"{path.name}: {panel['title']} has no query"
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == "${datasource}", f"{path.name}: {panel['title']}"
                assert target["expr"].count("(") == target["expr"].count(")"), target["expr"]
    assert len(uids) == len(DASHBOARDS), "dashboard uids are unique"


def exported_names(exposition: str) -> set[str]:
    """Sample names in a /metrics text, with every declared family's names even without samples."""
    names = set()
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            names.add(name)
            if kind == "histogram":
                names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


def _settings(redis: PrivateRedis, ami_port: int, rules: Path, hook_url: str) -> Settings:
    hook = WebhookSection(name="crm", url=hook_url, secret=SecretStr(HOOK_SECRET), backoff_min=0.05)
    return Settings(
        ami=AmiSection(port=ami_port, secret=SecretStr(SECRET)),
        redis=RedisSection(url=SecretStr(redis.url)),
        http=HttpSection(port=0),
        rules=RulesSection(routing=rules),
        webhooks=(hook,),
    )


async def test_every_metric_of_the_dashboards_and_alerts_is_exported_by_a_live_engine(
    redis_server: PrivateRedis, redis_client: aioredis.Redis, tmp_path: Path
) -> None:
    """(`redis_client` flushes the shared server first: no outbox left by other tests.)"""
    rules = tmp_path / "routing.yaml"
    shutil.copy(EXAMPLE_CONFIG / "routing.yaml", rules)
    receiver = WebhookReceiver(HOOK_SECRET, fail_first=1)
    await receiver.start()
    sim = SimulatedPbx(
        SimConfig(users={"switchboard": SECRET}, agents={"1008": AgentPhone(answer_after_s=0.1)})
    )
    port = await sim.start()
    tokens = TokenStore.from_tokens([("sue-token", "sue", "supervisor")])
    runtime = Runtime(_settings(redis_server, port, rules, receiver.url), clock=RunningClock(), tokens=tokens)
    try:
        parts = await runtime.start()
        for agent_id in ("1001", "1002", "1003", "1004", "1005", "1006", "1008"):
            await parts.acd.login(agent_id)
        await sim.inbound_call("+36301234567", "+3612345678", patience_s=600, talk_s=0.3)
        await receiver.wait_for(3)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{runtime.http_port}") as http:
            exposition = (await http.get("/metrics")).text
    finally:
        await runtime.stop()
        await sim.stop()
        await receiver.stop()

    accepted = receiver.accepted()
    types = [r.event["type"] for r in accepted]
    assert sorted(types) == ["call.answered", "call.ended", "call.offered"], "each once; retries may reorder"
    assert receiver.requests[0].event_id in {r.event_id for r in accepted}, "the refused one came again"
    assert len({r.event["data"]["case_id"] for r in accepted[:3]}) == 1, "one case through the call"
    assert receiver.requests[0].status == 503 and all(r.signed for r in receiver.requests)
    assert any(r.event["data"].get("agent_id") for r in accepted if r.event["type"] == "call.answered")

    exported = exported_names(exposition)
    series = {line.split("{", 1)[0] for line in exposition.splitlines() if "{" in line and line[0] != "#"}
    for name in (
        "switchboard_acd_calls_offered_total",
        "switchboard_acd_calls_answered_total",
        "switchboard_acd_wait_seconds_bucket",
        "switchboard_webhook_deliveries_total",
    ):
        assert name in series, f"the call left no labelled series of {name}"
    wanted: dict[str, set[str]] = {}
    for path in DASHBOARDS:
        for expr in _dashboard_exprs(json.loads(path.read_text())):
            for name in metric_names(expr):
                wanted.setdefault(name, set()).add(path.name)
    for expr in _rule_exprs():
        for name in metric_names(expr):
            wanted.setdefault(name, set()).add("alert rules")
    wanted.pop("instance", None)  # label_values' label argument
    missing = {name: sorted(files) for name, files in wanted.items() if name not in exported | PROMETHEUS_OWN}
    assert not missing, f"metrics used but not exported: {missing}"
    assert len(wanted) > 40
