"""The console's catalogues: Hungarian, Polish and English have the same keys, no empty text, and
every key the pages use exists (a missing one would show as its raw name)."""

from __future__ import annotations

import json
import re

from switchboard.console.routes import LANGUAGES, STATIC


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
            assert set(re.findall(r"\{(\w+)\}", text)) == set(re.findall(r"\{(\w+)\}", english[key])), (
                lang,
                key,
            )


def test_every_literal_key_of_the_pages_is_in_the_catalogue() -> None:
    keys = set(_catalogue("en"))
    used: set[str] = set()
    for script in (STATIC / "js").glob("*.js"):
        used |= set(re.findall(r'\bt\("([a-z_.0-9]+)"', script.read_text(encoding="utf-8")))
    assert used and used <= keys, sorted(used - keys)
