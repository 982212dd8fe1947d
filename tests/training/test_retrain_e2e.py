"""The retraining loop end to end on a tiny BERT, and the promotion gate's table.

v1 (trained on synthetic data, registered with a frozen regression set) -> turns logged
through the engine -> agents' corrections, including a brand-new intent -> retrain:
promoted as v2 (the new intent is learnable) -> retrain with a deliberately bad recipe:
refused, kept as v3 "rejected" -> rollback to v1.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

_TESTS = str(Path(__file__).resolve().parents[1])
if _TESTS not in sys.path:
    sys.path.append(_TESTS)

from tiny_models import make_tiny_bert  # noqa: E402

from training import Example, TrainArgs, stratified_split, train_classifier  # noqa: E402
from training.retrain import gate  # noqa: E402


# -- the gate ---------------------------------------------------------------------------------
def m(f1: float, **recalls: tuple[int, float]) -> dict[str, object]:
    return {
        "macro_f1": f1,
        "per_label": {k: {"n": n, "recall": r} for k, (n, r) in recalls.items()},
    }


GATE_CASES = [
    ("better everywhere", m(0.80, a=(30, 0.8)), m(0.85, a=(30, 0.9)), True, []),
    ("equal is fine", m(0.80, a=(30, 0.8)), m(0.80, a=(30, 0.8)), True, []),
    ("macro-F1 drops", m(0.80), m(0.79), False, ["macro-F1 drops"]),
    ("recall -2 points: allowed", m(0.8, a=(20, 0.90)), m(0.9, a=(20, 0.88)), True, []),
    (
        "recall -3 points, 20 examples",
        m(0.8, a=(20, 0.90)),
        m(0.9, a=(20, 0.87)),
        False,
        ["recall of 'a'"],
    ),
    (
        "recall -50 points, 19 examples: not guarded",
        m(0.8, a=(19, 0.9)),
        m(0.9, a=(19, 0.4)),
        True,
        [],
    ),
    ("a guarded label the candidate lost", m(0.8, a=(25, 0.5)), m(0.9), False, ["recall of 'a'"]),
    (
        "both rules fail",
        m(0.8, a=(40, 0.9), b=(40, 0.9)),
        m(0.7, a=(40, 0.5), b=(40, 0.9)),
        False,
        ["macro-F1 drops", "recall of 'a'"],
    ),
]


@pytest.mark.parametrize(
    ("current", "candidate", "ok", "reasons"),
    [case[1:] for case in GATE_CASES],
    ids=[case[0] for case in GATE_CASES],
)
def test_gate(current: dict, candidate: dict, ok: bool, reasons: list[str]) -> None:
    got_ok, got_reasons = gate(current, candidate)
    assert got_ok is ok
    assert len(got_reasons) == len(reasons)
    for got, want in zip(got_reasons, reasons, strict=True):
        assert got.startswith(want)


# -- end to end -------------------------------------------------------------------------------
WORDS = {
    "order_status": ["where is my order", "track my package", "order status", "parcel tracking"],
    "request_refund": ["refund my money", "money back please", "i want a refund", "refund"],
    "reset_password": ["reset my password", "password reset", "login password", "new password"],
}
NEW_INTENT = "gift_card"  # introduced by agents: v1 has never seen it
NEW_WORDS = ["gift card balance", "use my gift card", "gift card code", "buy a gift card"]
FILLER = ["hi", "please", "today", "thanks", "hello", "now", "can you help", "hey"]


def phrases(words: list[str], n: int, rng: random.Random) -> list[str]:
    return [f"{rng.choice(FILLER)} {rng.choice(words)} {rng.choice(FILLER)} {i}" for i in range(n)]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny BERT whose tokenizer knows its vocabulary under transformers 5."""
    from transformers import BertTokenizerFast

    folder = make_tiny_bert(tmp_path_factory.mktemp("tiny") / "bert")
    BertTokenizerFast(vocab=str(folder / "vocab.txt"), do_lower_case=True).save_pretrained(folder)
    return folder


