"""`assistant data export`: corrected labels win, PII redacted, duplicates removed,
stratified split, data card."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.settings import Settings
from assistant.store import BotTurn, CustomerTurn, Store, init_db, make_engine
from training.export import build_set, export_task


@pytest.fixture
def store(tmp_path: Path) -> Store:
    engine = make_engine(Settings(data_dir=tmp_path / "var").db_url)
    init_db(engine)
    return Store(engine)


def log_turn(
    store: Store, text: str, intent: str, confidence: float = 0.95, action: str = "answer"
) -> int:
    """One customer turn (stored as is: the engine redacts, the export redacts again)."""
    rec = store.record_turn(
        None,
        CustomerTurn(text, intent, confidence, "neutral", 0.95),
        BotTurn("ok", action, "test"),
        {},
        {},
        status="waiting_for_agent" if action == "handoff" else "bot",
    )
    return rec.customer_turn_id


def test_export_rules(store: Store) -> None:
    wrong = log_turn(store, "where is my parcel", "request_refund")  # bot was wrong
    store.add_label(wrong, "intents", "order_status", "ann")
    twice = log_turn(store, "refund my money", "order_status")
    store.add_label(twice, "intents", "cancel_order", "ann")
    store.add_label(twice, "intents", "request_refund", "bob")  # the latest correction wins
    pii = log_turn(store, "my email is jane.doe@example.com, call +44 20 7946 0958", "x")
    store.add_label(pii, "intents", "update_account", "ann")
    # the bot's confident label, no handoff: kept only with include_bot_labels
    log_turn(store, "reset my password", "reset_password", 0.97)
    # same text as an agent-labelled turn: the agent wins over the bot
    log_turn(store, "Where is my  PARCEL", "request_refund", 0.99)
    log_turn(store, "where is my parcel", "request_refund", 0.99)
    # excluded bot labels: low confidence, out of scope, a conversation handed off
    log_turn(store, "hello there", "greeting", 0.5)
    log_turn(store, "what is the meaning of life", "out_of_scope", 0.99)
    log_turn(store, "i want a human", "talk_to_human", 0.99, action="handoff")

    agents = export_task(store, "intents")
    rows = {ex.text: ex.label for ex in agents.train + agents.val + agents.test}
    assert rows == {
        "where is my parcel": "order_status",
        "refund my money": "request_refund",
        "my email is [EMAIL], call [PHONE]": "update_account",
    }
    assert agents.card["sources"] == {"agent": 3}

    both = export_task(store, "intents", include_bot_labels=True)
    rows = {ex.text.casefold(): ex.label for ex in both.train + both.val + both.test}
    assert rows == {
        "where is my parcel": "order_status",  # the agent's label beat two bot rows
        "refund my money": "request_refund",
        "my email is [email], call [phone]": "update_account",
        "reset my password": "reset_password",
    }
    assert both.card["duplicates_removed"] == 2
    assert both.card["sources"] == {"agent": 3, "bot": 1}
    assert not any("@" in text for text in rows)


def test_stratified_split_and_card_files(store: Store, tmp_path: Path) -> None:
    from training.cli_retrain import data_group

    for label, n in (("order_status", 20), ("request_refund", 10), ("brand_new_intent", 3)):
        for i in range(n):
            turn = log_turn(store, f"{label} question number {i}", "greeting", 0.2)
            store.add_label(turn, "intents", label, "ann")
    store.add_label(log_turn(store, "i am furious", "complaint"), "sentiment", "negative", "ann")

    result = CliRunner().invoke(
        data_group,
        ["export", "--out", str(tmp_path / "out")],
        env={"CSA_DATA_DIR": str(tmp_path / "var")},
    )
    assert result.exit_code == 0, result.output
    folder = tmp_path / "out" / "intents"
    card = json.loads((folder / "card.json").read_text())
    assert card["labels"]["order_status"] == {"train": 16, "val": 2, "test": 2}
    assert card["labels"]["request_refund"] == {"train": 8, "val": 1, "test": 1}
    assert sum(card["labels"]["brand_new_intent"].values()) == 3
    assert card["labels"]["brand_new_intent"]["train"] >= 1
    assert card["rows"] == 33 and card["sources"] == {"agent": 33}
    assert card["date_range"][0] <= card["date_range"][1]
    assert len(card["data_hash"]) == 16
    lines = (folder / "train.jsonl").read_text().splitlines()
    assert len(lines) == card["splits"]["train"] and json.loads(lines[0]).keys() == {
        "text",
        "label",
    }
    readme = (folder / "README.md").read_text()
    assert "| order_status | 16 | 2 | 2 |" in readme
    sentiment = json.loads((tmp_path / "out" / "sentiment" / "card.json").read_text())
    assert sentiment["rows"] == 1 and sentiment["labels"]["negative"]["train"] == 1
    printed = json.loads(result.stdout)
    assert set(printed) == {"intents", "sentiment"}

    # --since after everything: nothing to export
    result = CliRunner().invoke(
        data_group,
        ["export", "--out", str(tmp_path / "later"), "--since", "2999-01-01"],
        env={"CSA_DATA_DIR": str(tmp_path / "var")},
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["intents"]["rows"] == 0


def test_build_set_same_rows_same_split_and_hash() -> None:
    from training.export import LabelledTurn

    rows = [LabelledTurn(f"text {i}", f"l{i % 3}", "agent", i, None) for i in range(30)]
    a, b = build_set("intents", rows), build_set("intents", list(reversed(rows)))
    assert a.card["data_hash"] == b.card["data_hash"]
    assert [ex.text for ex in a.test] == [ex.text for ex in b.test]
