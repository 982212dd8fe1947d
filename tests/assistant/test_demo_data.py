"""Content checks for the Harbor & Pine demo store data in assistant/demo/."""

import json
import re
from collections import Counter
from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parents[2] / "assistant" / "demo"

INTENTS = [
    "order_status",
    "cancel_order",
    "change_order",
    "change_shipping_address",
    "delivery_times",
    "delivery_options",
    "shipping_cost",
    "request_refund",
    "refund_status",
    "return_item",
    "exchange_item",
    "damaged_item",
    "wrong_item",
    "missing_item",
    "payment_problem",
    "payment_methods",
    "get_invoice",
    "promo_code",
    "product_availability",
    "create_account",
    "delete_account",
    "reset_password",
    "login_problem",
    "update_account",
    "newsletter_unsubscribe",
    "complaint",
    "talk_to_human",
    "greeting",
    "goodbye",
    "thanks",
]
CUSTOMER_SLOTS = {"order_number", "email", "phone"}
ORDER_INTENTS = {
    "order_status",
    "cancel_order",
    "change_order",
    "change_shipping_address",
    "refund_status",
    "damaged_item",
    "wrong_item",
    "missing_item",
    "get_invoice",
}
PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def load_json(name: str):
    path = DEMO / name
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        pytest.fail(f"{name}: invalid JSON at line {exc.lineno}: {exc.msg}")


def load_jsonl(name: str, keys: set[str]) -> list[dict]:
    rows = []
    lines = (DEMO / name).read_text(encoding="utf-8").splitlines()
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            pytest.fail(f"{name}:{lineno}: invalid JSON: {exc.msg}")
        assert isinstance(row, dict), f"{name}:{lineno}: expected a JSON object"
        missing = keys - row.keys()
        assert not missing, f"{name}:{lineno}: missing keys {sorted(missing)}"
        for key in keys:
            value = row[key]
            assert isinstance(value, str), f"{name}:{lineno}: {key!r} must be a string"
            assert value.strip(), f"{name}:{lineno}: {key!r} is empty"
        rows.append(row)
    assert rows, f"{name}: no rows"
    return rows


@pytest.fixture(scope="module")
def company() -> dict:
    data = load_json("company.json")
    assert isinstance(data, dict), "company.json: expected a flat JSON object"
    for key, value in data.items():
        assert isinstance(value, str) and value.strip(), f"company.json: {key!r} must be text"
    return data


@pytest.fixture(scope="module")
def intent_meta() -> dict:
    data = load_json("intents.json")
    assert isinstance(data, dict), "intents.json: expected a JSON object"
    return data


@pytest.fixture(scope="module")
def phrasings() -> list[dict]:
    return load_jsonl("intents.jsonl", {"text", "intent"})


@pytest.fixture(scope="module")
def answers() -> list[dict]:
    return load_jsonl("answers.jsonl", {"id", "intent", "question", "answer"})


@pytest.fixture(scope="module")
def sentiment() -> list[dict]:
    return load_jsonl("sentiment.jsonl", {"text", "label"})


def test_company_has_core_facts(company):
    required = {
        "company_name",
        "website_url",
        "support_email",
        "support_phone",
        "support_hours",
        "returns_url",
        "order_tracking_url",
        "account_url",
        "password_reset_url",
        "help_center_url",
        "shipping_policy_url",
        "returns_window_days",
        "standard_delivery_days",
        "express_delivery_days",
        "free_shipping_threshold",
        "refund_processing_days",
        "address",
    }
    missing = required - company.keys()
    assert not missing, f"company.json: missing keys {sorted(missing)}"
    overlap = CUSTOMER_SLOTS & company.keys()
    assert not overlap, f"company.json: customer slots must not be company facts: {overlap}"


