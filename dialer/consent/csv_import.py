"""CSV import of consents: every good row is recorded, every bad one reported by its line number.

File format (docs/consent.md): the conventions of the lead import (dialer/leads/csv_import.py):
UTF-8 (a BOM is fine) or a declared line-based encoding, a header row, `,` `;` tab or `|` as the
delimiter (sniffed from the header), blank lines skipped, physical line numbers (1 = the header).
Columns, in any order: `customer_id`, `phone` (or `number`), `given_at` are required, and
`purpose` and `source` unless the import names them for every row (`--purpose`, `--source`);
`expires_at`, `reference`, `region` are optional. Any other column refuses the file at line 1:
a misspelt `expires` would otherwise record a consent that never lapses.
A bad row is named by its line, its column and the value, and never stops the good rows; a row
that would revive a withdrawn consent is refused the same way, and the withdrawal stays.
Importing a file twice changes nothing the second time (unchanged rows are neither written nor
audited).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from core.errors import SwitchboardError
from dialer.consent.store import ConsentProblem, ConsentStore, GrantReport
from dialer.leads.csv_import import DELIMITERS, LeadFileError, read_lines, read_record

REQUIRED = ("customer_id", "given_at")
OPTIONAL = ("purpose", "source", "expires_at", "reference", "region")
PHONE_COLUMNS = ("phone", "number")
BATCH = 1000


class ConsentFileError(SwitchboardError):
    """The file cannot be imported at all (unreadable, not UTF-8, no header, columns wrong)."""

    error_id = "consent-file-invalid"


@dataclass
class ConsentCsvReport:
    path: str
    rows: int = 0
    grants: GrantReport = field(default_factory=GrantReport)

    @property
    def imported(self) -> int:
        return self.grants.given + self.grants.updated + self.grants.unchanged

    @property
    def errors(self) -> list[ConsentProblem]:
        return self.grants.errors


def _header(names: list[str], path: Path, defaults: dict[str, str]) -> str:
    """The phone column's name; ConsentFileError names what the header lacks or has too many of."""
    phones = [name for name in PHONE_COLUMNS if name in names]
    missing = [name for name in REQUIRED if name not in names]
    missing += [name for name in ("purpose", "source") if name not in names and name not in defaults]
    if not phones:
        missing.append("phone")
    unknown = [name for name in names if name not in (*REQUIRED, *OPTIONAL, *PHONE_COLUMNS)]
    problems = []
    if missing:
        problems.append(f"lacks column(s) {', '.join(missing)}")
    if unknown:
        known = ", ".join((*REQUIRED, "phone", *OPTIONAL))
        problems.append(f"has unknown column(s) {', '.join(unknown)} (known: {known})")
    if len(phones) > 1:
        problems.append("has both phone and number; keep one")
    if problems:
        raise ConsentFileError(
            f"{path}: line 1: the header {'; '.join(problems)}",
            path=str(path),
            missing=missing,
            unknown=unknown,
        )
    return phones[0]


def _rows(
    lines: list[str], path: Path, defaults: dict[str, str]
) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(line, consent dict) per record, or (line, why) for a record that cannot be one."""
    header_line = lines[0] if lines else ""
    if not header_line.strip():
        raise ConsentFileError(
            f"{path}: line 1: no header row (customer_id, phone, given_at, ...)", path=str(path)
        )
    try:
        dialect: Any = csv.Sniffer().sniff(header_line, delimiters=DELIMITERS)
    except csv.Error:
        dialect = csv.excel
    header = [name.strip() for name in next(csv.reader([header_line], dialect))]
    phone = _header(header, path, defaults)
    i = 1
    while i < len(lines):
        used, cells = read_record(lines, i, dialect, len(header))
        start, i = i + 1, i + used
        if isinstance(cells, str):
            yield start, cells
        elif not any(cell.strip() for cell in cells):
            continue
        elif len(cells) > len(header):
            yield start, f"the row has {len(cells)} cells but the header has {len(header)} columns"
        else:
            row = {name: cell.strip() for name, cell in zip(header, cells, strict=False) if cell.strip()}
            row["number"] = row.pop(phone, "")
            yield start, {**defaults, **row}


async def import_consents(
    store: ConsentStore,
    path: str | Path,
    *,
    now: datetime,
    actor: str,
    purpose: str | None = None,
    source: str | None = None,
    encoding: str = "UTF-8",
    region: str | None = None,
) -> ConsentCsvReport:
    """Record every valid row of a consent CSV; bad rows are reported by line. `purpose` / `source`:
    for every row without its own (a file of one campaign's web-form consents)."""
    path = Path(path)
    try:
        lines, _ = read_lines(path, encoding)
    except LeadFileError as exc:
        raise ConsentFileError(exc.message, **exc.details) from None
    defaults = {k: v for k, v in (("purpose", purpose), ("source", source)) if v}
    report = ConsentCsvReport(str(path))
    batch: list[dict[str, Any]] = []
    at_lines: list[int] = []
    for line, row in _rows(lines, path, defaults):
        report.rows += 1
        if isinstance(row, str):
            report.grants.errors.append(ConsentProblem(report.rows - 1, row, line))
            continue
        batch.append(row)
        at_lines.append(line)
        if len(batch) >= BATCH:
            await _flush(store, report, batch, at_lines, now=now, actor=actor, region=region)
            batch, at_lines = [], []
    await _flush(store, report, batch, at_lines, now=now, actor=actor, region=region)
    report.grants.received = report.rows
    report.grants.errors.sort(key=lambda problem: problem.line or 0)
    return report


async def _flush(
    store: ConsentStore,
    report: ConsentCsvReport,
    batch: list[dict[str, Any]],
    lines: list[int],
    *,
    now: datetime,
    actor: str,
    region: str | None,
) -> None:
    if batch:
        part = await store.give_many(batch, actor=actor, now=now, region=region, lines=lines)
        part.received = 0  # the report counts rows itself, bad records included
        report.grants.add(part)
