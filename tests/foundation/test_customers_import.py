"""`hotline customers import`: rejected rows by line and reason, accepted rows committed together."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from click.testing import CliRunner

from config.schema import StoreConfig
from cti.cli import main
from store import open_store

CSV = """id,name,company,tier,phones,email,account_number,notes,segment
c1,Alice Martin,ACME,gold,(415) 555-0100;+44 20 7946 0958,alice@example.com,AC-1,likes email,smb
c2,,ACME,gold,4155550101,,AC-2,,
c3,Carl Jones,,standard,not-a-phone,,AC-3,,
c4,Dana White,,diamond,4155550103,,AC-4,,
c5,Eve Black,,vip,4155550104,eve@example.com,AC-1,,
c6,Fay Green,,vip,4155550105,fay@,AC-6,,
c7,Gus Brown,Initech,standard,4155550106,,AC-7,,enterprise
c8,Extra,,,4155550107,,AC-8,,,surplus
"""


def _write_config(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "hotline.toml"
    path.write_text(f'[store]\nurl = "{url}"\n')
    return path


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_import_reports_rejected_rows_and_commits_the_rest(tmp_path: Path, backend: str, request) -> None:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path}/c.sqlite3"
    else:
        url = request.getfixturevalue("fresh_pg_url")
    config = _write_config(tmp_path, url)
    csv_path = tmp_path / "customers.csv"
    csv_path.write_text(CSV)
    result = CliRunner().invoke(main, ["customers", "import", str(csv_path), "--config", str(config)])
    assert result.exit_code == 3, result.output
    rejected = [line for line in result.output.splitlines() if ": rejected: " in line]
    assert [line.split(":")[1] for line in rejected] == ["3", "4", "5", "6", "7", "9"]
    assert "name: required" in rejected[0]
    assert "phones: not a phone number" in rejected[1]
    assert "tier: 'diamond'" in rejected[2]
    assert "account_number: duplicate 'AC-1'" in rejected[3]
    assert "email:" in rejected[4]
    assert "more field(s)" in rejected[5]
    assert "imported 2 customer(s), rejected 6" in result.output

    async def check() -> None:
        store = await open_store(StoreConfig(url=url))
        try:
            if backend == "postgresql":
                ids = {c.id for c in await store.find_customers_by_phone("4155550100")}
                assert "c1" in ids
            alice = await store.get_customer("c1")
            assert alice.phones == ("+14155550100", "+442079460958")
            assert alice.attributes == {"segment": "smb"}
            assert (await store.find_customer_by_account("AC-7")).company == "Initech"
        finally:
            await store.close()

    asyncio.run(check())

    # Importing again: a row whose account belongs to another stored customer is rejected.
    again = tmp_path / "again.csv"
    again.write_text("id,name,account_number\nc9,Ian,AC-7\nc1,Alice Martin,AC-1\n")
    result = CliRunner().invoke(main, ["customers", "import", str(again), "--config", str(config)])
    assert "again.csv:2: rejected: account_number: 'AC-7' belongs to customer 'c7'" in result.output
    assert "imported 1 customer(s), rejected 1" in result.output


@pytest.mark.parametrize(
    "rows", ["id,name,account_number\nc1,,AC-1\nc2,,AC-2\n", "id,name\n", ""], ids=["all-rejected", "header", "empty"]
)
def test_import_exits_1_when_nothing_was_imported(tmp_path: Path, rows: str) -> None:
    config = _write_config(tmp_path, f"sqlite:///{tmp_path}/n.sqlite3")
    path = tmp_path / "none.csv"
    path.write_text(rows)
    result = CliRunner().invoke(main, ["customers", "import", str(path), "--config", str(config)])
    assert result.exit_code == 1, result.output
    assert "imported 0 customer(s)" in result.output


def test_db_migrate_command(tmp_path: Path) -> None:
    config = _write_config(tmp_path, f"sqlite:///{tmp_path}/m.sqlite3")
    first = CliRunner().invoke(main, ["db", "migrate", "--config", str(config)])
    assert first.exit_code == 0 and "migration(s): 0001_initial" in first.output  # later migrations follow
    second = CliRunner().invoke(main, ["db", "migrate", "--config", str(config)])
    assert "applied 0 migration(s)" in second.output
