from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialer.campaign import (
    CallingWindow,
    CampaignBook,
    CampaignConfig,
    CampaignConfigError,
    InvalidTransition,
    LeadStatus,
    load_campaign,
    next_window_open,
    parse_campaign,
    utc,
    window_open,
)
from dialer.dnc import DoNotCall
from dialer.leads import Lead, parse_leads_csv

EXAMPLES = Path(__file__).resolve().parents[2] / "config" / "examples"
NY = ("America/New_York",)
MONDAY_NOON_NY = utc(2026, 6, 1, 16)  # 12:00 EDT


def lead(lead_id: str, phone: str = "+12125550101", zones: tuple[str, ...] = NY, priority: int = 0) -> Lead:
    return Lead(lead_id=lead_id, phone=phone, time_zones=zones, priority=priority)


def book(**overrides: object) -> CampaignBook:
    return CampaignBook(CampaignConfig(id="c1", **overrides))  # type: ignore[arg-type]


def test_example_campaign_loads() -> None:
    config = load_campaign(EXAMPLES / "campaign-spring-promo.toml")
    assert config.id == "spring-promo" and config.mode == "predictive"
    assert config.retry["failed"].retry is False
    assert config.retry["busy"].delay_minutes == 10
    assert config.dispositions["do_not_call"] == "dnc"
    pacing = config.pacing_config()
    assert pacing.windows_s == (720 * 3600.0, 24 * 3600.0)
    assert pacing.drop_cap == 0.03


def test_config_errors_name_file_key_and_reason() -> None:
    source = """
[campaign]
id = "bad id"
mode = "turbo"
drop_cap = 1.5
no_answer_timeout_s = 10
colour = "red"
[campaign.calling_window]
start = 21:00:00
end = 09:00:00
days = ["mon", "funday"]
[campaign.retry]
hungup = { delay_minutes = 1 }
[campaign.dispositions]
sale = "celebrate"
"""
    with pytest.raises(CampaignConfigError) as info:
        parse_campaign(source, "promo.toml")
    text = "\n".join(info.value.problems)
    assert "promo.toml: campaign.id:" in text
    assert "promo.toml: campaign.mode:" in text
    assert "promo.toml: campaign.drop_cap:" in text
    assert "promo.toml: campaign.no_answer_timeout_s:" in text
    assert "promo.toml: campaign.colour: unknown key" in text
    assert "campaign.calling_window.days: unknown day(s) funday" in text
    assert "campaign.retry: unknown outcome(s) hungup" in text
    assert "campaign.dispositions: unknown action(s) sale=celebrate" in text
    with pytest.raises(CampaignConfigError, match="required table"):
        parse_campaign("[other]\n", "x.toml")
    with pytest.raises(CampaignConfigError, match=r"x\.toml: "):
        parse_campaign("[campaign\n", "x.toml")


def test_calling_window_is_in_the_leads_local_time_across_dst() -> None:
    window = CallingWindow()  # 09:00-21:00, mon-sat
    # June (EDT, UTC-4): 09:00 local = 13:00 UTC
    assert not window_open(window, NY, utc(2026, 6, 1, 12, 59))
    assert window_open(window, NY, utc(2026, 6, 1, 13, 0))
    # March 2 (EST, UTC-5): 13:30 UTC is 08:30 local
    assert not window_open(window, NY, utc(2026, 3, 2, 13, 30))
    assert window_open(window, NY, utc(2026, 3, 2, 14, 0))
    # Honolulu at the same instant is still asleep
    assert not window_open(window, ("Pacific/Honolulu",), utc(2026, 6, 1, 13, 0))
    # Sunday is not an allowed day
    assert not window_open(window, NY, utc(2026, 6, 7, 16))
    # every zone of a multi-zone number must be open
    assert not window_open(window, ("America/New_York", "America/Los_Angeles"), utc(2026, 6, 1, 14))
    assert window_open(window, ("America/New_York", "America/Los_Angeles"), utc(2026, 6, 1, 16))


