"""Reports by channel (issue 18): exact figures from a small day of calls, chats and
e-mails; the live board; and the API over a real store."""

from __future__ import annotations

import asyncio
import time
from datetime import date
from pathlib import Path

from aiohttp.test_utils import TestClient

from reports.channels import board, channel_report, concurrency
from store.models import Interaction
from tasks.model import Task
from tests.web.conftest import serving, web_config
from tests.web.web_helpers import login


def chat(tid: str, created: float, **kw: object) -> Task:
    return Task(tid, "chat", "support", created_at=created, **kw)  # type: ignore[arg-type]


TASKS = [
    # ann holds two chats at once (100-160 and 120-200), bob one e-mail
    chat("t1", 90, state="closed", agent_id="ann", assigned_at=100, first_response_at=110, closed_at=160),
    chat("t2", 100, state="closed", agent_id="ann", assigned_at=120, first_response_at=140, closed_at=200),
    chat("t3", 150, state="abandoned", closed_at=170),
    Task(
        "e1",
        "email",
        "support",
        created_at=0,
        state="assigned",
        agent_id="bob",
        assigned_at=600,
        first_response_at=1800,
    ),
]
CALLS = [
    Interaction("c1", queue="q", agent_id="ann", started_at=95, answered_at=105, ended_at=185, outcome="answered"),
    Interaction("c2", queue="q", started_at=300, ended_at=330, outcome="abandoned"),
]


def test_concurrency_is_time_weighted_while_holding_any() -> None:
    assert concurrency([(100, 160), (120, 200)]) == ((60 + 80) / 100, 2)
    assert concurrency([(0, 10), (20, 30)]) == (1.0, 1)
    assert concurrency([]) == (None, 0)


def test_each_channel_gets_its_own_figures() -> None:
    report = channel_report(TASKS, CALLS, 0, 1000, now=2000)
    chats = report["channels"]["chat"]
    assert (chats["offered"], chats["answered"], chats["abandoned"], chats["abandon_rate"]) == (3, 2, 1, 0.3333)
    assert chats["first_response_s"] == 30.0  # (20 + 40) / 2
    assert chats["wait_s"] == 15.0 and chats["handle_s"] == 70.0  # (60 + 80) / 2
    assert (chats["concurrency"], chats["concurrency_max"]) == (1.4, 2)
    email = report["channels"]["email"]
    assert (email["offered"], email["answered"], email["first_response_s"], email["handle_s"]) == (1, 1, 1800.0, None)
    voice = report["channels"]["voice"]
    assert (voice["offered"], voice["answered"], voice["abandoned"], voice["first_response_s"]) == (2, 1, 1, 10.0)
    assert voice["handle_s"] == 80.0 and report["channels"]["callback"]["offered"] == 0
    # ann: two chats and a call overlapping (100-200), bob's e-mail still open at `now`
    assert report["blended"]["concurrency_max"] == 3
    bob_s = 2000 - 600  # (ann held 220 s of contacts in the 100 s she held any)
    assert report["blended"]["concurrency"] == round((60 + 80 + 80 + bob_s) / (100 + bob_s), 2)


def test_the_board_counts_waiting_handling_and_overdue() -> None:
    now = 1000.0
    rows = [
        Task("w1", "email", "q", created_at=100, due_at=500),
        Task("w2", "email", "q", created_at=400, due_at=5000),
        Task("a1", "chat", "q", created_at=900, state="assigned", agent_id="ann"),
    ]
    view = board(rows, now)
    assert view["email"] == {"waiting": 2, "longest_wait_s": 900.0, "handling": 0, "overdue": 1}
    assert view["chat"] == {"waiting": 0, "longest_wait_s": None, "handling": 1, "overdue": 0}


async def test_the_api_reports_stored_tasks_by_channel(tmp_path: Path) -> None:
    async with serving(web_config(f"sqlite:///{tmp_path}/web.sqlite3")) as client:
        client_: TestClient = client
        from cti.server import STORE

        store = client_.server.app[STORE]
        now = time.time()
        for t in TASKS[:3]:
            await store.add_task(
                Task(
                    t.task_id,
                    t.channel,
                    t.queue,
                    created_at=now - 500 + t.created_at,
                    state=t.state,
                    agent_id=t.agent_id,
                    assigned_at=None if t.assigned_at is None else now - 500 + t.assigned_at,
                    first_response_at=None if t.first_response_at is None else now - 500 + t.first_response_at,
                    closed_at=None if t.closed_at is None else now - 500 + t.closed_at,
                )
            )
        await login(client_, "sup")
        # the tasks may fall on yesterday just after midnight: ask for their day through today
        days = f"from={date.fromtimestamp(now - 500).isoformat()}&to={date.fromtimestamp(now).isoformat()}"
        body = await (await asyncio.wait_for(client_.get(f"/api/v1/reports/channels?{days}"), 5)).json()
        assert body["channels"]["chat"]["offered"] == 3 and body["channels"]["chat"]["first_response_s"] == 30.0
        bad = await client_.get("/api/v1/reports/channels?from=yesterday")
        assert bad.status == 400 and (await bad.json())["error"].startswith("from")
        live = await (await client_.get("/api/v1/wallboard/channels")).json()
        assert live["channels"]["chat"] == {"waiting": 0, "longest_wait_s": None, "handling": 0, "overdue": 0}
        await login(client_, "agent01")
        assert (await client_.get("/api/v1/reports/channels")).status == 403


def test_the_report_counts_the_contacts_not_answered_by_their_due_time() -> None:
    def email(tid: str, **kw: object) -> Task:
        return Task(tid, "email", "support", created_at=0, due_at=100, **kw)  # type: ignore[arg-type]

    tasks = [
        email("in-time", state="closed", assigned_at=10, first_response_at=90, closed_at=95),
        email("late", state="closed", assigned_at=10, first_response_at=150, closed_at=160),
        email("waiting"),  # none by now (200)
        email("closed-unanswered", state="closed", assigned_at=10, closed_at=50),  # closed in time, no reply
        Task("no-due", "email", "support", created_at=0),
    ]
    report = channel_report(tasks, CALLS, 0, 1000, now=200)
    assert report["channels"]["email"]["overdue"] == 2
    assert report["channels"]["voice"]["overdue"] == 0 and report["channels"]["chat"]["overdue"] == 0
    assert channel_report(tasks[2:3], [], 0, 1000, now=99)["channels"]["email"]["overdue"] == 0  # not due yet
