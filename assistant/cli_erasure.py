"""`assistant data erase`: delete a customer's conversations (a data-subject request).

Only click is imported at module level; the command imports the store when it runs.
"""

from __future__ import annotations

import json
import sys

import click


@click.command("erase")
@click.option(
    "--conversation",
    "conversation_ids",
    multiple=True,
    metavar="ID",
    help="A conversation id (repeat for several).",
)
@click.option(
    "--email",
    default=None,
    help="Every conversation in which the customer gave this email address.",
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--actor", default="cli", show_default=True, help="Who asked, for the audit log.")
def erase_command(
    conversation_ids: tuple[str, ...], email: str | None, yes: bool, actor: str
) -> None:
    """Erase conversations: their turns, the agents' labels of them, outbox events about
    them, webhook receipts and helpdesk links are deleted in one transaction.

    \b
    The audit log keeps one `erase` row per conversation (who, when, row counts; no
    text). Knowledge-base pairs agents approved from a conversation are kept: their ids
    are printed (`kb_pairs_kept`); remove them with DELETE /v1/admin/kb/{id} if needed.
    Exported training files and models already trained are not touched.

    \b
    Examples:
      assistant data erase --conversation 3f2a... --yes
      assistant data erase --email jane@example.com
    Prints a JSON list of what was erased; exits 1 when nothing matched.
    """
    from .settings import Settings
    from .store import Store, init_db, make_engine

    if not conversation_ids and not email:
        raise click.UsageError("give --conversation ID and/or --email ADDRESS")
    what = [f"conversation {c}" for c in conversation_ids]
    if email:
        what.append(f"every conversation of {email}")
    if not yes:
        click.confirm(f"Erase {', '.join(what)}? This cannot be undone", abort=True, err=True)
    engine = make_engine(Settings().db_url)
    init_db(engine)
    store = Store(engine)
    erased = []
    unknown = []
    for conversation_id in conversation_ids:
        result = store.erase_conversation(conversation_id, actor)
        if result is None:
            unknown.append(conversation_id)
        else:
            erased.append(result)
    if email:
        by_email = store.erase_customer(email, actor)
        if not by_email:
            click.echo(f"no conversation found for {email}", err=True)
        erased += by_email
    for conversation_id in unknown:
        click.echo(f"error: unknown conversation {conversation_id}", err=True)
    click.echo(json.dumps(erased))
    click.echo(f"{len(erased)} conversation(s) erased", err=True)
    if not erased or unknown:
        sys.exit(1)