def test_next_window_open() -> None:
    window = CallingWindow()
    # Saturday 22:00 EDT -> Monday 09:00 EDT (Sunday excluded)
    assert next_window_open(window, NY, utc(2026, 6, 7, 2)) == utc(2026, 6, 8, 13)
    both = ("America/New_York", "America/Los_Angeles")
    assert next_window_open(window, both, utc(2026, 6, 1, 12)) == utc(2026, 6, 1, 16)
    # zones 11+ hours apart never share a 12-hour window that starts at 09:00 on both
    assert next_window_open(CallingWindow(start="09:00", end="10:00"), ("Asia/Tokyo", "America/New_York"), 0.0) is None


def test_selector_orders_respects_count_and_windows() -> None:
    b = book()
    b.add_leads(
        [
            lead("ny1"),
            lead("hi1", "+18085550106", ("Pacific/Honolulu",)),
            lead("ny2", priority=5),
            lead("ny3"),
        ],
        now=MONDAY_NOON_NY - 60,
    )
    first = b.next_leads(MONDAY_NOON_NY, 2)
    assert [x.lead_id for x in first.leads] == ["ny2", "ny1"]  # priority first, then import order
    second = b.next_leads(MONDAY_NOON_NY, 5)
    # Honolulu is at 06:00: deferred to its 09:00 opening, not dialled
    assert [x.lead_id for x in second.leads] == ["ny3"]
    assert second.deferred == 1
    hi = b.state("hi1")
    assert hi.status == LeadStatus.PENDING and hi.next_at == utc(2026, 6, 1, 19)
    assert b.next_leads(utc(2026, 6, 1, 19), 5).leads[0].lead_id == "hi1"
    assert b.state("ny1").status == LeadStatus.DIALING and b.state("ny1").attempts == 1


def test_dnc_is_checked_at_dial_time() -> None:
    dnc = DoNotCall("US")
    b = CampaignBook(CampaignConfig(id="c1", dnc=("+1 312 555 0102",)), dnc)
    b.add_leads([lead("a"), lead("b", "+13125550102"), lead("c", "+14155550103")], MONDAY_NOON_NY - 1)
    dnc.add("(212) 555-0101")  # global list grows after the import
    selection = b.next_leads(MONDAY_NOON_NY, 10)
    assert [x.lead_id for x in selection.leads] == ["c"]
    assert set(selection.blocked) == {"a", "b"}
    assert b.state("a").status == LeadStatus.BLOCKED


def test_retry_rules_by_outcome_and_max_attempts() -> None:
    b = book(max_attempts=2)
    b.add_leads([lead("a")], MONDAY_NOON_NY)
    t = MONDAY_NOON_NY
    assert [x.lead_id for x in b.next_leads(t, 1).leads] == ["a"]
    state = b.record_outcome("a", "busy", t + 30)
    assert state.status == LeadStatus.PENDING and state.next_at == t + 30 + 600
    assert b.next_leads(t + 600, 1).leads == ()  # not due yet
    assert b.next_leads(t + 630, 1).leads[0].lead_id == "a"
    state = b.record_outcome("a", "no_answer", t + 660)
    assert state.status == LeadStatus.EXHAUSTED and state.attempts == 2
    with pytest.raises(InvalidTransition):
        b.record_outcome("a", "busy", t + 700)
    with pytest.raises(ValueError, match="unknown outcome"):
        b.record_outcome("a", "exploded", t + 700)


def test_outcome_without_retry_closes_the_lead() -> None:
    b = book(retry={"failed": {"delay_minutes": 1, "retry": False}})
    b.add_leads([lead("a")], MONDAY_NOON_NY)
    b.next_leads(MONDAY_NOON_NY, 1)
    assert b.record_outcome("a", "failed", MONDAY_NOON_NY + 5).status == LeadStatus.DONE
    assert b.config.retry["busy"].delay_minutes == 10  # defaults kept for the others


def test_recycling_brings_exhausted_leads_back() -> None:
    b = book(max_attempts=1, recycle={"outcomes": ["no_answer"], "after_hours": 48, "max_cycles": 1})
    b.add_leads([lead("a"), lead("m")], MONDAY_NOON_NY)
    t = MONDAY_NOON_NY
    b.next_leads(t, 2)
    a = b.record_outcome("a", "no_answer", t + 30)
    m = b.record_outcome("m", "machine", t + 30)
    assert a.status == LeadStatus.PENDING and a.cycle == 1 and a.attempts == 0
    assert a.next_at == t + 30 + 48 * 3600
    assert m.status == LeadStatus.EXHAUSTED  # machine is not a recycled outcome here
    b.next_leads(a.next_at, 1)
    assert b.record_outcome("a", "no_answer", a.next_at + 30).status == LeadStatus.EXHAUSTED  # cycles used


