"""`hotline user add|set-password|delete|list`: web users (agents, supervisors, admins)."""

from __future__ import annotations

import asyncio
import sys

import click

from cti.commands.common import config_option, load_or_exit
from store import open_store
from store.models import ROLES, User
from store.port import NotFound
from web.security import hash_password


@click.group()
def user() -> None:
    """Web users: agents, supervisors, admins (passwords hashed with argon2id)."""


def _password(value: str | None) -> str:
    if value:
        return value
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


def _checked_password(password: str | None) -> str:
    """The given or prompted password; exit 2 when it is too short."""
    secret = _password(password)
    if len(secret) < 8:
        click.echo("password: at least 8 characters", err=True)
        sys.exit(2)
    return secret


@user.command("add")
@click.argument("login")
@click.option("--name", "display_name", default="", help="Display name (default: the login).")
@click.option("--role", type=click.Choice(ROLES), default="agent", show_default=True)
@click.option("--team", default="", help="Team; a supervisor may list several, comma-separated.")
@click.option("--password", default=None, help="Default: prompt (never put real passwords on a command line).")
@config_option
def add(login: str, display_name: str, role: str, team: str, password: str | None, config_path: str | None) -> None:
    """Create or replace user LOGIN."""
    config = load_or_exit(config_path).config
    secret = _checked_password(password)

    async def run() -> None:
        store = await open_store(config.store)
        try:
            await store.migrate()
            try:
                old = await store.get_user(login)
            except NotFound:
                old = None
            await store.put_user(
                User(
                    login=login,
                    display_name=display_name or (old.display_name if old else login),
                    role=role,
                    password_hash=hash_password(secret),
                    team=team or (old.team if old else ""),
                    skills=dict(old.skills) if old else {},
                    languages=old.languages if old else (),
                    phone_endpoint=old.phone_endpoint if old else "",
                    pbx=old.pbx if old else "",
                )
            )
        finally:
            await store.close()

    asyncio.run(run())
    click.echo(f"user {login} saved ({role})")


@user.command("set-password")
@click.argument("login")
@click.option("--password", default=None, help="Default: prompt.")
@config_option
def set_password(login: str, password: str | None, config_path: str | None) -> None:
    """Set the password of an existing user."""
    config = load_or_exit(config_path).config
    secret = _checked_password(password)

    async def run() -> bool:
        store = await open_store(config.store)
        try:
            await store.migrate()
            try:
                old = await store.get_user(login)
            except NotFound:
                return False
            from dataclasses import replace

            await store.put_user(replace(old, password_hash=hash_password(secret)))
            await store.delete_sessions(login)  # signed out everywhere: the old password's sessions end
            return True
        finally:
            await store.close()

    if not asyncio.run(run()):
        click.echo(f"login: no user {login!r}", err=True)
        sys.exit(1)
    click.echo(f"password of {login} changed; their sessions ended")


@user.command("delete")
@click.argument("login")
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
@config_option
def delete(login: str, yes: bool, config_path: str | None) -> None:
    """Delete a user: their sessions end and their API tokens are revoked at once; their
    calls and history keep the login. Never the last enabled admin. Audited (cli:<user>)."""
    import getpass
    import time

    from store.models import AuditEntry
    from store.port import Conflict

    config = load_or_exit(config_path).config
    if not yes:
        click.confirm(f"Delete user {login!r}?", abort=True)

    async def run() -> str:
        store = await open_store(config.store)
        try:
            await store.migrate()
            try:
                if not await store.delete_user(login):
                    return f"login: no user {login!r}"
            except Conflict as exc:
                return str(exc)
            await store.add_audit(AuditEntry(time.time(), f"cli:{getpass.getuser()}", "user.deleted", login, {}, ""))
            return ""
        finally:
            await store.close()

    problem = asyncio.run(run())
    if problem:
        click.echo(problem, err=True)
        sys.exit(1)
    click.echo(f"{login} deleted; their sessions ended and their API tokens were revoked")


@user.command("list")
@config_option
def list_(config_path: str | None) -> None:
    """Users and their roles."""
    config = load_or_exit(config_path).config

    async def run() -> list[User]:
        store = await open_store(config.store)
        try:
            await store.migrate()
            return await store.list_users()
        finally:
            await store.close()

    for u in asyncio.run(run()):
        click.echo(
            f"{u.login}\t{u.role}\t{u.team}\t{u.display_name}\t{'password set' if u.password_hash else 'no password'}"
        )
