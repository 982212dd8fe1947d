"""Admin API keys and the `assistant keys` / `assistant webhooks` commands."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from assistant.cli import main
from assistant.settings import Settings
from assistant.store import Store, init_db, make_engine
from assistant.store.integrations import ApiKey
from assistant.webhooks.keys import KeyNameTaken, check_token, create_key, list_keys, revoke_key


@pytest.fixture
def store(settings: Settings) -> Store:
    engine = make_engine(settings.db_url)
    init_db(engine)
    return Store(engine)


@pytest.fixture
def cli(settings: Settings):
    runner = CliRunner()
    env = {"CSA_DATA_DIR": str(settings.data_dir)}
    return lambda *args: runner.invoke(main, list(args), env=env)


def test_only_a_hash_is_stored_and_the_token_checks(store) -> None:
    new = create_key(store, "ops")
    assert new.token.startswith("csa_") and len(new.token) > 40
    with store.sessions() as s:
        row = s.scalars(select(ApiKey)).one()
    assert new.token not in (row.key_hash, row.prefix) and row.prefix == new.token[:12]
    assert check_token(store, new.token) == "ops"
    assert check_token(store, new.token[:-1] + ("A" if new.token[-1] != "A" else "B")) is None
    assert check_token(store, "") is None and check_token(store, "csa_short") is None


def test_names_are_unique_among_active_keys_and_revoke_frees_them(store) -> None:
    first = create_key(store, "ops")
    with pytest.raises(KeyNameTaken):
        create_key(store, "ops")
    assert revoke_key(store, "ops") == 1 and revoke_key(store, "ops") == 0
    assert check_token(store, first.token) is None
    second = create_key(store, "ops")
    assert check_token(store, second.token) == "ops"
    assert [k["revoked_at"] is None for k in list_keys(store)] == [False, True]


def test_keys_commands(cli) -> None:
    added = cli("keys", "add", "ci-bot")
    assert added.exit_code == 0, added.output
    token = added.stdout.strip()
    assert token.startswith("csa_") and "\n" not in token  # stdout: the token alone
    listed = cli("keys", "list", "--json")
    rows = json.loads(listed.stdout)
    assert [(r["name"], r["prefix"]) for r in rows] == [("ci-bot", token[:12])]
    assert token not in cli("keys", "list").stdout
    assert cli("keys", "add", "ci-bot").exit_code == 2
    assert cli("keys", "revoke", "ci-bot").exit_code == 0
    missing = cli("keys", "revoke", "ci-bot")
    assert missing.exit_code == 2 and "no active key named 'ci-bot'" in missing.output


def test_webhooks_commands(cli, store) -> None:
    ok = cli(
        "webhooks",
        "subscribe",
        "http://127.0.0.1:9/hook",
        "--events",
        "conversation.closed,turn.created",
        "--secret",
        "s3cret",
    )
    assert ok.exit_code == 0, ok.output
    generated = cli("webhooks", "subscribe", "https://helpdesk.example/hook")
    assert generated.exit_code == 0 and len(generated.stdout.strip()) >= 32  # secret, once
    rows = json.loads(cli("webhooks", "list", "--json").stdout)
    assert rows[0] == {
        "id": 1,
        "url": "http://127.0.0.1:9/hook",
        "events": ["turn.created", "conversation.closed"],
        "active": True,
    }
    assert len(rows[1]["events"]) == 3
    assert "s3cret" not in cli("webhooks", "list").stdout
    bad = cli("webhooks", "subscribe", "http://x/h", "--events", "turn.deleted")
    assert bad.exit_code == 2 and "turn.deleted" in bad.output
    assert cli("webhooks", "subscribe", "ftp://x/h").exit_code == 2
    delivered = cli("webhooks", "deliver")
    assert delivered.exit_code == 0 and "0 due" in delivered.output
    assert cli("webhooks", "disable", "2").exit_code == 0
    assert json.loads(cli("webhooks", "list", "--json").stdout)[1]["active"] is False
