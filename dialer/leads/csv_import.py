"""CSV import of leads: every good row is upserted, every bad one reported by its line number.

File format (docs/leads.md): UTF-8 (a BOM is fine), a header row, `,` `;` tab or `|` as the
delimiter (sniffed from the header). Columns, in any order: `lead_id` and `customer_id` and at
least one phone column (`phone`, `phone2`, `phone3`, ... or `phones` with numbers separated by
`|`) are required; `name`, `email`, `zone`, `priority`, `campaign_id` are optional. Any other
column is a CRM flag, stored as text and never consulted by the gate (`do_not_call=true` is
copied to the internal list, `false` changes nothing). Blank lines are skipped.
Line numbers are the file's physical lines (1 = the header), so a row with a quoted multi-line
field is reported at the line it starts on. The import is idempotent: importing a file twice
leaves the same leads.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from core.errors import SwitchboardError
from dialer.leads.store import LeadProblem, LeadStore, UpsertReport

CORE_COLUMNS = ("lead_id", "customer_id", "name", "email", "zone", "priority", "campaign_id")
DELIMITERS = ",;\t|"
BATCH = 1000


class LeadFileError(SwitchboardError):
    """The file cannot be imported at all (unreadable, not UTF-8, no header, required columns missing)."""

    error_id = "lead-file-invalid"


@dataclass(frozen=True, slots=True)
class CsvProgress:
    bytes_read: int
    bytes_total: int
    rows: int
    imported: int
    errors: int


@dataclass
class CsvReport:
    path: str
    rows: int = 0
    upsert: UpsertReport = field(default_factory=UpsertReport)

    @property
    def imported(self) -> int:
        return self.upsert.created + self.upsert.updated + self.upsert.unchanged

    @property
    def errors(self) -> list[LeadProblem]:
        return self.upsert.errors


@dataclass(frozen=True, slots=True)
class _Columns:
    phones: tuple[str, ...]
    phone_list: bool
    flags: tuple[str, ...]


def _columns(header: list[str], path: Path) -> _Columns:
    names = [name.strip() for name in header]
    missing = [name for name in ("lead_id", "customer_id") if name not in names]
    phones = tuple(n for n in names if n == "phone" or (n.startswith("phone") and n[5:].isdigit()))
    if not phones and "phones" not in names:
        missing.append("phone")
    if missing:
        raise LeadFileError(
            f"{path}: line 1: the header lacks column(s) {', '.join(missing)} (has: {', '.join(names)})",
            path=str(path),
            missing=missing,
        )
    flags = tuple(n for n in names if n and n not in CORE_COLUMNS and n not in phones and n != "phones")
    return _Columns(phones, "phones" in names, flags)


def row_to_lead(row: dict[str, Any], columns: _Columns) -> dict[str, Any]:
    """One CSV row as the dict LeadIn validates (empty optional cells are left out)."""
    lead: dict[str, Any] = {k: row[k].strip() for k in CORE_COLUMNS if (row.get(k) or "").strip()}
    phones = [row[c].strip() for c in columns.phones if (row.get(c) or "").strip()]
    if columns.phone_list:
        phones += [p.strip() for p in (row.get("phones") or "").split("|") if p.strip()]
    lead["phones"] = phones
    lead["crm"] = {flag: (row.get(flag) or "").strip() for flag in columns.flags}
    return lead


def _open(path: Path) -> tuple[BinaryIO, io.TextIOWrapper]:
    try:
        raw = path.open("rb")
    except OSError as exc:
        raise LeadFileError(f"cannot read {path}: {exc.strerror}", path=str(path)) from None
    return raw, io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")


def _rows(handle: io.TextIOWrapper, path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(start line, lead dict) per record, or (start line, why) for a record that cannot be a lead."""
    header_line = handle.readline()
    if not header_line.strip():
        raise LeadFileError(
            f"{path}: line 1: no header row (lead_id, customer_id, phone, ...)", path=str(path)
        )
    try:
        dialect: Any = csv.Sniffer().sniff(header_line, delimiters=DELIMITERS)
    except csv.Error:
        dialect = csv.excel
    header = [name.strip() for name in next(csv.reader([header_line], dialect))]
    columns = _columns(header, path)
    reader = csv.reader(handle, dialect)
    line = 1
    while True:
        start = line + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            line = reader.line_num + 1
            yield start, f"unreadable CSV: {exc}"
            continue
        line = reader.line_num + 1
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) > len(header):
            yield start, f"the row has {len(cells)} cells but the header has {len(header)} columns"
            continue
        yield start, row_to_lead(dict(zip(header, cells, strict=False)), columns)


async def import_csv(
    store: LeadStore,
    path: str | Path,
    *,
    campaign_id: str | None,
    now: datetime,
    actor: str,
    progress: Callable[[CsvProgress], None] | None = None,
    reopen: bool = False,
) -> CsvReport:
    """Upsert every valid row of a lead CSV into `store`; bad rows are reported by line."""
    path = Path(path)
    job = _Import(store, CsvReport(str(path)), campaign_id, now, actor, reopen, progress)
    raw, handle = _open(path)
    with raw, handle:
        job.total = os.fstat(raw.fileno()).st_size
        try:
            for line, row in _rows(handle, path):
                await job.take(line, row, raw)
        except UnicodeDecodeError as exc:
            where = f"near line {job.last_line + 1}"
            raise LeadFileError(
                f"{path}: {where}: is not UTF-8 text ({exc.reason})", path=str(path)
            ) from None
        await job.flush(None)
    job.report.upsert.errors.sort(key=lambda problem: problem.line or 0)
    return job.report


@dataclass
class _Import:
    """One CSV import in progress: rows are upserted in batches, progress reported after each."""

    store: LeadStore
    report: CsvReport
    campaign_id: str | None
    now: datetime
    actor: str
    reopen: bool
    progress: Callable[[CsvProgress], None] | None
    total: int = 0
    last_line: int = 1
    batch: list[dict[str, Any]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)

    async def take(self, line: int, row: dict[str, Any] | str, raw: BinaryIO) -> None:
        self.report.rows += 1
        self.last_line = line
        if isinstance(row, str):
            self.report.upsert.errors.append(LeadProblem(self.report.rows - 1, None, row, line))
            return
        self.batch.append(row)
        self.lines.append(line)
        if len(self.batch) >= BATCH:
            await self.flush(raw)

    async def flush(self, raw: BinaryIO | None) -> None:
        if self.batch:
            received = self.report.upsert.received
            part = await self.store.upsert_many(
                self.batch,
                now=self.now,
                actor=self.actor,
                campaign_id=self.campaign_id,
                reopen=self.reopen,
                lines=self.lines,
                source="csv",
            )
            part.errors = [LeadProblem(p.index + received, p.lead_id, p.message, p.line) for p in part.errors]
            self.report.upsert.add(part)
            self.batch, self.lines = [], []
        if self.progress is not None:
            position = self.total if raw is None else min(self.total, raw.tell())
            report = self.report
            self.progress(CsvProgress(position, self.total, report.rows, report.imported, len(report.errors)))
