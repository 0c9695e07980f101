"""`hotline demo`: a living contact center on one machine with nothing installed.

Starts the PBX emulator (real AMI over TCP, FastAGI client), the Hotline server on
the embedded defaults (SQLite, in-process bus) with the live loop and the IVR, and a
real-time traffic generator; simulated agents answer, talk and wrap up. A person can
log in as the demo agent and take calls beside them.

By default two emulated Asterisks run (`--pbxs 2`: "paris" and "lyon", joined by a
trunk, docs/deployment.md "Several Asterisks"): calls arrive on both, every other
inbound agent's phone is on lyon, and one router gives each call to the best agent
of either (`cross_pbx = "trunk"`: a paris call may ring a lyon agent through the trunk).
The campaign agents and you are on paris (standing lines are the first PBX's).
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
import signal
import socket
import time
import tomllib
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

import click
import structlog
from aiohttp import web

from chat.config import ChatConfig
from chat.demo_traffic import run_chat_traffic
from config.demo_data import demo_agents, generate_customers, generate_interactions
from config.schema import BusConfig, HotlineConfig, PbxConfig, ServerConfig, StoreConfig
from cti.ami import AmiClient, AmiSettings
from cti.call_model import CallModel
from cti.pbx import AmiPbx
from cti.server import create_app
from sim.pbx_emulator.server import PbxEmulator
from sim.rig import LINE_VARIABLES
from sim.traffic import TrafficProfile, run_traffic
from store import open_store
from store.models import User

log = structlog.get_logger()

AMI_SECRET = "demo-secret"
DEMO_LOGIN, DEMO_PASSWORD = "demo", "demo-agent"
SUPERVISOR_LOGIN, SUPERVISOR_PASSWORD = "super", "demo-super"
ADMIN_LOGIN, ADMIN_PASSWORD = "admin", "demo-admin"
CUSTOMERS = 2000
CHATS_PER_HOUR = 20.0  # simulated chat customers (chat/demo_traffic.py), waiting for you

DEMO_ROUTING: dict[str, Any] = {
    "default_queue": "billing",
    "queues": {
        queue: {
            "targets": [
                {"name": "experts", "expression": f"skills.{queue} >= 7", "timeout_s": 20},
                {"name": "anyone skilled", "expression": f"skills.{queue} >= 1"},
            ]
        }
        for queue in ("billing", "support", "sales")
    }
    | {
        # the demo campaign's answered humans: any agent with the outbound skill, at once
        "campaign-demo": {"targets": [{"name": "campaign agents", "expression": "skills.outbound >= 1"}]},
        # the preview campaign's leads: only you (the demo login) read them and dial
        "campaign-demo-preview": {"targets": [{"name": "preview agents", "expression": "skills.preview >= 1"}]},
        # the customers' e-mail (mail/demo.py): only you answer it, beside your calls; one
        # past its due time goes ahead of the others
        "email": {
            "targets": [
                {"name": "e-mail agents", "expression": "skills.email >= 1", "until_due": True},
                {"name": "overdue e-mail", "expression": "skills.email >= 1", "priority": 9},
            ]
        },
    },
    "defaults": {"strategy": "longest_idle", "wrap_up_s": 5},
    # the simulated agents take calls only; you (the demo login) a call, two chats and two
    # e-mails at once
    "capacity": {
        "default": {"combos": [{"voice": 1}]},
        "agents": {DEMO_LOGIN: {"combos": [{"voice": 1, "chat": 2, "email": 2}]}},
    },
    "rona": {"ring_timeout_s": 15, "max_misses": 2, "pause_reason": "no_answer"},
    "pause_reasons": ["break", "lunch", "training", "no_answer"],
}


# The admin catalogues the demo's own routing, campaigns and agents use: an agent with the
# campaigns' `outbound`/`preview` skills saves, the rules' `no_answer` pause is a pause code.
DEMO_SKILLS = {
    "billing": {"label": "Billing"},
    "support": {"label": "Support"},
    "sales": {"label": "Sales"},
    "spanish": {"label": "Spanish"},
    "outbound": {"label": "Outbound campaign"},
    "preview": {"label": "Preview campaign"},
    "email": {"label": "E-mail"},
}
DEMO_PAUSE_CODES = {
    "break": {"label": "Break", "paid": True},
    "lunch": {"label": "Lunch", "paid": False},
    "training": {"label": "Training", "paid": True},
    "meeting": {"label": "Meeting", "paid": True},
    "no_answer": {"label": "Missed calls (automatic)", "paid": True},
}
EXPERT = 7  # the routing's first target: `skills.<queue> >= 7`


def demo_catalogues() -> dict[str, Any]:
    """The demo configuration's `[skills]` and `[pause_reasons]` tables."""
    return {"skills": DEMO_SKILLS, "pause_reasons": DEMO_PAUSE_CODES}