def test_intent_metadata(intent_meta):
    assert sorted(intent_meta) == sorted(INTENTS), "intents.json: wrong set of intent names"
    for name, meta in intent_meta.items():
        for key in ("title", "description"):
            assert isinstance(meta.get(key), str) and meta[key].strip(), (
                f"intents.json: {name}.{key} missing or empty"
            )
        slots = meta.get("required_slots")
        assert isinstance(slots, list), f"intents.json: {name}.required_slots must be a list"
        expected = ["order_number"] if name in ORDER_INTENTS else []
        assert slots == expected, f"intents.json: {name}.required_slots should be {expected}"
        assert meta.get("handoff", False) is (name == "talk_to_human"), (
            f"intents.json: {name}.handoff should be {name == 'talk_to_human'}"
        )


def test_phrasing_intents_and_counts(phrasings):
    counts = Counter(row["intent"] for row in phrasings)
    assert set(counts) == set(INTENTS) | {"oos"}, (
        f"intents.jsonl: unexpected {sorted(set(counts) - set(INTENTS) - {'oos'})}, "
        f"missing {sorted(set(INTENTS) | {'oos'} - set(counts))}"
    )
    thin = {name: counts[name] for name in INTENTS if counts[name] < 25}
    assert not thin, f"intents.jsonl: fewer than 25 phrasings for {thin}"
    assert counts["oos"] >= 60, f"intents.jsonl: only {counts['oos']} oos lines"


def test_phrasings_unique(phrasings):
    seen: dict[str, int] = {}
    dups = []
    for index, row in enumerate(phrasings):
        key = " ".join(row["text"].lower().split())
        if key in seen:
            dups.append(row["text"])
        seen[key] = index
    assert not dups, f"intents.jsonl: duplicate texts {dups[:10]}"


def test_every_intent_has_answers(intent_meta, answers):
    unknown = {row["intent"] for row in answers} - set(intent_meta)
    assert not unknown, f"answers.jsonl: unknown intents {sorted(unknown)}"
    covered = Counter(row["intent"] for row in answers)
    missing = [name for name in intent_meta if covered[name] == 0]
    assert not missing, f"answers.jsonl: no answer for {missing}"


def test_answer_ids_unique(answers):
    ids = Counter(row["id"] for row in answers)
    dups = sorted(i for i, n in ids.items() if n > 1)
    assert not dups, f"answers.jsonl: duplicate ids {dups}"


def test_answer_placeholders_resolve(company, answers):
    allowed = set(company) | CUSTOMER_SLOTS
    bad = []
    for row in answers:
        for field in ("question", "answer"):
            for name in PLACEHOLDER.findall(row[field]):
                if name not in allowed:
                    bad.append(f"{row['id']}.{field}: {{{name}}}")
    assert not bad, f"answers.jsonl: unknown placeholders {bad}"
    for row in answers:
        text = PLACEHOLDER.sub("", row["answer"])
        assert "{" not in text and "}" not in text, f"answers.jsonl: stray brace in {row['id']}"


def test_answers_fill_with_company_facts(company, answers):
    values = dict(company, order_number="48213", email="a@b.example", phone="555-0100")
    for row in answers:
        filled = row["answer"].format(**values)
        assert "{" not in filled, f"answers.jsonl: {row['id']} did not fill"


def test_sentiment_labels(sentiment):
    labels = Counter(row["label"] for row in sentiment)
    assert set(labels) <= {"negative", "neutral", "positive"}, f"sentiment.jsonl: {labels}"
    assert labels["negative"] >= 120, f"sentiment.jsonl: {labels['negative']} negative"
    assert labels["neutral"] >= 90, f"sentiment.jsonl: {labels['neutral']} neutral"
    assert labels["positive"] >= 90, f"sentiment.jsonl: {labels['positive']} positive"
    texts = Counter(row["text"].lower() for row in sentiment)
    dups = sorted(t for t, n in texts.items() if n > 1)
    assert not dups, f"sentiment.jsonl: duplicate texts {dups[:10]}"
