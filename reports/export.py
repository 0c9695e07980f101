"""The reports' exports: one table of rows per section (the same columns whichever
format), written as CSV or as an XLSX workbook. In the workbook numbers stay numbers
(a spreadsheet sums them without a "convert to number" step) and an empty cell is a
missing value, as an empty CSV field is.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

CSV_SECTIONS = ("summary", "intervals", "queues", "teams", "agents", "pauses", "dispositions", "campaigns")
EXTRA_SECTIONS = ("pauses", "dispositions", "campaigns")  # from the report's `extras`
CAMPAIGN_COLUMNS = ("dials", "contacts", "human", "answered", "machine", "busy", "no_answer", "congestion", "failed",
                    "skipped", "dnc_blocked", "drops", "drop_rate")  # fmt: skip
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

Row = list[Any]  # str, int, float or None (missing)


def extras_rows(section: str, extras: dict[str, Any]) -> list[Row]:
    """Pauses (reason, agent, seconds) and dispositions (disposition, agent, calls) one
    row per agent; campaigns one row each with their counts and drop rate."""
    if section == "campaigns":
        rows: list[Row] = [["campaign", *CAMPAIGN_COLUMNS]]
        for name, c in extras["campaigns"].items():
            rate = c.get("drop_rate")
            counts = [int(c.get(k, 0)) for k in CAMPAIGN_COLUMNS[:-1]]
            rows.append([name, *counts, None if rate is None else round(rate, 4)])
        return rows
    pauses = section == "pauses"
    rows = [["reason" if pauses else "disposition", "agent", "seconds" if pauses else "calls"]]
    for row, entry in extras[section].items():
        for agent, value in entry["by_agent"].items():
            rows.append([row, agent, round(value, 1) if pauses else int(value)])
    return rows


def report_rows(section: str, report: dict[str, Any]) -> list[Row]:
    """The summary (inbound, and outbound when campaigns dialled), the intervals, or
    one row per queue / team / agent, with every metric of the report."""
    rows: list[tuple[str, dict[str, Any]]]
    if section == "summary":
        rows = [("all", report["overall"])]  # inbound
        if report.get("outbound", {}).get("queues"):
            rows.append(("outbound", report["outbound"]["total"]))
    elif section == "intervals":
        rows = [(datetime.fromtimestamp(i["start"]).isoformat(timespec="minutes"), i) for i in report["intervals"]]
    else:
        rows = [(name, entry["total"]) for name, entry in report[section].items()]
    metrics = [k for k in (rows[0][1] if rows else report["overall"]) if k != "start"]
    out: list[Row] = [["name" if section != "intervals" else "interval_start", *metrics]]
    out += [[name, *(values.get(m) for m in metrics)] for name, values in rows]
    return out


def section_rows(section: str, data: dict[str, Any]) -> list[Row]:
    """The rows of `section` of a built report (`{"report", "extras"}`)."""
    if section in EXTRA_SECTIONS:
        return extras_rows(section, data["extras"])
    return report_rows(section, data["report"])


def to_csv(rows: list[Row]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    return out.getvalue()


def to_xlsx(rows: list[Row], sheet: str) -> bytes:
    """One worksheet named after the section, the header row bold and frozen."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    ws = book.active
    assert ws is not None  # (a new workbook has its sheet)
    ws.title = sheet[:31]  # (Excel's limit)
    for row in rows:
        ws.append(row)
    for line in ws.iter_rows():
        for cell in line:
            if cell.data_type == "f":  # a name typed by a user ("=...") stays text, never a formula
                cell.data_type = "s"
    for cell in ws[1]:
        cell.font = Font(bold=True)
    ws.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
