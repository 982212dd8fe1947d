"""Erasure of a customer's conversations through the admin API and `assistant data erase`,
checked with plain SQL on the real SQLite file: the conversation's rows are gone, the other
conversation's rows are untouched, and the audit log says an erasure happened."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from assistant.api import create_app
from assistant.cli import main
from assistant.engine import TurnEngine
from assistant.settings import Settings
from assistant.store.integrations import ExternalLink, InboundReceipt
from assistant.webhooks.subscriptions import subscribe


@pytest.fixture
def quiet_settings(settings: Settings) -> Settings:
    # events stay in the outbox (no delivery thread): erasure must remove them there
    return settings.model_copy(update={"outbox_worker": False})


@pytest.fixture
def env(quiet_settings: Settings) -> dict[str, str]:
    return {"CSA_DATA_DIR": str(quiet_settings.data_dir), "CSA_OUTBOX_WORKER": "false"}


@pytest.fixture
def client(quiet_settings: Settings, tiny_engine: TurnEngine, env: dict[str, str]):
    token = CliRunner().invoke(main, ["keys", "add", "ops"], env=env).stdout.splitlines()[0]
    subscribe(
        tiny_engine.store,
        "http://127.0.0.1:9/hook",
        "turn.created,conversation.handoff,conversation.closed",
        "hook-secret",
    )
    with TestClient(create_app(quiet_settings, engine=tiny_engine)) as c:
        c.headers["Authorization"] = f"Bearer {token}"
        yield c


def start(client: TestClient, first: str, second: str) -> tuple[str, list[int]]:
    """A conversation of two customer messages; one of them labelled by an agent."""
    a = client.post("/v1/chat", json={"message": first}).json()
    b = client.post(
        "/v1/chat", json={"message": second, "conversation_id": a["conversation_id"]}
    ).json()
    label = {"turn_id": a["turn_id"], "task": "intents", "label": "order_status", "author": "sam"}
    assert client.post("/v1/admin/labels", json=label).status_code == 201
    return a["conversation_id"], [a["turn_id"], b["turn_id"]]


def link(store_engine: Engine, conversation_id: str, ticket: str) -> None:
    """The rows a helpdesk conversation leaves: a receipt (with our reply) and a link."""
    from sqlalchemy.orm import Session

    with Session(store_engine) as s, s.begin():
        s.add(
            InboundReceipt(
                provider="chatwoot",
                message_id=f"msg-{ticket}",
                status="done",
                conversation_id=conversation_id,
                response={"content": "the reply"},
            )
        )
        s.add(
            ExternalLink(provider="chatwoot", external_id=ticket, conversation_id=conversation_id)
        )


def rows(engine: Engine, conversation_id: str, turn_ids: list[int]) -> dict[str, int]:
    """What the database holds about one conversation, counted with plain SQL."""
    c = {"c": conversation_id}
    with engine.connect() as conn:

        def count(sql: str, **params: Any) -> int:
            return int(conn.execute(text(sql), params).scalar_one())

        payloads = conn.execute(text("SELECT payload FROM outbox_events")).scalars().all()
        about = [
            p
            for p in payloads
            if (json.loads(p) if isinstance(p, str) else p)["data"]["conversation_id"]
            == conversation_id
        ]
        ids = ",".join(str(i) for i in turn_ids)
        return {
            "conversations": count("SELECT count(*) FROM conversations WHERE id = :c", **c),
            "turns": count("SELECT count(*) FROM turns WHERE conversation_id = :c", **c),
            "labels": count(f"SELECT count(*) FROM labels WHERE turn_id IN ({ids})"),
            "outbox_events": len(about),
            "inbound_receipts": count(
                "SELECT count(*) FROM inbound_receipts WHERE conversation_id = :c", **c
            ),
            "external_links": count(
                "SELECT count(*) FROM external_links WHERE conversation_id = :c", **c
            ),
        }


def audit(engine: Engine) -> list[tuple[str, str, str, str]]:
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                text(
                    "SELECT agent, action, conversation_id, details FROM agent_actions "
                    "WHERE action = 'erase' ORDER BY id"
                )
            )
        ]


def test_admin_api_erases_one_conversation_and_nothing_else(client, tiny_engine) -> None:
    engine = tiny_engine.store.engine
    gone, gone_turns = start(client, "where is my parcel 48213", "it is late, I am upset")
    kept, kept_turns = start(client, "hello", "refund please")
    link(engine, gone, "t-1")
    link(engine, kept, "t-2")
    before = rows(engine, gone, gone_turns)
    assert before["turns"] == 4 and before["labels"] == 1 and before["outbox_events"] >= 4
    kept_before = rows(engine, kept, kept_turns)

    r = client.delete(f"/v1/admin/conversations/{gone}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["conversation_id"] == gone
    assert body["deleted"] == {k: v for k, v in before.items() if k != "conversations"}

    assert set(rows(engine, gone, gone_turns).values()) == {0}
    assert rows(engine, kept, kept_turns) == kept_before
    assert client.get(f"/v1/conversations/{gone}").status_code == 404
    [(actor, action, conv, details)] = audit(engine)
    assert (actor, action, conv) == ("admin-key:ops", "erase", gone)
    assert "parcel" not in details and "upset" not in details  # counts, no content
    assert json.loads(details)["deleted"]["turns"] == 4

    again = client.delete(f"/v1/admin/conversations/{gone}")
    assert again.status_code == 404 and "unknown conversation_id" in again.json()["detail"]
    client.headers.pop("Authorization")
    assert client.delete(f"/v1/admin/conversations/{kept}").status_code == 401
    assert rows(engine, kept, kept_turns) == kept_before


def test_cli_erases_by_conversation_id(client, tiny_engine, env) -> None:
    engine = tiny_engine.store.engine
    gone, gone_turns = start(client, "cancel my order 55555", "now please")
    kept, kept_turns = start(client, "hello", "bye")
    link(engine, gone, "t-9")
    kept_before = rows(engine, kept, kept_turns)

    declined = CliRunner().invoke(
        main, ["data", "erase", "--conversation", gone], env=env, input="n\n"
    )
    assert declined.exit_code == 1 and rows(engine, gone, gone_turns)["turns"] == 4

    result = CliRunner().invoke(
        main, ["data", "erase", "--conversation", gone, "--yes", "--actor", "dpo"], env=env
    )
    assert result.exit_code == 0, result.output
    [erased] = json.loads(result.stdout)
    assert erased["conversation_id"] == gone and erased["deleted"]["turns"] == 4
    assert erased["deleted"]["inbound_receipts"] == 1 and erased["deleted"]["labels"] == 1
    assert set(rows(engine, gone, gone_turns).values()) == {0}
    assert rows(engine, kept, kept_turns) == kept_before
    assert [(a, c) for a, _, c, _ in audit(engine)] == [("dpo", gone)]

    unknown = CliRunner().invoke(main, ["data", "erase", "--conversation", gone, "--yes"], env=env)
    assert unknown.exit_code == 1 and "unknown conversation" in unknown.stderr
    usage = CliRunner().invoke(main, ["data", "erase", "--yes"], env=env)
    assert usage.exit_code == 2 and "--conversation ID and/or --email" in usage.output


def test_cli_erases_a_customer_by_email(client, tiny_engine, env) -> None:
    engine = tiny_engine.store.engine
    gone, gone_turns = start(client, "my email is Jane.Doe@example.com", "order 48213")
    other, other_turns = start(client, "I am bob@example.org", "hello")
    # the address itself is not stored (only its hash), yet the customer can be found
    with engine.connect() as conn:
        slots = conn.execute(text("SELECT slots FROM conversations WHERE id = :c"), {"c": gone})
        assert "jane" not in slots.scalar_one().lower()

    result = CliRunner().invoke(
        main, ["data", "erase", "--email", "jane.doe@EXAMPLE.com", "--yes"], env=env
    )
    assert result.exit_code == 0, result.output
    assert [e["conversation_id"] for e in json.loads(result.stdout)] == [gone]
    assert set(rows(engine, gone, gone_turns).values()) == {0}
    assert rows(engine, other, other_turns)["turns"] == 4

    nobody = CliRunner().invoke(
        main, ["data", "erase", "--email", "nobody@example.com", "--yes"], env=env
    )
    assert nobody.exit_code == 1 and "no conversation found" in nobody.stderr


def test_data_erase_help_explains() -> None:
    out = CliRunner().invoke(main, ["data", "erase", "--help"]).output
    assert "--conversation" in out and "--email" in out and "audit log" in out
