"""IVR menus in routing.yaml: what check-config refuses (file:line:col), how a key is classified,
and the dialplan text the simulator reads (extensions.conf lines, `$[...]` expressions)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config.loader import load_rules, load_text
from core.errors import ConfigError
from pbx.sim.conf import evaluate, parse_conf, substitute_expressions
from routing.classify import classify
from routing.ivr_dialplan import render
from routing.rules import Rules
from switchboard.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = (ROOT / "config" / "routing.yaml").read_text(encoding="utf-8")
OPTION_3 = '"3": {label: "new contract", queue: sales}'


def _issues(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_text(text, Rules, "routing.yaml")
    return [issue["text"] for issue in caught.value.details["issues"]]


def _line_of(fragment: str) -> int:
    return next(n for n, line in enumerate(EXAMPLE.splitlines(), start=1) if fragment in line)


MENU_EDITS = [
    # (fragment of the example, replacement, expected line fragment, expected "path message")
    (
        OPTION_3,
        OPTION_3 + '\n      "4": {label: a, queue: sales}\n      "5": {label: b, queue: sales}',
        "    options:",
        "menus[0].options has 6 options; a menu has at most 4 (one level of three or four, "
        "one of them the operator)",
    ),
    (
        '"2": {label: "billing question", queue: billing}',
        '"2": {label: "billing question", queue: billing, options: {"1": {label: a, queue: sales}}}',
        '"2": {label',
        "menus[0].options['2'] opens another menu (options): an IVR has one level only; "
        "route the digit to a queue (and a skill) instead",
    ),
    (
        "queue: general, operator: true",
        "queue: general",
        "    options:",
        "menus[0].options has no operator option: mark one option `operator: true` (a person to talk to)",
    ),
    (
        OPTION_3,
        '"3": {label: "new contract", queue: sales, operator: true}',
        "    options:",
        "menus[0].options has 2 operator options (3, 0); keep one",
    ),
    (
        OPTION_3,
        '"3": {label: "new contract", queue: salez}',
        OPTION_3[:10],
        "menus[0].options['3'].queue names queue 'salez', which is not defined in queues",
    ),
    (
        OPTION_3,
        '"3": {label: "new contract", queue: sales, skill: sales}',
        OPTION_3[:10],
        "menus[0].options['3'] needs both skill and level, or neither (then the queue's skill and level)",
    ),
    (OPTION_3, '"#": {label: "new contract", queue: sales}', '"#"', "must be one digit 0-9, got '#'"),
    ("attempts: 2 ", "attempts: 5 ", "attempts:", "menus[0].attempts must be <= 3"),
    (
        'lines: ["+3615550200", "15550200"]',
        'lines: ["+3615550200", "+3615550200"]',
        "lines:",
        "menus[0].lines[1] '+3615550200' already plays menu 'main'",
    ),
]


@pytest.mark.parametrize(
    ("original", "replacement", "at", "expected"), MENU_EDITS, ids=[e[3][:40] for e in MENU_EDITS]
)
def test_check_config_refuses_a_bad_menu_with_its_place(
    original: str, replacement: str, at: str, expected: str
) -> None:
    assert original in EXAMPLE
    text = EXAMPLE.replace(original, replacement, 1)
    issues = _issues(text)
    assert len(issues) == 1, issues
    line = next(n for n, row in enumerate(text.splitlines(), start=1) if at in row and n > _line_of("menus:"))
    assert issues[0].startswith(f"routing.yaml:{line}:"), issues
    assert issues[0].endswith(expected), issues


RULES = load_rules(ROOT / "config" / "routing.yaml", Rules)
CLASSIFIED = [
    # (dialled, choice, queue the dialplan set, needs, where the needs come from)
    ("+3615550200", "1", "support", (("tech", 3), ("hungarian", 1)), "menus[0].options.1"),
    ("15550200", "1", "support", (("tech", 3), ("hungarian", 1)), "menus[0].options.1"),  # the DID as sent
    ("+3615550200", "2", "billing", (("billing", 2), ("hungarian", 1)), "queues[1].skill"),
    ("+3615550200", "0", "general", (("hungarian", 1),), "queues[2].skill"),
    ("+3615550200", "t", "general", (("hungarian", 1),), "queues[2].skill"),
    (
        "+3612345678",
        "1",
        "support",
        (("tech", 3), ("hungarian", 1)),
        "queues[0].ivr.1",
    ),  # no menu: the queue's
]


@pytest.mark.parametrize(("dialled", "choice", "queue", "needs", "source"), CLASSIFIED)
def test_the_key_reaches_classification(
    dialled: str, choice: str, queue: str, needs: tuple, source: str
) -> None:
    found = classify("+36301112222", queue, RULES, dialled=dialled, ivr_choice=choice)
    assert (found.needs, found.needs_from) == (needs, source)


def test_no_key_is_noted_as_the_operator() -> None:
    found = classify("+36301112222", "general", RULES, dialled="+3615550200", ivr_choice="t")
    assert "no digit pressed: the operator option (menus[0].options.0)" in found.notes


def test_the_generated_dialplan_reads_back_with_every_option_and_label() -> None:
    parsed = parse_conf(render(RULES))
    contexts = {name for name, _ in parsed}
    assert contexts == {"switchboard-ivr", "switchboard-menu-main"}
    entry = [ext.pattern for name, ext in parsed if name == "switchboard-ivr"]
    assert entry == ["+3615550200", "15550200", "_[+0-9]."]  # menu lines first, then every other line
    menu = next(ext for name, ext in parsed if name == "switchboard-menu-main")
    assert set(menu.labels) == {"ask", "nodigit", "option0", "option1", "option2", "option3"}
    assert menu.steps[menu.labels["option3"] - 1] == "Set(SWITCHBOARD_QUEUE=sales)"
    assert "Read(SWITCHBOARD_IVR,switchboard-menu-main,1,,1,5)" in menu.steps


def test_a_dialplan_line_it_cannot_read_is_named() -> None:
    with pytest.raises(ValueError, match="line 2"):
        parse_conf("[ctx]\nexten = > s,1,NoOp()\n")


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ('"1" = "1"', "1"),
        ('"" = "1"', "0"),
        ('"" = ""', "1"),
        ("1 + 1", "2"),
        ("2 < 2", "0"),
        ("1 < 2", "1"),
        ("10 > 9", "1"),  # numbers compare as numbers
        ('"a" != "b"', "1"),
        ("1 & 0", "0"),
        ("0 | 5", "5"),
    ],
)
def test_expressions_evaluate_as_asterisk_does(expression: str, value: str) -> None:
    assert evaluate(expression) == value


def test_nested_expressions_are_substituted_innermost_first() -> None:
    assert substitute_expressions("Set(X=$[$[1 + 1] + 3])") == "Set(X=5)"
    assert substitute_expressions('$["7" = "1"]?option1') == "0?option1"


def test_the_command_writes_the_dialplan_of_the_rules(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "extensions_switchboard_ivr.conf"
    assert (
        main(["asterisk-dialplan", "--rules", str(ROOT / "config" / "routing.yaml"), "--output", str(target)])
        == 0
    )
    written = target.read_text(encoding="utf-8")
    assert "[switchboard-menu-main]" in written
    assert written.split("\n", 3)[3] == render(RULES).split("\n", 3)[3]  # the same, but for the rules' hash
    assert "wrote" in capsys.readouterr().out
