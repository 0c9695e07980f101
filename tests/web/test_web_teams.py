"""Teams: listed with agents and supervisors (a supervisor sees their own), renamed on
every user who has them (audited), with errors naming the field."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from cti.server import STORE
from tests.web.web_helpers import login


async def test_a_team_is_listed_and_renamed_on_every_user(client: TestClient) -> None:
    h = {"X-CSRF-Token": await login(client, "admin")}
    teams = {t["name"]: t for t in (await (await client.get("/api/v1/teams")).json())["teams"]}
    assert teams["team-a"]["agents"] == ["agent01", "agent03"] and teams["team-a"]["supervisors"] == ["sup"]
    assert teams["team-b"]["agents"] == ["agent02"]
    r = await client.post("/api/v1/teams/team-a/rename", json={"to": "North"}, headers=h)
    assert r.status == 200 and (await r.json()) == {"team": "North", "users": ["agent01", "agent03", "sup"]}
    store = client.server.app[STORE]
    assert (await store.get_user("agent01")).team == "North" and (await store.get_user("sup")).team == "North"
    assert (await store.get_user("agent02")).team == "team-b"
    for team, body, status, field in (
        ("team-a", {"to": "x"}, 404, "team:"),
        ("North", {"to": "team-b"}, 409, "to:"),
        ("North", {"to": ""}, 400, "to:"),
        ("North", {"to": "a,b"}, 400, "to:"),
    ):
        r = await client.post(f"/api/v1/teams/{team}/rename", json=body, headers=h)
        assert r.status == status and (await r.json())["error"].startswith(field), (team, body)
    audit = await (await client.get("/api/v1/audit")).json()
    [entry] = [e for e in audit["entries"] if e["action"] == "team.renamed"]
    assert entry["target"] == "team-a" and entry["detail"]["to"] == "North"

    client.session.cookie_jar.clear()
    sup = await login(client, "sup")  # their team follows the rename: they see North
    assert [t["name"] for t in (await (await client.get("/api/v1/teams")).json())["teams"]] == ["North"]
    r = await client.post("/api/v1/teams/North/rename", json={"to": "South"}, headers={"X-CSRF-Token": sup})
    assert r.status == 403
