"""Hostile and broken config files: `check-config` never raises and never takes long.

A seeded, bounded mutation run over the shipped files (lines dropped, doubled, swapped,
re-indented, cut; values replaced by odd YAML; control characters; nested aliases) plus
the known attacks. Every outcome must be a report (ok, or problems with a place)."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from core.config.yaml_marks import MAX_FILE_BYTES
from switchboard.config_check import default_registry

ROOT = Path(__file__).resolve().parents[2]
FILES = ("routing.yaml", "campaigns.yaml", "dispositions.yaml", "tasks.yaml", "settings.example.yaml",
         "api-tokens.example.yaml")  # fmt: skip
MUTATIONS = 360
PER_FILE_S = 2.0
ODD_VALUES = (
    "-1", "0", "1e309", "-.inf", ".nan", "''", "null", "~", "[", "]", "{", "}", "*nowhere", "&a",
    "!!python/object:os.system", "!!binary AAAA", "2025-02-30", "25:99", "99999999999999999999999",
    "\"\\x00\"", "{a: [b, {c: d}]}", "? complex", "<<: *a", "\t", "yes", "NO", "+", "+36", "é\u200b",
    "\x07", "\x1b[31m", "%YAML 1.1", "---", "...", "|", ">-",
)  # fmt: skip
ODD_CHARS = (0, 7, 9, 27, 127, 0x85, 0xFEFF, 0xD7FF)
LAUGHS = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8)
)


def mutate(text: str, rng: random.Random) -> str:
    lines = text.splitlines()
    index = rng.randrange(len(lines))
    kind = rng.randrange(8)
    if kind == 0:
        del lines[index]
    elif kind == 1:
        lines.insert(index, lines[index])
    elif kind == 2:
        other = rng.randrange(len(lines))
        lines[index], lines[other] = lines[other], lines[index]
    elif kind == 3:
        lines[index] = " " * rng.choice((1, 3, 5)) + lines[index]
    elif kind == 4:
        return text[: rng.randrange(len(text))]
    elif kind == 5 and ":" in lines[index]:
        key, _, _ = lines[index].partition(":")
        lines[index] = f"{key}: {rng.choice(ODD_VALUES)}"
    elif kind == 6:
        at = rng.randrange(len(lines[index]) + 1)
        lines[index] = lines[index][:at] + chr(rng.choice(ODD_CHARS)) + lines[index][at:]
    else:
        lines.insert(index, rng.choice((LAUGHS, "x: *a", "&a x: 1", "<<: {}", "- - - -", "[" * 200)))
    return "\n".join(lines) + "\n"


def check_in_time(path: Path) -> None:
    registry = default_registry()
    started = time.perf_counter()
    report = registry.check_file(path)  # must not raise
    elapsed = time.perf_counter() - started
    assert elapsed < PER_FILE_S, f"{path.read_text()[:200]!r} took {elapsed:.1f} s"
    for problem in report.problems:
        assert problem.file and problem.message, report


def test_mutated_config_files_give_reports_never_tracebacks(tmp_path: Path) -> None:
    rng = random.Random(12)
    originals = {name: (ROOT / "config" / name).read_text() for name in FILES}
    for round_ in range(MUTATIONS):
        name = FILES[round_ % len(FILES)]
        text = originals[name]
        for _ in range(rng.randint(1, 3)):
            text = mutate(text, rng)
        path = tmp_path / name
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        check_in_time(path)


@pytest.mark.parametrize("name", ["routing.yaml", "settings.yaml", "api-tokens.yaml"])
def test_nested_aliases_are_refused_quickly(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    deeper = "".join(
        f"{chr(106 + i)}: &{chr(106 + i)} [{', '.join([f'*{chr(105 + i)}'] * 9)}]\n" for i in range(4)
    )
    path.write_text(LAUGHS + deeper)
    started = time.perf_counter()
    report = default_registry().check_file(path)
    assert time.perf_counter() - started < PER_FILE_S
    assert any("expands to more than" in problem.message for problem in report.problems), report


def test_a_control_character_is_a_located_problem(tmp_path: Path) -> None:
    path = tmp_path / "routing.yaml"
    text = (ROOT / "config/routing.yaml").read_text()
    path.write_text(text.replace("name: support", "name: sup\x07port", 1))
    [problem] = default_registry().check_file(path).problems
    assert "unacceptable character #x0007" in problem.message and problem.line and problem.line > 1


def test_an_oversized_file_is_refused_without_reading_it_whole(tmp_path: Path) -> None:
    path = tmp_path / "routing.yaml"
    with path.open("w") as handle:
        handle.write("queues:\n")
        handle.write("  # padding\n" * (MAX_FILE_BYTES // 10))
    [problem] = default_registry().check_file(path).problems
    assert "more than the 2 MiB a config file may have" in problem.message
