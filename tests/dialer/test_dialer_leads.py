from pathlib import Path

import pytest

from dialer.dnc import DoNotCall
from dialer.leads import PhoneNumberError, load_leads_csv, normalize_phone, parse_leads_csv, time_zones_for

EXAMPLES = Path(__file__).resolve().parents[2] / "config" / "examples"


def test_import_keeps_good_rows_and_reports_bad_ones_by_line() -> None:
    text = (
        "lead_id,phone,first_name,time_zone,priority,account\n"
        "A1,(212) 555-0101,Ada,,0,X1\n"
        "A2,555-0105,Bad,,0,X2\n"
        "\n"
        "A1,+1 312 555 0102,Dup,,0,X3\n"
        "A4,+1 312 555 0104,Zone,Mars/Olympus,0,X4\n"
        "A5,+1 312 555 0105,Prio,,high,X5\n"
        "A6,+1 312 555 0106,Short\n"
        ",+1 312 555 0107,NoId,,0,X7\n"
        'A8,"+1 (415) 555-0108","Smith, Jr.",America/Los_Angeles,2,X8\n'
    )
    result = parse_leads_csv(text, "US", "leads.csv")
    assert [lead.lead_id for lead in result.leads] == ["A1", "A8"]
    reasons = {r.line: r.reason for r in result.rejected}
    assert set(reasons) == {3, 5, 6, 7, 8, 9}
    assert "not a valid number" in reasons[3]
    assert "duplicate 'A1'" in reasons[5]
    assert "unknown time zone 'Mars/Olympus'" in reasons[6]
    assert reasons[7].startswith("priority:")
    assert "expected 6 fields, found 3" in reasons[8]
    assert reasons[9] == "lead_id: required"
    assert result.report()[0] == "leads.csv:3: phone: '555-0105' is not a valid number (region US)"
    a1, a8 = result.leads
    assert a1.phone == "+12125550101"
    assert a1.time_zones == ("America/New_York",)  # derived from the number prefix
    assert a1.attributes == {"account": "X1"}
    assert a8.first_name == "Smith, Jr."
    assert a8.time_zones == ("America/Los_Angeles",)  # from the column
    assert a8.priority == 2


def test_header_problems_reject_the_whole_file() -> None:
    assert parse_leads_csv("").rejected[0].reason.startswith("empty file")
    missing = parse_leads_csv("lead_id,name\n1,x\n")
    assert missing.leads == ()
    assert missing.rejected[0].line == 1 and "missing column(s) phone" in missing.rejected[0].reason
    dup = parse_leads_csv("lead_id,phone,phone\n")
    assert "duplicate column(s) phone" in dup.rejected[0].reason


def test_header_names_are_case_insensitive_and_bom_is_ignored() -> None:
    result = parse_leads_csv("\ufeffLead_ID,PHONE\nx,+12125550101\n")
    assert [lead.lead_id for lead in result.leads] == ["x"]


def test_time_zones_from_number_prefix() -> None:
    assert time_zones_for("+12065550100") == ("America/Los_Angeles",)
    assert time_zones_for("+18085550100") == ("Pacific/Honolulu",)
    assert time_zones_for("+33142685300") == ("Europe/Paris",)
    # a number spanning several zones keeps them all
    assert len(time_zones_for("+79161234567")) > 3


def test_normalize_phone_errors_say_why() -> None:
    assert normalize_phone("212.555.0101", "US") == "+12125550101"
    with pytest.raises(PhoneNumberError, match="empty"):
        normalize_phone("  ", "US")
    with pytest.raises(PhoneNumberError, match="cannot parse"):
        normalize_phone("hello", "US")


def test_example_lead_list_imports_with_its_documented_rejections() -> None:
    result = load_leads_csv(EXAMPLES / "leads-spring-promo.csv", "US")
    assert len(result.leads) == 7
    assert [r.line for r in result.rejected] == [6, 9, 10, 11]


def test_non_utf8_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    path.write_bytes(b"lead_id,phone\n1,\xff\xfe\n")
    result = load_leads_csv(path)
    assert result.leads == () and "not UTF-8" in result.rejected[0].reason


def test_dnc_lists_global_and_per_campaign() -> None:
    dnc = DoNotCall("US")
    problems = dnc.load_text("# header\n(212) 555-0101\nnot a number\n+1 312 555 0102  # note\n")
    assert [p.line for p in problems] == [3]
    dnc.add("415-555-0103", campaign="spring")
    assert dnc.blocked("+12125550101", "spring") and dnc.blocked("+12125550101", "other")
    assert dnc.blocked("+14155550103", "spring") and not dnc.blocked("+14155550103", "other")
    dnc.remove("+1 212 555 0101")
    assert not dnc.blocked("+12125550101", "spring")
    assert len(dnc) == 2
