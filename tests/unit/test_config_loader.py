"""The generic YAML + pydantic loader: YAML dialect, marks, every issue with file:line:col, hash, schema."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import Field

from core.config.loader import (
    CheckedModel,
    ConfigModel,
    Problem,
    check_file,
    content_hash,
    load_rules,
    load_text,
)
from core.config.yaml_file import ConfigProblem
from core.config.yaml_marks import parse_yaml
from core.errors import ConfigError


class Step(ConfigModel):
    after_seconds: float = Field(gt=0)


class Item(ConfigModel):
    name: str
    steps: tuple[Step, ...] = ()


class Doc(CheckedModel):
    """A tiny stand-in for any config file (the dialer's campaigns.yaml works the same way)."""

    items: tuple[Item, ...] = Field(min_length=1)
    default: str

    def cross_check(self) -> list[Problem]:
        names = {item.name for item in self.items}
        return (
            []
            if self.default in names
            else [Problem(("default",), f"names item {self.default!r}, which is not defined")]
        )


def issues_of(text: str, model: type[ConfigModel] = Doc) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_text(text, model, "doc.yaml")
    assert caught.value.error_id == "config-invalid"
    return [issue["text"] for issue in caught.value.details["issues"]]


@pytest.mark.parametrize(
    ("scalar", "expected"),
    [
        ("+36301234567", "+36301234567"),  # YAML 1.1 would make this the int 36301234567
        ("06301234567", "06301234567"),  # ...and this an octal number
        ("no", "no"),  # ...and this False (Norway's region code!)
        ("10:30", "10:30"),  # ...and this 630 (sexagesimal)
        ("2025-12-24", "2025-12-24"),  # ...and this a date object
        ("0x1f", "0x1f"),
        ("1_000", 1000),
        ("42", 42),
        ("-3", -3),
        ("1.5", 1.5),
        ("true", True),
        ("false", False),
        ("null", None),
        ("~", None),
        ('"42"', "42"),
    ],
)
def test_yaml_12_core_scalars(scalar: str, expected: object) -> None:
    parsed = parse_yaml(f"value: {scalar}\n")
    assert parsed.issues == []
    assert parsed.data == {"value": expected}
    assert type(parsed.data["value"]) is type(expected)


def test_marks_for_every_key_and_item() -> None:
    parsed = parse_yaml("items:\n  - name: a\n    steps:\n      - after_seconds: 3\n")
    assert parsed.mark_for(("items",)).line == 1
    assert (parsed.mark_for(("items", 0)).line, parsed.mark_for(("items", 0)).column) == (2, 5)
    step = parsed.mark_for(("items", 0, "steps", 0, "after_seconds"))
    assert (step.line, step.column) == (4, 9)
    missing = parsed.mark_for(("items", 0, "steps", 0, "nope"))  # a missing key points at its parent
    assert missing == step


def test_anchors_and_merge_keys() -> None:
    doc = load_text(
        "items:\n  - &a {name: a, steps: [{after_seconds: 1}]}\n  - <<: *a\n    name: b\ndefault: b\n", Doc
    )
    assert [item.name for item in doc.items] == ["a", "b"]
    assert doc.items[1].steps == doc.items[0].steps


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # pydantic field errors, path + plain sentence + position of the key
        (
            "items:\n  - name: a\n    steps:\n      - after_seconds: 0\ndefault: a\n",
            ["doc.yaml:4:9: items[0].steps[0].after_seconds must be > 0"],
        ),
        (  # the too-short list does not hide the reference into it (one pass finds both)
            "items: []\ndefault: a\n",
            [
                "doc.yaml:1:1: items must have at least 1 item(s)",
                "doc.yaml:2:1: default names item 'a', which is not defined",
            ],
        ),
        (
            "items:\n  - nam: a\ndefault: a\n",
            [
                "doc.yaml:2:5: items[0].nam is not a known setting; did you mean 'name'?",
                "doc.yaml:2:5: items[0].name is required",
            ],
        ),
        (
            "items:\n  - name: a\n    steps: 3\ndefault: a\n",
            ["doc.yaml:3:5: items[0].steps must be a list (lines starting with '- ')"],
        ),
        ("- 1\n- 2\n", ["doc.yaml:1:1: (top level) must be a mapping (key: value lines)"]),
        ("", ["doc.yaml:1:1: default is required", "doc.yaml:1:1: items is required"]),
        # cross-reference problems from the model, with their own path and line
        (
            "items: [{name: a}]\ndefault: zzz\n",
            ["doc.yaml:2:1: default names item 'zzz', which is not defined"],
        ),
        # YAML-level problems
        (
            "items: [{name: a}\ndefault: a\n",
            ["doc.yaml:2:1: YAML syntax error: expected ',' or ']', but got '<scalar>'"],
        ),
        (
            "items: [{name: a}]\ndefault: a\ndefault: b\n",
            ["doc.yaml:3:1: default duplicate key 'default' (first defined on line 2)"],
        ),
        ("items: [{name: !!python/name:os.system x}]\ndefault: a\n", None),
        ("a: 1\n---\nb: 2\n", ["doc.yaml:2:1: YAML syntax error: but found another document"]),
        ("x: &r [*r]\n", ["doc.yaml:1:4: x[0] recursive alias: a node contains itself"]),
        ("? [a, b]\n: 1\n", ["doc.yaml:1:3: a key must be a plain value, not a list or mapping"]),
    ],
)
def test_issue_messages(text: str, expected: list[str] | None) -> None:
    found = issues_of(text)
    if expected is None:
        assert len(found) == 1 and "cannot read value" in found[0] and found[0].startswith("doc.yaml:1:")
    else:
        assert found == expected


