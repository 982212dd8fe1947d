"""`assistant agents ...`: the console's agent accounts (passwords hashed with scrypt)."""

from __future__ import annotations

import sys

import click


def _agents():  # type: ignore[no-untyped-def]
    from .settings import Settings
    from .store import init_db, make_engine
    from .store.agents import Agents

    engine = make_engine(Settings().db_url)
    init_db(engine)
    return Agents(engine)


@click.group("agents")
def agents() -> None:
    """Support agents who log in to the console at /console."""


@agents.command("add")
@click.argument("username")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of stdin (for scripts).",
)
def agents_add(username: str, password_stdin: bool) -> None:
    """Create USERNAME; the password is prompted for (twice) unless --password-stdin."""
    from .store.agents import AgentExists

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        _agents().add(username, password)
    except (AgentExists, ValueError) as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(2)
    click.echo(f"agent {username.strip()} added", err=True)


@agents.command("list")
def agents_list() -> None:
    """The agents, one per line: user name, active, created."""
    for a in _agents().list_agents():
        state = "active" if a.active else "disabled"
        click.echo(f"{a.username}\t{state}\t{a.created_at:%Y-%m-%d %H:%M}")


@agents.command("remove")
@click.argument("username")
def agents_remove(username: str) -> None:
    """Delete USERNAME's account (the audit log keeps their actions)."""
    if not _agents().remove(username):
        click.echo(f"error: no agent {username!r}", err=True)
        sys.exit(1)
    click.echo(f"agent {username} removed", err=True)