def with_experts(agents: list[User], queues: tuple[str, ...] = ("billing", "support", "sales")) -> list[User]:
    """Every queue gets an expert (its first routing target, else it waits on timeouts and
    sits red): where the seeded agents have none, the most proficient one becomes one."""
    out = list(agents)
    for queue in queues:
        if any(a.skills.get(queue, 0) >= EXPERT for a in out):
            continue
        best = max(range(len(out)), key=lambda n: out[n].skills.get(queue, 0))
        out[best] = replace(out[best], skills={**out[best].skills, queue: EXPERT + 1})
    return out


CAMPAIGN_AGENTS = 6  # the first demo agents also work the outbound campaign (blending)
CAMPAIGN_LEADS = 2000
PREVIEW_LEADS = 200


def demo_campaign_agents() -> list[User]:
    """The demo agents; the first few also have the campaign's `outbound` skill."""
    agents = with_experts(demo_agents(seed=7))
    return [replace(a, skills={**a.skills, "outbound": 5}) if n < CAMPAIGN_AGENTS else a for n, a in enumerate(agents)]


def demo_campaign(data_dir: Path) -> dict[str, Any]:
    """A predictive campaign on generated leads; the emulator answers, is busy, rings
    out or answers with a machine with these probabilities."""
    data_dir.mkdir(parents=True, exist_ok=True)
    leads = data_dir / "demo-leads.csv"
    rows = ["lead_id,phone,time_zone,first_name,last_name,offer"]
    offers = ("fibre upgrade", "loyalty discount", "premium support")
    rows += [f"D{n:05d},+1212736{n:04d},UTC,Lead,Number {n},{offers[n % 3]}" for n in range(1, CAMPAIGN_LEADS + 1)]
    leads.write_text("\n".join(rows) + "\n", encoding="utf-8")
    preview_leads = data_dir / "demo-preview-leads.csv"
    rows = ["lead_id,phone,time_zone,first_name,last_name,offer"]
    rows += [f"P{n:04d},+1212737{n:04d},UTC,Prospect,Number {n},{offers[n % 3]}" for n in range(1, PREVIEW_LEADS + 1)]
    preview_leads.write_text("\n".join(rows) + "\n", encoding="utf-8")
    always = {"start": "00:00:00", "end": "23:59:59", "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]}
    preview = {
        "demo-preview": {
            "leads": str(preview_leads),
            "name": "Demo preview (you dial)",
            "mode": "preview",
            "skill": "preview",
            "priority": 0,
            "caller_id": '"ACME Sales" <8005550100>',
            "calling_window": always,
            "demo_behaviour": {"answer": 0.7, "busy": 0.15, "noanswer": 0.15},
        }
    }
    return preview | {
        "demo": {
            "leads": str(leads),
            "name": "Demo win-back",
            "mode": "predictive",
            "caller_id": '"ACME Sales" <8005550100>',
            "no_answer_timeout_s": 20,
            "expected_aht_s": 20,
            "max_attempts": 3,
            "calling_window": {
                "start": "00:00:00",
                "end": "23:59:59",
                "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
            },
            "demo_behaviour": {"answer": 0.35, "machine": 0.15, "busy": 0.15, "noanswer": 0.3, "congestion": 0.05},
        }
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def demo_ivr() -> dict[str, Any]:
    """The example IVR, open around the clock for the demo."""
    text = (resources.files("config") / "examples" / "ivr.toml").read_text(encoding="utf-8")
    ivr = tomllib.loads(text)["ivr"]
    ivr.pop("hours", None)
    ivr["holidays"] = []
    return ivr


PBX_NAMES = ("paris", "lyon")  # with --pbxs 2


def demo_users(pbxs: int = 1) -> list[User]:
    """With two PBXs, every other agent who works no campaign has a phone on the second."""
    from web.security import hash_password

    agents = demo_campaign_agents()
    if pbxs > 1:
        agents = [replace(a, pbx=PBX_NAMES[1]) if n >= CAMPAIGN_AGENTS and n % 2 else a for n, a in enumerate(agents)]
    human = User(
        login=DEMO_LOGIN,
        display_name="You (demo agent)",
        role="agent",
        team="team-a",
        skills={"billing": 7, "support": 7, "sales": 7, "outbound": 5, "preview": 5, "email": 5},
        languages=("en",),
        phone_endpoint="Local/2050@agents",
        password_hash=hash_password(DEMO_PASSWORD),
    )
    supervisor = User(
        login=SUPERVISOR_LOGIN,
        display_name="Sam Supervisor",
        role="supervisor",
        team="team-a",
        password_hash=hash_password(SUPERVISOR_PASSWORD),
    )
    admin = User(login=ADMIN_LOGIN, display_name="Ada Admin", role="admin", password_hash=hash_password(ADMIN_PASSWORD))
    return [*agents, human, supervisor, admin]


async def seed(store_config: StoreConfig, pbxs: int = 1) -> list[tuple[str, str]]:
    """Demo data on first run; returns (name, number) of customers for the traffic."""
    store = await open_store(store_config)
    try:
        await store.migrate()
        if await store.count_customers() == 0:
            base = list(generate_customers(CUSTOMERS, seed=7))
            await store.put_customers(base)
            for interaction in generate_interactions(base, now=time.time(), seed=7):
                await store.put_interaction(interaction)
        for user in demo_users(pbxs):
            await store.put_user(user)
        return [(c.name, c.phones[0]) for c in generate_customers(300, seed=7)]
    finally:
        await store.close()


@dataclass
class DemoOptions:
    host: str
    port: int
    data_dir: Path
    calls_per_hour: float
    duration_s: float
    campaign: bool = True
    pbxs: int = 2  # emulated Asterisks (1 or 2)


def exposure_warning(host: str) -> str | None:
    """The demo's passwords are printed and published: say so when the demo listens
    beyond this machine (None on a loopback address)."""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if loopback:
        return None
    return (
        f"WARNING: the demo listens on {host}: other machines can reach it, and its users' "
        "passwords are the published demo ones. Use it on a trusted network only, or --host 127.0.0.1."
    )


async def start_emulators(count: int) -> tuple[list[PbxEmulator], list[dict[str, Any]]]:
    """`count` emulated PBXs (joined by a trunk when two) and their `[[pbx]]` entries."""
    from sim.pbx_emulator.trunk import link

    emulators: list[PbxEmulator] = []
    entries: list[dict[str, Any]] = []
    for n in range(count):
        agi_port = _free_port()
        emulator = PbxEmulator("hotline", AMI_SECRET, agi_url=f"agi://127.0.0.1:{agi_port}/ivr")
        await emulator.start("127.0.0.1", 0)
        emulators.append(emulator)
        entry: dict[str, Any] = {
            "ami_port": emulator.port,
            "ami_secret": AMI_SECRET,
            "agi_bind": f"127.0.0.1:{agi_port}",
        }
        if n == 0:  # the campaign agents work on standing lines (the emulator's phones stay answered)
            entry |= {"enabled": True, "standing_lines": "campaigns", "line_variables": LINE_VARIABLES}
        if count > 1:
            entry |= {"name": PBX_NAMES[n], "trunk_dial": "PJSIP/{exten}@{pbx}", "cross_pbx": "trunk"}
        entries.append(entry)
    if count > 1:
        link(emulators[0].pbx, emulators[1].pbx, PBX_NAMES[0], PBX_NAMES[1])
    return emulators, entries


async def run_demo(options: DemoOptions) -> None:
    from mail.demo import DemoRelay, demo_mail_config, run_mail_traffic

    emulators, entries = await start_emulators(options.pbxs)
    mail_relay, mail_port = DemoRelay(), _free_port()
    config = HotlineConfig(
        server=ServerConfig(host=options.host, port=options.port),
        store=StoreConfig(url=f"sqlite:///{options.data_dir / 'demo.sqlite3'}"),
        bus=BusConfig(url="memory://"),
        pbx=PbxConfig(**entries[0]) if len(entries) == 1 else entries,  # type: ignore[arg-type]  # ([[pbx]])
        routing=DEMO_ROUTING,
        ivr=demo_ivr(),
        **demo_catalogues(),
        campaigns=demo_campaign(options.data_dir) if options.campaign else {},
        mail=demo_mail_config(options.data_dir, mail_port, await mail_relay.start()),
        chat=ChatConfig(queues=["support", "billing", "sales"]),
    )
    known = await seed(config.store, options.pbxs)
    app = create_app(config)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, options.host, options.port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        for each in emulators:
            await each.stop()
        raise click.ClickException(
            f"cannot listen on {options.host}:{options.port} ({exc.strerror}); choose another with --port"
        ) from None

    # Simulated agents log in and go available (the desktop sends the same commands).
    from cti.live_app import LIVE

    # (a demo killed a moment ago may still hold the leader lease: this one takes over
    # when it runs out, cti/leadership.py)
    for _ in range(int((config.pbx.lease_s + 5) / 0.1)):
        if LIVE in app:
            break
        await asyncio.sleep(0.1)
    center = app[LIVE]
    for user in demo_campaign_agents():
        await center.handle_agent_command({"agent_id": user.login, "action": "available"})

    traffic_clients = [
        AmiClient(AmiSettings("127.0.0.1", each.port, "hotline", AMI_SECRET), CallModel()) for each in emulators
    ]
    for client in traffic_clients:
        await client.start()
        await client.wait_ready(10)
    url = f"http://{options.host}:{options.port}/"
    click.echo(
        f"\nHotline demo running: {url}\n"
        f"  wallboard:  {url}wallboard   (supervisor {SUPERVISOR_LOGIN} / {SUPERVISOR_PASSWORD})\n"
        f"  agent desk: {url}agent       (agent {DEMO_LOGIN} / {DEMO_PASSWORD}; go available to take calls)\n"
        f"  admin:      {url}admin       ({ADMIN_LOGIN} / {ADMIN_PASSWORD})\n"
        f"  chat:       {url}chat/demo   (a company page with the chat widget; {CHATS_PER_HOUR:.0f} chats/hour too)\n"
        f"  health:     {url}healthz\n"
        f"  traffic:    {options.calls_per_hour:.0f} calls/hour through the PBX emulator"
        f"{'s' if len(emulators) > 1 else ''} on 127.0.0.1:{', '.join(str(e.port) for e in emulators)}"
        f"{' (paris, lyon: one router, a trunk between them)' if len(emulators) > 1 else ''}\n"
        + (
            f"  outbound:   predictive campaign 'demo' ({CAMPAIGN_LEADS} leads, "
            f"{CAMPAIGN_AGENTS} blended agents + you)\n"
            "  preview:    campaign 'demo-preview': go available on the agent desk, read the lead, Dial or Skip\n"
            if options.campaign
            else ""
        )
        + f"  e-mail:     mail to support@hotline.demo via SMTP 127.0.0.1:{mail_port} (replies kept locally)\n"
        + "Press Ctrl-C to stop.\n"
    )
    if (warning := exposure_warning(options.host)) is not None:
        click.echo(warning, err=True)
    profile = TrafficProfile(
        calls_per_hour=options.calls_per_hour / len(emulators),  # (each PBX its share)
        known_numbers=known,
        ivr_choices=("2", "4", "2", "4", "9"),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    traffic: list[asyncio.Task[Any]] = [
        asyncio.create_task(run_traffic(AmiPbx(client), profile, options.duration_s)) for client in traffic_clients
    ]
    writers = [(c.name, c.email) for c in generate_customers(300, seed=7)]
    traffic.append(asyncio.create_task(run_mail_traffic(mail_port, writers, 12.0, random.Random(7))))
    traffic.append(asyncio.create_task(run_chat_traffic(url, CHATS_PER_HOUR), name="demo-chats"))
    try:
        await stop.wait()
    finally:
        click.echo("Stopping...")
        for task in traffic:
            task.cancel()
        await asyncio.gather(*traffic, return_exceptions=True)
        mail_relay.close()
        for client in traffic_clients:
            await client.close()
        await runner.cleanup()
        for each in emulators:
            await each.stop()
        click.echo("Stopped.")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8080, show_default=True)
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("var"), show_default=True)
@click.option("--calls-per-hour", type=float, default=360.0, show_default=True, help="Simulated inbound traffic.")
@click.option(
    "--campaign/--no-campaign",
    default=True,
    show_default=True,
    help="Run the demo outbound campaign beside the inbound traffic.",
)
@click.option(
    "--duration",
    "duration_s",
    type=float,
    default=7 * 86400.0,
    show_default=True,
    help="Seconds of traffic before the generator stops (the server keeps running until Ctrl-C).",
)
@click.option(
    "--pbxs",
    type=click.IntRange(1, 2),
    default=2,
    show_default=True,
    help="Emulated Asterisks: 2 runs paris and lyon joined by a trunk, one router for both.",
)
def demo(
    host: str, port: int, data_dir: Path, calls_per_hour: float, duration_s: float, campaign: bool, pbxs: int
) -> None:
    """A living contact center on the embedded defaults: emulated PBX, traffic, agents."""
    from cti.logs import configure

    configure("warning", "text")
    asyncio.run(run_demo(DemoOptions(host, port, data_dir, calls_per_hour, duration_s, campaign, pbxs)))
