"""CSV import of leads: every good row is upserted, every bad one reported by its line number.

File format (docs/leads.md): UTF-8 (a BOM is fine) or a declared line-based encoding
(`--encoding latin-1`), a header row, `,` `;` tab or `|` as the delimiter (sniffed from the
header). Columns, in any order: `lead_id` and `customer_id` and at least one phone column
(`phone`, `phone2`, `phone3`, ... or `phones` with numbers separated by `|`) are required;
`name`, `email`, `zone`, `priority`, `campaign_id`, `region` are optional. Any other column is
a CRM flag, stored as text and never consulted by the gate (`do_not_call=true` is copied to
the internal list, `false` changes nothing). Blank lines are skipped.
Line numbers are the file's physical lines (1 = the header), so a row with a quoted multi-line
field is reported at the line it starts on. The import is idempotent: importing a file twice
leaves the same leads.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from core.config.error_messages import quoted
from core.errors import SwitchboardError
from dialer.leads.store import LeadProblem, LeadStore, UpsertReport

CORE_COLUMNS = ("lead_id", "customer_id", "name", "email", "zone", "priority", "campaign_id", "region")
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


MAX_QUOTED_LINES = 50  # a quoted field spanning more lines than this is taken as never closed


def _lines(path: Path, encoding: str) -> tuple[list[str], list[int]]:
    """The file's physical lines, decoded one by one (so a bad byte is named by its own line),
    with the byte offset where each line ends (for progress)."""
    try:
        if codecs.lookup(encoding).name in {"utf-16", "utf-32"} or "\n".encode(encoding) != b"\n":
            why = "the file must be line based like UTF-8 or Latin-1"
            raise LeadFileError(f"encoding {encoding!r} is not supported ({why})", path=str(path))
    except LookupError:
        raise LeadFileError(f"unknown encoding {encoding!r}", path=str(path)) from None
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LeadFileError(f"cannot read {path}: {exc.strerror}", path=str(path)) from None
    codec = "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding
    lines: list[str] = []
    ends: list[int] = []
    offset = 0
    for number, raw in enumerate(data.splitlines(keepends=True), start=1):
        try:
            lines.append(raw.decode(codec if number == 1 else encoding))
        except UnicodeDecodeError as exc:
            raise LeadFileError(
                f"{path}: line {number}: is not {encoding} text (byte 0x{raw[exc.start]:02X} at column "
                f"{exc.start + 1}); convert the file or declare its encoding (--encoding latin-1)",
                path=str(path),
                line=number,
            ) from None
        offset += len(raw)
        ends.append(offset)
    return lines, ends


def _parse(text: str, dialect: Any, *, strict: bool) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline=""), dialect, strict=strict))


def _record(lines: list[str], i: int, dialect: Any, width: int) -> tuple[int, list[str] | str]:
    """The record starting at line index `i`: (lines used, cells) or (1, why it is not a record).

    A quoted field may span lines, but only if it closes, the record then has exactly the
    header's width and no line it spans is a complete row by itself; otherwise only the opening
    line is refused and the next line is read as a record of its own,
    so a stray quote never swallows the good rows after it."""
    try:
        records = _parse(lines[i], dialect, strict=True)
    except csv.Error as exc:
        if "unexpected end of data" not in str(exc):
            return 1, _parse(lines[i], dialect, strict=False)[0]
    else:
        return 1, records[0] if records else []
    for j in range(i + 1, min(len(lines), i + MAX_QUOTED_LINES)):
        if _whole_row(lines[j], dialect, width):
            break  # a complete row of its own: the quote on line i never closed
        try:
            records = _parse("".join(lines[i : j + 1]), dialect, strict=True)
        except csv.Error as exc:
            if "unexpected end of data" in str(exc):
                continue
            break
        if len(records) == 1 and len(records[0]) == width:
            return j - i + 1, records[0]
        break
    return 1, "a quoted field opens on this line and is never closed"


def _whole_row(line: str, dialect: Any, width: int) -> bool:
    try:
        records = _parse(line, dialect, strict=True)
    except csv.Error:
        return False
    return len(records) == 1 and len(records[0]) == width


def _rows(lines: list[str], path: Path) -> Iterator[tuple[int, int, dict[str, Any] | str]]:
    """(start line, lines used, lead dict) per record, or (start line, lines used, why) for a
    record that cannot be a lead."""
    header_line = lines[0] if lines else ""
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
    i = 1
    while i < len(lines):
        used, cells = _record(lines, i, dialect, len(header))
        start, i = i + 1, i + used
        shown = quoted(lines[start - 1].rstrip("\r\n"))  # the line itself, to find it in the file
        if isinstance(cells, str):
            yield start, i, f"{cells}: {shown}"
        elif not any(cell.strip() for cell in cells):
            continue
        elif len(cells) > len(header):
            width = f"the row has {len(cells)} cells but the header has {len(header)} columns"
            yield start, i, f"{width}: {shown}"
        else:
            yield start, i, row_to_lead(dict(zip(header, cells, strict=False)), columns)


async def import_csv(
    store: LeadStore,
    path: str | Path,
    *,
    campaign_id: str | None,
    now: datetime,
    actor: str,
    progress: Callable[[CsvProgress], None] | None = None,
    reopen: bool = False,
    encoding: str = "UTF-8",
    region: str | None = None,
) -> CsvReport:
    """Upsert every valid row of a lead CSV into `store`; bad rows are reported by line.

    The file is decoded with `encoding` (UTF-8 by default); a line that does not decode
    refuses the file naming that line. `region` is the batch's default region for numbers
    without a country code (a `region` column overrides it per row)."""
    path = Path(path)
    lines, ends = _lines(path, encoding)
    job = _Import(store, CsvReport(str(path)), campaign_id, now, actor, reopen, progress, region)
    job.total = ends[-1] if ends else 0
    for line, used, row in _rows(lines, path):
        await job.take(line, row, ends[used - 1])
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
    region: str | None = None
    total: int = 0
    position: int = 0
    batch: list[dict[str, Any]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)

    async def take(self, line: int, row: dict[str, Any] | str, position: int) -> None:
        self.report.rows += 1
        self.position = position
        if isinstance(row, str):
            self.report.upsert.errors.append(LeadProblem(self.report.rows - 1, None, row, line))
            return
        self.batch.append(row)
        self.lines.append(line)
        if len(self.batch) >= BATCH:
            await self.flush(position)

    async def flush(self, position: int | None) -> None:
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
                region=self.region,
            )
            part.errors = [LeadProblem(p.index + received, p.lead_id, p.message, p.line) for p in part.errors]
            self.report.upsert.add(part)
            self.batch, self.lines = [], []
        if self.progress is not None:
            position = self.total if position is None else position
            report = self.report
            self.progress(CsvProgress(position, self.total, report.rows, report.imported, len(report.errors)))


# The file reading the consent import shares (dialer/consent/csv_import.py): the same encodings,
# physical line numbers and quoting rules, so both imports name a bad line the same way.
read_lines = _lines
read_record = _record