def test_all_issues_are_listed_sorted_by_position() -> None:
    text = "items:\n  - name: a\n    steps: [{after_seconds: -1}, {after_seconds: 0}]\n  - {}\nextra: 1\n"
    found = issues_of(text)
    assert found == [
        "doc.yaml:1:1: default is required",
        "doc.yaml:3:14: items[0].steps[0].after_seconds must be > 0",
        "doc.yaml:3:35: items[0].steps[1].after_seconds must be > 0",
        "doc.yaml:4:5: items[1].name is required",
        "doc.yaml:5:1: extra is not a known setting",
    ]


def test_config_error_details_and_message() -> None:
    with pytest.raises(ConfigError) as caught:
        load_text("items: []\n", Doc, "doc.yaml")
    error = caught.value
    assert error.message.startswith("doc.yaml: 2 problems; first: doc.yaml:1:1:")
    assert error.details["file"] == "doc.yaml"
    first = error.details["issues"][0]
    assert set(first) == {"file", "line", "column", "path", "message", "text"}
    assert error.as_dict()["error"] == "config-invalid"


def test_load_rules_reads_files(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("items: [{name: a}]\ndefault: a\n", encoding="utf-8")
    assert load_rules(good, Doc).default == "a"
    assert check_file(good, Doc) == []
    bad = tmp_path / "bad.yaml"
    bad.write_text("items: [{name: a}]\ndefault: b\n", encoding="utf-8")
    assert check_file(bad, Doc) == [
        ConfigProblem(str(bad), "names item 'b', which is not defined", "default", 2, 1)
    ]
    assert str(check_file(tmp_path / "missing.yaml", Doc)[0]).endswith(
        "cannot read the file: No such file or directory"
    )
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"items: [{name: a}]\ndefault: \xe9\n")
    assert str(check_file(latin, Doc)[0]) == f"{latin}:2:1: is not UTF-8 text"


def test_direct_construction_still_runs_the_cross_check() -> None:
    with pytest.raises(ValueError, match="default names item 'x'"):
        Doc.model_validate({"items": [{"name": "a"}], "default": "x"})


def test_content_hash_ignores_layout_and_comments() -> None:
    one = load_text("items: [{name: a}]\ndefault: a\n", Doc)
    two = load_text("# a comment\ndefault: a\nitems:\n  - name: a   # same content\n", Doc)
    three = load_text("items: [{name: b}]\ndefault: b\n", Doc)
    assert content_hash(one) == content_hash(two)
    assert content_hash(one) != content_hash(three)
    assert len(content_hash(one)) == 64


def _routing_with(*edits: tuple[str, str]) -> str:
    text = (Path(__file__).resolve().parents[2] / "config/routing.yaml").read_text()
    for old, new in edits:
        assert old in text
        text = text.replace(old, new, 1)
    return text


def test_a_structural_mistake_does_not_hide_the_reference_mistakes() -> None:
    """One pass of check-config finds all four (before: the three references only after the fix)."""
    from routing.rules import Rules  # noqa: PLC0415  (core may not import routing at module level)

    text = _routing_with(
        ("wrap_up: 20s", "wrap_up: -1"),  # a value out of range
        ('id: "1002"', 'id: "1001"'),  # a duplicate agent id
        ("skills: {billing: 2, hungarian: 5}", "skills: {billing: 2, hungarain: 5}"),  # an unknown skill
        ("overflow_to: general ", "overflow_to: genral  "),  # an unknown overflow queue
    )
    with pytest.raises(ConfigError) as exc:
        load_text(text, Rules, "routing.yaml")
    paths = sorted(issue["path"] for issue in exc.value.details["issues"])
    assert paths == [
        "agents[1].id", "agents[2].skills.hungarain", "queues[0].escalation[2].overflow_to",
        "queues[0].wrap_up",
    ]  # fmt: skip
    lines = text.splitlines()
    line = lines.index('  - id: "1001"', lines.index('  - id: "1001"') + 1) + 1  # the second one
    assert {i["path"]: i["line"] for i in exc.value.details["issues"]}["agents[1].id"] == line


def test_a_reference_to_a_left_out_element_is_not_reported() -> None:
    """The billing queue misses its required skill: overflowing to it is not called unknown."""
    from routing.rules import Rules  # noqa: PLC0415

    text = _routing_with(("overflow_to: general ", "overflow_to: billing "))
    billing = text.index("  - name: billing\n", text.index("queues:"))
    skill_line = text.index("    skill:", billing)
    text = text[:skill_line] + text[skill_line:].replace("    skill:", "    skil:", 1)
    with pytest.raises(ConfigError) as exc:
        load_text(text, Rules, "routing.yaml")
    messages = [issue["text"] for issue in exc.value.details["issues"]]
    assert not any("overflow_to" in message for message in messages), messages


def test_a_list_emptied_by_its_wrong_elements_does_not_hide_the_other_sections_mistakes() -> None:
    """Every tier and queue is structurally wrong: the duplicate agent and its unknown skill are
    still reported in the same pass; nothing is said about names the wrong elements define."""
    from routing.rules import Rules  # noqa: PLC0415

    text = """\
default_tier: active
tiers:
  - {name: active, priority: "high"}
skills: [{name: tech}]
agents:
  - {id: "1", name: A, interface: PJSIP/1, skills: {tech: 2}}
  - {id: "1", name: B, interface: PJSIP/2, skills: {cooking: 2}}
queues:
  - {name: support, skill: tech, level: 9}
"""
    with pytest.raises(ConfigError) as exc:
        load_text(text, Rules, "routing.yaml")
    found = {(i["line"], i["path"]) for i in exc.value.details["issues"]}
    assert found == {
        (3, "tiers[0].priority"), (7, "agents[1].id"),
        (7, "agents[1].skills.cooking"), (9, "queues[0].level"),
    }  # fmt: skip
