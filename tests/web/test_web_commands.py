"""The agent-command contract (agents/commands.py) on the web side: the desktop's
buttons, the page's embedded table, the OpenAPI document and the REST API's
validation all come from it, and nothing else lists the actions."""

from __future__ import annotations

import asyncio
import html
import json
import re
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from agents.commands import (
    ACTIONS,
    BY_ACTION,
    CALL_ACTIONS,
    SUPERVISOR_ACTIONS,
    TASK_ACTIONS,
    applicability,
    json_schema,
)
from cti.server import BUS
from tests.live.test_live_commands import Center
from tests.web.web_helpers import login
from web.commands import COMMANDS_CHANNEL
from web.openapi import DOCUMENT

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "agents" / "templates" / "agent.html"
SCRIPT = ROOT / "web" / "static" / "agent.js"


def wf(coro, t=10):
    return asyncio.wait_for(coro, t)


def template_actions() -> list[str]:
    return re.findall(r'data-action="([^"]+)"', TEMPLATE.read_text())


def test_every_button_is_a_contract_action_and_every_call_action_has_one() -> None:
    actions = template_actions()
    assert actions and set(actions) <= set(ACTIONS), set(actions) - set(ACTIONS)
    assert len(actions) == len(set(actions)), "one button per action"
    assert sorted(CALL_ACTIONS - set(actions)) == []


def test_the_desktop_script_lists_no_actions_of_its_own() -> None:
    """agent.js takes its actions from the page's table: it names an action only to
    say what a successful one does to the call's phase, and never a renamed one."""
    quoted = set(re.findall(r'"([a-z]+(?:_[a-z]+)+|[a-z]+)"', SCRIPT.read_text()))
    named = re.findall(r"\b([a-z]+_[a-z_]+)\s*:", SCRIPT.read_text())
    assert set(named) <= set(ACTIONS), set(named) - set(ACTIONS)
    assert not {"hold", "resume", "hangup", "blind_transfer", "logout"} & quoted


async def test_the_page_embeds_the_contracts_button_table(client: TestClient) -> None:
    await login(client, "agent01")
    page = await (await wf(client.get("/agent"))).text()
    found = re.search(r'<script type="application/json" id="commands">(.*?)</script>', page, re.S)
    assert found, "no embedded command table"
    table = json.loads(html.unescape(found.group(1)))
    assert sorted(table) == sorted(ACTIONS)  # (tojson sorts the keys)
    for action, row in applicability().items():
        assert {k: table[action][k] for k in row} == row
        assert set(table[action]["fields"]) == set(BY_ACTION[action].model_fields)
    # the buttons carry the contract's labels
    for action, label in re.findall(r'data-action="([a-z_]+)"[^>]*>([^<]*)</button>', page):
        if action != "wrap_up_done":  # the form's button also saves the disposition
            assert label == BY_ACTION[action].label, action


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "$ref"] + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        node = node[part]
    return node


async def test_openapi_command_schema_is_generated_from_the_contract(client: TestClient) -> None:
    doc = await (await wf(client.get("/api/v1/openapi.json"))).json()
    assert doc == DOCUMENT
    for ref in _refs(doc):  # every reference resolves (the contract's $defs moved to components)
        _resolve(doc, ref)
    schemas = doc["components"]["schemas"]
    contract = json_schema()
    defs = contract.pop("$defs")
    assert schemas["Command"] == contract
    assert {name: schemas[name] for name in defs} == defs
    command = schemas["Command"]
    assert command["discriminator"]["propertyName"] == "action"
    assert sorted(command["discriminator"]["mapping"]) == sorted(ACTIONS)
    described = [_resolve(doc, one["$ref"])["properties"]["action"]["const"] for one in command["oneOf"]]
    assert sorted(described) == sorted(ACTIONS)
    for action, ref in command["discriminator"]["mapping"].items():
        body = _resolve(doc, ref)
        assert set(body["properties"]) == set(BY_ACTION[action].model_fields)
        assert body["additionalProperties"] is False
    op = doc["paths"]["/api/v1/agents/{agent_id}/commands"]["post"]
    assert op["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Command"}
    assert {"200", "202", "400", "409", "503"} <= set(op["responses"])
    assert "404" in doc["paths"]["/api/v1/commands/{request_id}"]["get"]["responses"]


