"""The reports' XLSX export: the same rows and columns as the CSV, numbers as numbers,
read back with openpyxl and checked against the JSON report."""

from __future__ import annotations

import csv
import io
import math

from aiohttp.test_utils import TestClient
from openpyxl import load_workbook

from tests.web.test_web_reports_outbound import OUTBOUND, answered_calls
from tests.web.web_helpers import login


def same(cell: object, field: str) -> bool:
    """A workbook cell against its CSV field: text equal, a number equal as a number
    (to 0.1 %: a rate measured up to "now" moves between the two requests)."""
    if cell is None:
        return field == ""
    if isinstance(cell, str):
        return cell == field
    assert isinstance(cell, int | float)
    return math.isclose(cell, float(field), rel_tol=1e-3)


async def test_the_xlsx_export_has_the_csv_columns_with_numbers_as_numbers(client: TestClient) -> None:
    await answered_calls(
        client, [("in1", "billing", 5, {}), ("in2", "sales", 42, {}), ("out1", "campaign-demo", 60, OUTBOUND)]
    )
    await login(client, "admin")
    report = await (await client.get("/api/v1/reports")).json()
    for section in ("summary", "queues", "agents", "intervals"):
        r = await client.get(f"/reports/export.xlsx?section={section}")
        assert r.status == 200, await r.text()
        assert r.content_type == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        assert f"hotline-{section}-" in r.headers["Content-Disposition"]
        sheet = load_workbook(io.BytesIO(await r.read())).active
        assert sheet is not None and sheet.title == section
        cells = [list(row) for row in sheet.iter_rows(values_only=True)]
        text = await (await client.get(f"/reports/export.csv?section={section}")).text()
        rows = list(csv.reader(io.StringIO(text)))
        assert cells[0] == rows[0]  # the same header
        assert [len(row) for row in cells] == [len(row) for row in rows]
        for cell_row, csv_row in zip(cells, rows, strict=True):  # the same values
            assert all(same(c, v) for c, v in zip(cell_row, csv_row, strict=True)), (cell_row, csv_row)
        for row in cells[1:]:
            assert all(v is None or isinstance(v, int | float) for v in row[1:]), row  # no number as text
    sheet = load_workbook(io.BytesIO(await (await client.get("/reports/export.xlsx?section=queues")).read())).active
    assert sheet is not None
    header = [c.value for c in sheet[1]]
    by_queue = {row[0]: dict(zip(header, row, strict=True)) for row in sheet.iter_rows(min_row=2, values_only=True)}
    for queue in ("billing", "sales"):
        total = report["queues"][queue]["total"]
        assert by_queue[queue]["offered"] == total["offered"] == 1
        assert by_queue[queue]["service_level"] == total["service_level"]
        assert by_queue[queue]["asa"] == total["asa"]
    assert by_queue["sales"]["service_level"] == 0.0 and by_queue["billing"]["service_level"] == 1.0


async def test_the_xlsx_export_names_a_bad_section(client: TestClient) -> None:
    await login(client, "admin")
    r = await client.get("/reports/export.xlsx?section=nope")
    assert r.status == 400 and (await r.json())["error"].startswith("section:")
    r = await client.get("/reports/export.xlsx?from=2026-13-01")
    assert r.status == 400
    client.session.cookie_jar.clear()
    await login(client, "agent01")
    assert (await client.get("/reports/export.xlsx?section=summary")).status == 403