def test_dispositions() -> None:
    dnc = DoNotCall("US")
    b = CampaignBook(CampaignConfig(id="c1"), dnc)
    leads = [
        lead("sale", "+12125550101"),
        lead("cb", "+12125550102"),
        lead("dnc", "+12125550103"),
        lead("again", "+12125550104"),
    ]
    b.add_leads(leads, MONDAY_NOON_NY)
    t = MONDAY_NOON_NY
    b.next_leads(t, 4)
    for x in leads:
        b.record_connected(x.lead_id, t + 10)
    assert b.record_disposition("sale", "sale", t + 100).status == LeadStatus.DONE
    with pytest.raises(ValueError, match="callback_at"):
        b.record_disposition("cb", "callback", t + 100)
    cb = b.record_disposition("cb", "callback", t + 100, callback_at=t + 7200)
    assert cb.status == LeadStatus.PENDING and cb.next_at == t + 7200
    assert b.record_disposition("dnc", "do_not_call", t + 100).status == LeadStatus.DONE
    assert dnc.blocked("+12125550103", "c1") and not dnc.blocked("+12125550103", "other")
    again = b.record_disposition("again", "no_decision", t + 100)
    assert again.status == LeadStatus.PENDING and again.next_at == t + 100 + 3600
    with pytest.raises(ValueError, match="unknown disposition 'great'"):
        b.record_disposition("sale", "great", t + 200)
    with pytest.raises(InvalidTransition):
        b.record_disposition("sale", "sale", t + 200)
    assert b.next_leads(t + 7200, 5).leads[0].lead_id == "cb"
    assert b.counts()["done"] == 2
    assert b.leads_left() == 2


def test_preview_and_csv_to_book() -> None:
    imported = parse_leads_csv("lead_id,phone\nx,+12125550101\ny,+12125550102\n")
    b = book(mode="preview")
    assert b.add_leads(imported.leads, MONDAY_NOON_NY) == []
    assert b.add_leads(imported.leads[:1], MONDAY_NOON_NY) == ["x"]  # duplicate ids skipped
    first = b.preview(MONDAY_NOON_NY)
    assert first is not None and first.lead_id == "x"
    assert b.state("x").status == LeadStatus.DIALING
    with pytest.raises(KeyError):
        b.state("nope")


ZONES = [
    ("America/New_York",),
    ("America/Los_Angeles",),
    ("Europe/London",),
    ("Asia/Tokyo",),
    ("America/New_York", "America/Chicago"),
]


@settings(max_examples=40, deadline=None)
@given(
    zone_ids=st.lists(st.integers(0, len(ZONES) - 1), min_size=1, max_size=30),
    dnc_every=st.integers(2, 7),
    steps=st.lists(
        st.tuples(
            st.integers(0, 12 * 3600), st.integers(0, 6), st.sampled_from(["busy", "no_answer", "machine", "dropped"])
        ),
        max_size=15,
    ),
)
def test_selector_never_breaks_the_rules(
    zone_ids: list[int], dnc_every: int, steps: list[tuple[int, int, str]]
) -> None:
    dnc = DoNotCall("US")
    b = CampaignBook(CampaignConfig(id="c1", max_attempts=3), dnc)
    leads = [lead(f"l{i}", f"+1212{2000000 + i:07d}", ZONES[z]) for i, z in enumerate(zone_ids)]
    b.add_leads(leads, MONDAY_NOON_NY)
    now = MONDAY_NOON_NY
    for advance, count, outcome in steps:
        now += advance
        if advance % 3 == 0:
            dnc.add(leads[advance % len(leads)].phone)
        chosen = b.next_leads(now, count).leads
        assert len(chosen) <= count
        assert len({x.lead_id for x in chosen}) == len(chosen)
        for x in chosen:
            assert window_open(b.config.calling_window, x.time_zones, now)
            assert not dnc.blocked(x.phone, "c1")
            assert b.state(x.lead_id).attempts <= 3
            b.record_outcome(x.lead_id, outcome, now + 30)