def example(action: str) -> dict[str, Any]:
    """A valid body for `action`: its required fields filled in."""
    values = {
        "call_id": "c1",
        "target": "agent02",
        "reason": "lunch",
        "task_id": "t1",
        "text": "hello",
        "disposition": "resolved",
    }
    fields = BY_ACTION[action].model_fields
    return {"action": action, **{f: values[f] for f, info in fields.items() if f != "action" and info.is_required()}}


async def test_bad_bodies_are_refused_naming_the_field(client: TestClient) -> None:
    h = {"X-CSRF-Token": await login(client, "agent01")}
    url = "/api/v1/agents/agent01/commands"

    async def error_of(body: Any) -> str:
        r = await wf(client.post(url, json=body, headers=h))
        assert r.status == 400, (body, r.status)
        return str((await r.json())["error"])

    assert (await error_of({"action": "dance"})).startswith("action")
    assert (await error_of({})).startswith("action")
    assert (await error_of(["hold"])).startswith("body")
    assert (await error_of({"action": "pause", "reason": "nap"})).startswith("reason")
    for action in ACTIONS:
        body = example(action)
        for field in body:
            if field != "action":  # each required field, left out, is named
                assert (await error_of({k: v for k, v in body.items() if k != field})).startswith(field), action
        assert (await error_of({**body, "colour": "red"})).startswith("colour"), action
    call = example("hold")
    assert (await error_of({**call, "call_id": ""})).startswith("call_id")
    transfer = example("blind_transfer")
    assert (await error_of({**transfer, "target_kind": "moon"})).startswith("target_kind")
    for bad_id in ("has space", "x" * 101, "-leading", "semi;colon"):
        assert (await error_of({"action": "available", "request_id": bad_id})).startswith("request_id"), bad_id


async def test_every_command_reaches_the_live_loop_in_the_contracts_shape(center: Center) -> None:
    """The web side of the message: `{"agent_id", "request_id", **command.model_dump()}`,
    sent to the real live loop (on the PBX emulator), whose reply comes back as the
    API's answer: 200 when it acted, 409 with its reason when it refused. (What the loop
    does with each action on real calls: tests/live/test_live_commands.py.)"""
    ada = await center.desk("agent01")
    bus = center.client.server.app[BUS]
    async with bus.subscribe(COMMANDS_CHANNEL) as sent_messages:
        for action in ACTIONS:
            body = example(action)
            status, reply = await ada.send(action, **{k: v for k, v in body.items() if k != "action"})
            if action in SUPERVISOR_ACTIONS:  # not the agent's own: refused before the loop
                assert status == 403 and reply["error"].startswith("action"), (action, reply)
                continue
            if action in TASK_ACTIONS:  # a written task's: the web's task desk, not the loop (no task t1)
                assert status == 404 and reply["error"].startswith("task_id"), (action, reply)
                continue
            _, sent = await wf(sent_messages.get())
            expected = BY_ACTION[action].model_validate(body).model_dump(mode="json", exclude={"request_id"})
            assert sent == {"agent_id": "agent01", "request_id": reply["request_id"], **expected}
            if action in CALL_ACTIONS:  # agent01 holds no call "c1": the loop says so
                assert status == 409 and reply["ok"] is False, (action, reply)
                assert "c1" in reply["error"], (action, reply)
            else:
                assert (status, reply) == (200, {"request_id": sent["request_id"], "ok": True}), action
    # the loop acted on what it accepted: the agent ends logged out (the last availability action)
    assert center.state("agent01") == "logged_out"


async def test_wrap_up_done_for_a_call_the_agent_never_had_is_refused(center: Center) -> None:
    ada = await center.desk("agent01")
    await ada.ok("available")
    status, reply = await ada.send("wrap_up_done", call_id="c1", disposition="resolved")
    assert await center.events("c1") == []  # nothing is logged for a call that never was
    assert (status, reply["ok"]) == (409, False) and "c1" in reply["error"]
