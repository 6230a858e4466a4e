"""The console's catalogues: Hungarian, Polish and English have the same keys, no empty text, and
every key the pages use exists (a missing one would show as its raw name); every error id the
engine answers with has its sentence, so the advisor reads it in their language."""

from __future__ import annotations

import importlib
import json
import pkgutil
import re

import core
import dialer
import pbx
import routing
import switchboard
from core.errors import SwitchboardError
from switchboard.api.errors import _HTTP_ERROR_IDS
from switchboard.console.routes import LANGUAGES, STATIC

PLACEHOLDER = re.compile(r"\{(\w+(?::\w+)?)\}")
PRODUCT = {"core", "pbx", "routing", "dialer", "switchboard"}
NEVER_ANSWERED = {"engine-missing", "http-bind-failed", "sim-timeout"}
"""Error ids that never reach an HTTP answer: the CLI's, the server's own start, the simulator's."""


def _catalogue(lang: str) -> dict[str, str]:
    return dict(json.loads((STATIC / "i18n" / f"{lang}.json").read_text(encoding="utf-8")))


def test_all_languages_have_the_same_keys_and_no_empty_text() -> None:
    english = _catalogue("en")
    for lang in LANGUAGES:
        found = _catalogue(lang)
        assert set(found) == set(english), f"{lang}: {sorted(set(found) ^ set(english))}"
        assert [key for key, text in found.items() if not text.strip()] == [], lang


def test_placeholders_match_across_languages() -> None:
    english = _catalogue("en")
    for lang in LANGUAGES:
        for key, text in _catalogue(lang).items():
            assert set(PLACEHOLDER.findall(text)) == set(PLACEHOLDER.findall(english[key])), (lang, key)


def test_every_literal_key_of_the_pages_is_in_the_catalogue() -> None:
    keys = set(_catalogue("en"))
    used: set[str] = set()
    for script in (STATIC / "js").glob("*.js"):
        used |= set(re.findall(r'\bt\("([a-z_.0-9]+)"', script.read_text(encoding="utf-8")))
    assert used and used <= keys, sorted(used - keys)


def _all_error_ids() -> set[str]:
    for package in (core, pbx, routing, dialer, switchboard):
        for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            if not module.name.endswith("__main__"):  # running it would start the CLI
                importlib.import_module(module.name)
    found: set[str] = set()
    todo: list[type[SwitchboardError]] = [SwitchboardError]
    while todo:
        cls = todo.pop()
        if cls.__module__.split(".")[0] in PRODUCT:  # not the tests' own error types
            found.add(cls.error_id)
        todo.extend(cls.__subclasses__())
    return found


def test_every_error_id_the_engine_answers_with_has_a_sentence_in_each_language() -> None:
    ids = (_all_error_ids() | set(_HTTP_ERROR_IDS.values()) | {"internal-error"}) - NEVER_ANSWERED
    assert {"validation-failed", "task-own-time-refused", "agent-transition-invalid"} <= ids
    for lang in LANGUAGES:
        catalogue = _catalogue(lang)
        assert sorted(i for i in ids if f"error.{i}" not in catalogue) == [], lang
