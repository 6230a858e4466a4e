"""CSV import of leads: bad lines reported by number, the rest imported, progress reported, idempotent."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from dialer.leads.csv_import import CsvProgress, LeadFileError, import_csv
from dialer.leads.store import LeadStore

T0 = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)

GOOD_AND_BAD = """\
lead_id,customer_id,name,phone,phone2,email,priority,do_not_call
L1,C1,Kiss Anna,06 30 123 4567,,anna@example.hu,5,false
L2,C2,Nagy Béla,+36 1 234 5678,06701112222,,,false

L3,C3,No Phone,,,,,false
L4,,No Customer,06301112233,,,,false
L5,C5,Bad Number,12,,,,false
L6,C6,"Multi
line name",06201234567,,,,false
L7,C7,Too many,06301230000,,,,false,extra
L8,C8,Bad priority,06301239999,,,high,false
L9,C9,Tóth Éva,0036 30 999 8888,,,1,true
"""


@pytest.fixture
def leads(redis_client: aioredis.Redis) -> LeadStore:
    return LeadStore(redis_client, default_region="HU")


def write(tmp_path: Path, content: str, name: str = "leads.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode(encoding))
    return path


async def test_bad_lines_are_reported_by_number_and_the_rest_imported(
    leads: LeadStore, tmp_path: Path
) -> None:
    path = write(tmp_path, GOOD_AND_BAD)
    seen: list[CsvProgress] = []
    report = await import_csv(leads, path, campaign_id="spring", now=T0, actor="cli", progress=seen.append)
    by_line = {problem.line or 0: problem.message for problem in report.errors}
    assert sorted(by_line) == [5, 6, 7, 10, 11]
    assert "phones: must have at least 1 item" in by_line[5]
    assert by_line[6] == "customer_id: is required"
    assert by_line[7].startswith("phones[0]: not a possible phone number: '12'")
    assert by_line[10] == (
        "the row has 9 cells but the header has 8 columns: 'L7,C7,Too many,06301230000,,,,false,extra'"
    )
    assert by_line[11].startswith("priority 'high':"), "the bad cell is quoted"
    assert report.imported == 4 and report.upsert.created == 4 and report.rows == 9
    l2 = await leads.get("L2")
    assert l2.phones == ("+3612345678", "+36701112222") and l2.campaign_id == "spring"
    assert (await leads.get("L6")).name == "Multi\nline name"
    assert (await leads.get("L9")).crm == {"do_not_call": "true"}
    assert seen and seen[-1].bytes_read == seen[-1].bytes_total == path.stat().st_size
    assert seen[-1].imported == 4 and seen[-1].errors == 5


async def test_importing_the_same_file_twice_changes_nothing(leads: LeadStore, tmp_path: Path) -> None:
    path = write(tmp_path, GOOD_AND_BAD)
    await import_csv(leads, path, campaign_id="spring", now=T0, actor="cli")
    again = await import_csv(leads, path, campaign_id="spring", now=T0, actor="cli")
    assert (again.upsert.created, again.upsert.updated, again.upsert.unchanged) == (0, 0, 4)
    assert (await leads.queue_sizes("spring"))["ready"] == 4


async def test_semicolons_bom_and_a_phones_list_column(redis_client: aioredis.Redis, tmp_path: Path) -> None:
    content = "\ufefflead_id;customer_id;phones;campaign_id\nP1;K1;+48 512 345 678|22 123 45 67;pl-1\n"
    path = write(tmp_path, content)
    leads_pl = LeadStore(redis_client, default_region="PL")
    report = await import_csv(leads_pl, path, campaign_id="default", now=T0, actor="cli")
    assert report.errors == [] and report.imported == 1
    stored = await leads_pl.get("P1")
    assert stored.phones == ("+48512345678", "+48221234567") and stored.campaign_id == "pl-1"


async def test_a_file_without_the_required_columns_is_refused_whole(leads: LeadStore, tmp_path: Path) -> None:
    path = write(tmp_path, "id,name,tel\n1,a,06301234567\n")
    with pytest.raises(LeadFileError, match="lacks column\\(s\\) lead_id, customer_id, phone"):
        await import_csv(leads, path, campaign_id="c", now=T0, actor="cli")


async def test_a_file_that_is_not_utf8_is_refused(leads: LeadStore, tmp_path: Path) -> None:
    path = write(tmp_path, "lead_id,customer_id,phone\nL1,C1,06301234567,Tóth\n", encoding="latin-1")
    with pytest.raises(LeadFileError, match="not UTF-8"):
        await import_csv(leads, path, campaign_id="c", now=T0, actor="cli")


async def test_a_missing_file_is_a_clear_error(leads: LeadStore, tmp_path: Path) -> None:
    with pytest.raises(LeadFileError, match="cannot read"):
        await import_csv(leads, tmp_path / "nope.csv", campaign_id="c", now=T0, actor="cli")


BROKEN_ROW = """\
lead_id,customer_id,name,phone
C-1,K1,Anna,06301000001
C-2,K2,Béla,06301000002
C-3,K3,Csaba,06301000003
C-4,K4,Dóra,06301000004
C-5,K5,Elek,06301000005
C-6,K6,"Feri,06301000006
C-7,K7,Gizi,06301000007
C-8,K8,"Hajni" x,06301000008
C-9,K9,Ildi,06301000009
C-10,K10,Jani,06301000010
"""


async def test_a_row_with_a_stray_quote_does_not_swallow_the_good_rows_after_it(
    leads: LeadStore, tmp_path: Path
) -> None:
    report = await import_csv(leads, write(tmp_path, BROKEN_ROW), campaign_id="c", now=T0, actor="cli")
    by_line = {problem.line: problem.message for problem in report.errors}
    assert list(by_line) == [7]
    assert by_line[7] == "a quoted field opens on this line and is never closed: 'C-6,K6,\"Feri,06301000006'"
    assert report.rows == 10 and report.imported == 9 and report.imported + len(report.errors) == report.rows
    assert (await leads.get("C-7")).name == "Gizi"
    assert (await leads.get("C-9")).phones == ("+36301000009",)
    assert (await leads.get("C-8")).name == "Hajni x"


async def test_a_latin1_byte_is_named_by_its_own_line_and_a_declared_encoding_imports_it(
    leads: LeadStore, tmp_path: Path
) -> None:
    rows = "".join(f"L{n},C{n},Name {n},0630100{n:04d}\n" for n in range(1, 12))
    content = "lead_id,customer_id,name,phone\n" + rows + "L12,C12,Tóth Éva,06301009999\n"
    path = write(tmp_path, content, encoding="latin-1")
    refusal = r"line 13: is not UTF-8 text \(byte 0xF3 at column 10\)"
    with pytest.raises(LeadFileError, match=refusal) as caught:
        await import_csv(leads, path, campaign_id="c", now=T0, actor="cli")
    assert "--encoding" in str(caught.value)
    report = await import_csv(leads, path, campaign_id="c", now=T0, actor="cli", encoding="latin-1")
    assert report.errors == [] and report.imported == 12
    assert (await leads.get("L12")).name == "Tóth Éva"


async def test_an_unknown_encoding_is_refused_by_name(leads: LeadStore, tmp_path: Path) -> None:
    path = write(tmp_path, "lead_id,customer_id,phone\n")
    with pytest.raises(LeadFileError, match="unknown encoding 'klingon'"):
        await import_csv(leads, path, campaign_id="c", now=T0, actor="cli", encoding="klingon")


async def test_a_region_column_reads_national_numbers_and_invalid_numbers_are_reported_by_line(
    leads: LeadStore, tmp_path: Path
) -> None:
    content = (
        "lead_id,customer_id,phone,region\n"
        "PL-1,K1,601 234 567,PL\n"  # Polish mobile, read in PL
        "PL-2,K2,601 234 567,\n"  # the same digits read in HU: possible, not valid
        "PL-3,K3,601 234 567,ZZ\n"
    )
    report = await import_csv(leads, write(tmp_path, content), campaign_id="c", now=T0, actor="cli")
    by_line = {problem.line: problem.message for problem in report.errors}
    assert sorted(by_line) == [3, 4]
    assert by_line[3].startswith("phones[0]: not a valid phone number in HU: '601 234 567'")
    assert by_line[4].startswith("region 'ZZ': must be an ISO 3166 region code")
    assert (await leads.get("PL-1")).phones == ("+48601234567",)
    path = write(tmp_path, content)
    batch = await import_csv(leads, path, campaign_id="c", now=T0, actor="cli", region="PL")
    assert (await leads.get("PL-2")).phones == ("+48601234567",) and batch.imported == 2
