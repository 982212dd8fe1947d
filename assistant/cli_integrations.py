"""`assistant keys ...` (admin API keys) and `assistant webhooks ...` (outbound subscriptions).

Only click is imported here; each command imports what it needs.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import click


def _store() -> Any:
    from .settings import Settings
    from .store import Store, init_db, make_engine

    engine = make_engine(Settings().db_url)
    init_db(engine)
    return Store(engine)


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


@click.group()
def keys() -> None:
    """Admin API keys for /v1/admin/... (only a hash is stored)."""


@keys.command("add")
@click.argument("name")
def keys_add(name: str) -> None:
    """Create a key called NAME and print its token (shown this once only)."""
    from .webhooks.keys import create_key

    try:
        new = create_key(_store(), name)
    except ValueError as e:
        _fail(str(e))
        return
    click.echo(new.token)
    click.echo(
        f"admin key {new.name!r} created; store the token now, it is not shown again.\n"
        f"use it as: Authorization: Bearer <token>",
        err=True,
    )


@keys.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
def keys_list(as_json: bool) -> None:
    """List keys: name, prefix, created, revoked."""
    from .webhooks.keys import list_keys

    rows = list_keys(_store())
    if as_json:
        click.echo(json.dumps(rows))
        return
    for r in rows:
        state = f"revoked {r['revoked_at']}" if r["revoked_at"] else "active"
        click.echo(f"{r['name']:<24} {r['prefix']}...  created {r['created_at']}  {state}")


@keys.command("revoke")
@click.argument("name")
def keys_revoke(name: str) -> None:
    """Revoke the active key called NAME."""
    from .webhooks.keys import revoke_key

    if not revoke_key(_store(), name):
        _fail(f"no active key named {name!r}")
    click.echo(f"admin key {name!r} revoked", err=True)


@click.group()
def webhooks() -> None:
    """Outbound webhooks: subscriptions and delivery of outbox events.

    \b
    Each delivery is a POST with headers X-CSA-Event, X-CSA-Event-Id, X-CSA-Timestamp and
    X-CSA-Signature: sha256=HMAC-SHA256(secret, f"{timestamp}.{body}").
    """


@webhooks.command("subscribe")
@click.argument("url")
@click.option(
    "--events",
    default="turn.created,conversation.handoff,conversation.closed",
    show_default=True,
    help="Comma-separated event types.",
)
@click.option("--secret", default=None, help="Signing secret (default: a random one, printed).")
def webhooks_subscribe(url: str, events: str, secret: str | None) -> None:
    """Send EVENTS to URL, signed with SECRET."""
    from .webhooks.subscriptions import subscribe

    try:
        sub_id, used = subscribe(_store(), url, events, secret)
    except ValueError as e:
        _fail(str(e))
        return
    click.echo(f"subscription {sub_id}: {url}", err=True)
    if secret is None:
        click.echo(used)
        click.echo("the signing secret above is shown once; give it to the receiver", err=True)


@webhooks.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
def webhooks_list(as_json: bool) -> None:
    """List subscriptions (secrets are not shown)."""
    from .webhooks.subscriptions import list_subscriptions

    rows = list_subscriptions(_store())
    if as_json:
        click.echo(json.dumps(rows))
        return
    for r in rows:
        state = "active" if r["active"] else "disabled"
        click.echo(f"{r['id']:>4}  {state:<8}  {r['url']}  {','.join(r['events'])}")


@webhooks.command("disable")
@click.argument("subscription_id", type=int)
def webhooks_disable(subscription_id: int) -> None:
    """Stop sending to a subscription (its pending events become dead)."""
    from .webhooks.subscriptions import set_active

    if not set_active(_store(), subscription_id, False):
        _fail(f"no subscription {subscription_id}")
    click.echo(f"subscription {subscription_id} disabled", err=True)


@webhooks.command("deliver")
@click.option("--loop", is_flag=True, help="Keep delivering (every CSA_OUTBOX_POLL_S seconds).")
def webhooks_deliver(loop: bool) -> None:
    """Deliver the events that are due (once, e.g. from cron; or --loop)."""
    from .settings import Settings
    from .webhooks.delivery import DeliveryPolicy, deliver_due

    settings = Settings()
    store = _store()
    policy = DeliveryPolicy.from_settings(settings)
    while True:
        report = deliver_due(store, policy=policy)
        if report.claimed or not loop:
            click.echo(
                f"{report.claimed} due: {report.delivered} delivered, "
                f"{report.retrying} to retry, {report.dead} dead",
                err=True,
            )
        if not loop:
            return
        if report.claimed < policy.batch_size:
            time.sleep(settings.outbox_poll_s)
