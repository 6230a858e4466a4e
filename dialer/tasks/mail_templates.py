"""The e-mails of the task feature in Hungarian, Polish and English: pure text, no I/O.

Owned here: what a queued e-mail (a JSON payload in the `tasks:mail` outbox) says. Three
templates: `reminder` (to the task's advisor), `digest` (the advisor's morning list) and
`customer` (the customer is told the promised callback time). The payload carries the data and
the language; the text is rendered when it is sent, so every retry sends the same words.
Times are written in the reader's zone: the contact center's for advisors, the customer's own
for customers. A language we have no text for falls back to English.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

import phonenumbers

Language = Literal["hu", "pl", "en"]
LANGUAGES: tuple[Language, ...] = ("hu", "pl", "en")
_BY_REGION: dict[str, Language] = {"HU": "hu", "PL": "pl"}


def language(value: str | None, default: Language = "en") -> Language:
    for known in LANGUAGES:
        if value == known:
            return known
    return default


def language_for_number(number: str | None, default: Language) -> Language:
    """A customer's language from their number's country (HU, PL), else `default`."""
    if not number:
        return default
    try:
        region = phonenumbers.region_code_for_number(phonenumbers.parse(number))
    except phonenumbers.NumberParseException:
        return default
    return _BY_REGION.get(region or "", default)


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    body: str


_TEXT: dict[str, dict[Language, tuple[str, str]]] = {
    "reminder": {
        "hu": (
            "Emlékeztető: {kind} - {customer}, {when}",
            "Kedves {advisor}!\n\nEmlékeztető a feladatodról ({task_id}, {kind}).\n"
            "Ügyfél: {customer} {phone}\nFeladat időpontja: {own}\n"
            "Központi határidő: {deadline}\n\nÜdvözlettel:\nSwitchboard\n",
        ),
        "pl": (
            "Przypomnienie: {kind} - {customer}, {when}",
            "Dzień dobry {advisor},\n\nprzypomnienie o zadaniu ({task_id}, {kind}).\n"
            "Klient: {customer} {phone}\nTwój termin: {own}\n"
            "Termin ostateczny: {deadline}\n\nPozdrawiamy,\nSwitchboard\n",
        ),
        "en": (
            "Reminder: {kind} - {customer}, {when}",
            "Hello {advisor},\n\na reminder of your task ({task_id}, {kind}).\n"
            "Customer: {customer} {phone}\nYour own time: {own}\n"
            "Central deadline: {deadline}\n\nRegards,\nSwitchboard\n",
        ),
    },
    "digest": {
        "hu": ("Mai feladataid - {day}", "Kedves {advisor}!\n\nA(z) {day} napi feladataid:\n{sections}\n"),
        "pl": (
            "Twoje zadania na dziś - {day}",
            "Dzień dobry {advisor},\n\nTwoje zadania na {day}:\n{sections}\n",
        ),
        "en": ("Your tasks today - {day}", "Hello {advisor},\n\nyour tasks for {day}:\n{sections}\n"),
    },
    "customer": {
        "hu": (
            "Visszahívás időpontja: {when}",
            "Kedves {customer}!\n\nMunkatársunk, {advisor}, {when} időpontban keresi Önt"
            " ({phone}).\n\nÜdvözlettel:\nÜgyfélszolgálat\n",
        ),
        "pl": (
            "Termin oddzwonienia: {when}",
            "Szanowna Pani / Szanowny Panie {customer},\n\nnasz doradca, {advisor}, zadzwoni {when}"
            " ({phone}).\n\nZ poważaniem,\nBiuro obsługi klienta\n",
        ),
        "en": (
            "Your callback: {when}",
            "Dear {customer},\n\nour advisor, {advisor}, will call you on {when} ({phone}).\n\n"
            "Kind regards,\nCustomer service\n",
        ),
    },
}

_SECTIONS: dict[str, dict[Language, str]] = {
    "due_today": {"hu": "Mára esedékes", "pl": "Na dziś", "en": "Due today"},
    "overdue": {"hu": "Késésben", "pl": "Spóźnione", "en": "Overdue"},
    "at_risk": {"hu": "Veszélyben (közel a határidő)", "pl": "Zagrożone (termin blisko)", "en": "At risk"},
    "expired": {"hu": "Lejárt", "pl": "Przeterminowane", "en": "Expired"},
}
_NONE = {"hu": "nincs", "pl": "brak", "en": "none"}
_DEADLINE_WORD = {"hu": "határidő", "pl": "termin", "en": "deadline"}


def local_time(iso: str, zone: str) -> str:
    """`2026-06-01T08:00:00+00:00` in `Europe/Budapest` -> `2026-06-01 10:00 Europe/Budapest`."""
    if not iso:
        return "-"
    return f"{datetime.fromisoformat(iso).astimezone(ZoneInfo(zone)):%Y-%m-%d %H:%M} {zone}"


def render(payload: Mapping[str, Any]) -> Rendered:
    """The subject and body of a queued e-mail (see the module docstring)."""
    template = str(payload["template"])
    lang = language(str(payload.get("lang", "en")))
    params = dict(payload.get("params", {}))
    subject, body = _TEXT[template][lang]
    if template == "digest":
        params["sections"] = _digest_sections(params.get("sections", {}), lang, str(params["zone"]))
    else:
        zone = str(params.get("zone", "UTC"))
        params["own"] = local_time(str(params.get("own_time", "")), zone)
        params["when"] = local_time(str(params.get("when_at", "")), zone)
    values = {name: str(value) for name, value in params.items()}
    return Rendered(subject.format_map(_Missing(values)), body.format_map(_Missing(values)))


def _digest_sections(sections: Mapping[str, Any], lang: Language, zone: str) -> str:
    parts = []
    for name, labels in _SECTIONS.items():
        lines = list(sections.get(name, []))
        parts.append(f"\n{labels[lang]} ({len(lines)}):")
        if not lines:
            parts.append(f"  - {_NONE[lang]}")
        for line in lines:
            when = local_time(str(line.get("own_time", "")), zone) if line.get("own_time") else ""
            deadline = f"{_DEADLINE_WORD[lang]} {line['deadline']}"
            item = f"  - {line['task_id']} {line['kind']} {line['customer']} {when}".rstrip()
            parts.append(f"{item} ({deadline})")
    return "\n".join(parts)


class _Missing(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""