@pytest.fixture(autouse=True)
def one_thread() -> object:
    """Tiny models gain nothing from threads; on a busy 2-core box they lose a lot."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def fast_args(base: Path, **changes: object) -> TrainArgs:
    # freeze_layers 0: a tiny random model must learn its embeddings (MiniLM's are good)
    args = dict(
        base_model=base,
        epochs=12,
        patience=4,
        lr=3e-3,
        batch_size=16,
        max_length=16,
        device="cpu",
        freeze_layers=0,
    )
    return TrainArgs(**{**args, **changes})  # type: ignore[arg-type]


def test_retrain_promote_refuse_rollback(
    base: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from assistant.engine import Models
    from assistant.runtime import build_engine
    from assistant.settings import Settings
    from assistant.store import NewPair, Store, init_db, make_engine
    from intents import TextClassifier
    from retrieval import KnowledgeBase, QAPair, SentenceEncoder
    from training.cli_retrain import models_group
    from training.registry import Registry
    from training.retrain import retrain

    rng = random.Random(0)
    settings = Settings(data_dir=tmp_path / "var", encoder_path=base)
    registry = Registry(settings.data_dir / "models")

    # v1: the "original" training data, 15% frozen as the regression set.
    original = [Example(t, label) for label, w in WORDS.items() for t in phrases(w, 40, rng)]
    train, held_out = stratified_split(original, (0.85, 0.15), seed=0)
    registry.freeze_data("intents", train, held_out)
    staging = registry.staging_dir("intents")
    train_classifier(list(train), None, fast_args(base, epochs=5, patience=2), staging, "intents")
    registry.promote("intents", registry.register("intents", staging).version)

    # The service, on v1, logs customer turns; agents correct some of them.
    engine = make_engine(settings.db_url)
    init_db(engine)
    store = Store(engine)
    store.upsert_pairs([NewPair("where is my order", "It ships in 2 days.", "order_status")])
    sentiment = TextClassifier.create(base, ["negative", "neutral", "positive"], "sentiment")
    kb = KnowledgeBase(SentenceEncoder(base))
    kb.build([QAPair(1, "where is my order", "It ships in 2 days.", "order_status")])
    v1 = TextClassifier.load(settings.intent_model_dir)
    turn_engine = build_engine(settings, store, Models(v1, sentiment, kb))
    corrections = [(t, NEW_INTENT) for t in phrases(NEW_WORDS, 16, rng)]
    corrections += [(t, "order_status") for t in phrases(WORDS["order_status"], 6, rng)]
    corrections.append(("my gift card, mail me at jo@example.com", NEW_INTENT))
    for text, label in corrections:
        result = turn_engine.handle(None, text)
        # routes_admin.py (POST /v1/admin/labels) is not in the repo yet: the Store call
        # that endpoint wraps.
        store.add_label(result.turn_id, "intents", label, "agent-ann")

    # 1) a good recipe from the live model's encoder: promoted, and the new intent is learnt
    report = retrain(settings, store, ["intents"], device="cpu", args=fast_args(base))
    (outcome,) = report.outcomes
    assert outcome.status == "promoted", outcome.reasons
    assert outcome.version == "v2" and outcome.live == "v2"
    assert outcome.current_metrics and outcome.candidate_metrics
    assert outcome.candidate_metrics["macro_f1"] >= outcome.current_metrics["macro_f1"]
    v2 = TextClassifier.load(settings.intent_model_dir)
    assert set(v2.labels) == set(WORDS) | {NEW_INTENT}  # the output layer grew
    assert outcome.current_metrics["per_label"][NEW_INTENT]["recall"] == 0.0
    gift = [text for text, label in corrections if label == NEW_INTENT]
    top = [p.top[0][0] for p in v2.predict(gift)]
    assert top.count(NEW_INTENT) > len(gift) / 2, top  # learnt (v1 could not even say it)
    info = registry.get("intents", "v2")
    assert info.parent == "v1" and info.data_hash and info.status == "promoted"
    regression = registry.regression_set("intents")
    assert len(regression) > len(held_out)  # held-out labelled turns joined the frozen set
    assert not any("@" in ex.text for ex in regression + registry.base_train("intents"))
    assert report.index_size == 1 and (settings.index_dir / "manifest.json").is_file()

    # 2) a deliberately worse recipe (base encoder, learning rate ~0, one epoch): refused
    bad = fast_args(base, lr=1e-9, epochs=1)
    report = retrain(settings, store, ["intents"], base="encoder", args=bad, refresh_index=False)
    (outcome,) = report.outcomes
    assert outcome.status == "rejected" and outcome.version == "v3" and outcome.live == "v2"
    assert any("macro-F1 drops" in r for r in outcome.reasons)
    assert registry.current_version("intents") == "v2"
    assert registry.get("intents", "v3").status == "rejected"

    # 3) rollback through the CLI: v1 is live again
    monkeypatch.setenv("CSA_DATA_DIR", str(settings.data_dir))
    result = CliRunner().invoke(models_group, ["rollback", "--task", "intents"])
    assert result.exit_code == 0, result.output
    assert TextClassifier.load(settings.intent_model_dir).version == v1.version
    listing = json.loads(CliRunner().invoke(models_group, ["list", "--json"]).stdout)
    assert listing["intents"]["current"] == "v1"
    assert [v["status"] for v in listing["intents"]["versions"]] == [
        "promoted",
        "promoted",
        "rejected",
    ]


class _Stop(Exception):
    pass


def test_retraining_keeps_the_live_models_frozen_layers(
    base: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A live model trained with --freeze-layers shares its bottom with the encoder in the
    server; a candidate trained from it keeps those layers frozen unless told otherwise."""
    import training.finetune as finetune
    from training.export import ExportedSet
    from training.registry import Registry
    from training.retrain import retrain_task

    rng = random.Random(1)
    registry = Registry(tmp_path / "models")
    rows = [Example(t, label) for label, w in WORDS.items() for t in phrases(w, 12, rng)]
    staging = registry.staging_dir("intents")
    train_classifier(rows, None, fast_args(base, epochs=1, freeze_layers=1), staging, "intents")
    registry.promote("intents", registry.register("intents", staging).version)

    seen: list[TrainArgs] = []

    def record(train: object, val: object, args: TrainArgs, *rest: object) -> None:
        seen.append(args)
        raise _Stop

    monkeypatch.setattr(finetune, "train_classifier", record)
    data = ExportedSet("intents", rows[:6], [], rows[6:9])
    for asked, expected in ((None, 1), (2, 2), (0, 0)):  # None: as the live model
        with pytest.raises(_Stop):
            retrain_task(registry, data, fast_args(base, freeze_layers=asked), "current")
        assert seen[-1].freeze_layers == expected
