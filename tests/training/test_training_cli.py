"""End to end on a tiny random BERT: `train` -> `eval` through the click commands,
seeded determinism, out-of-scope rows, error exits."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file

_TESTS = str(Path(__file__).resolve().parents[1])
if _TESTS not in sys.path:  # tests/conftest.py normally adds it (for tiny_models)
    sys.path.append(_TESTS)

from tiny_models import make_tiny_bert  # noqa: E402

from intents import OUT_OF_SCOPE, TextClassifier  # noqa: E402
from training import Example, TrainArgs, eval_command, train_classifier, train_command  # noqa: E402

KEYWORDS = {
    "order_status": ["track my package", "where is my order", "tracking status", "shipped yet"],
    "refund": ["refund my money", "money back", "return the item", "refund please"],
    "password": ["reset my password", "login problem", "password reset", "account login"],
}
FILLER = ["please", "hi", "can you help", "thanks", "today", "i need", "hello", "now"]
OOS_TEXTS = ["bye", "great good love", "what time is it", "ok fine", "angry terrible"]


def synthetic(n_per_label: int, seed: int, oos: int = 0) -> list[Example]:
    rng = random.Random(seed)
    rows = [
        Example(f"{rng.choice(FILLER)} {rng.choice(words)} {rng.choice(FILLER)}", label)
        for label, words in KEYWORDS.items()
        for _ in range(n_per_label)
    ]
    rows += [Example(rng.choice(OOS_TEXTS), "oos") for _ in range(oos)]
    rng.shuffle(rows)
    return rows


def write_jsonl(path: Path, rows: list[Example], text: str = "text", label: str = "label") -> Path:
    path.write_text("".join(json.dumps({text: r.text, label: r.label}) + "\n" for r in rows))
    return path


def tiny_bert(folder: Path) -> Path:
    """make_tiny_bert with a working tokenizer vocabulary under transformers 5."""
    from transformers import BertTokenizerFast

    make_tiny_bert(folder)
    BertTokenizerFast(vocab=str(folder / "vocab.txt"), do_lower_case=True).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_bert(tmp_path_factory.mktemp("tiny") / "bert")


FAST = ["--epochs", "4", "--lr", "2e-3", "--batch-size", "16", "--max-length", "16"]


def test_train_then_eval_through_the_cli(
    base: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO")
    train = write_jsonl(tmp_path / "train.jsonl", synthetic(30, seed=1), "utterance", "intent")
    val = write_jsonl(tmp_path / "val.jsonl", synthetic(6, seed=2, oos=6), "utterance", "intent")
    test = write_jsonl(
        tmp_path / "test.jsonl", synthetic(10, seed=3, oos=10), "utterance", "intent"
    )
    cols = ["--text-column", "utterance", "--label-column", "intent"]
    runner = CliRunner()
    out = tmp_path / "model"
    result = runner.invoke(
        train_command,
        [
            "intents",
            "--data",
            str(train),
            "--val",
            str(val),
            *cols,
            *FAST,
            "--base-model",
            str(base),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output + str(result.exception)
    assert json.loads(result.stdout.strip().splitlines()[-1])["out"] == str(out)
    assert "epoch 1/4: train loss" in caplog.text

    report = tmp_path / "report"
    result = runner.invoke(
        eval_command,
        ["intents", "--model", str(out), "--data", str(test), *cols, "--report", str(report)],
    )
    assert result.exit_code == 0, result.output + str(result.exception)
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    metrics = json.loads(lines[0])
    assert {"n", "accuracy", "macro_f1", "in_scope_accuracy", "oos_recall", "n_oos"} <= set(metrics)
    assert metrics["n"] == 40 and metrics["n_oos"] == 10
    assert metrics["accuracy"] > 0.5  # chance is 1/4 with out-of-scope as a class
    for name in (
        "per_label.csv",
        "confusion.png",
        "confused_pairs.png",
        "reliability.png",
        "metrics.json",
    ):
        assert (report / name).stat().st_size > 0

    clf = TextClassifier.load(out)
    assert clf.labels == sorted(KEYWORDS)  # "oos" is not a class
    assert 0.0 < clf.oos_threshold < 1.0
    assert clf.temperature > 0
    assert clf.predict(["where is my order please"])[0].label in (*KEYWORDS, OUT_OF_SCOPE)

    wrong_task = runner.invoke(
        eval_command, ["sentiment", "--model", str(out), "--data", str(test), *cols]
    )
    assert wrong_task.exit_code != 0 and "intents model, not sentiment" in wrong_task.stderr


def test_same_seed_gives_the_same_weights(base: Path, tmp_path: Path) -> None:
    rows = synthetic(10, seed=5)
    args = TrainArgs(
        base_model=base, epochs=2, lr=1e-3, batch_size=8, max_length=16, seed=7, device="cpu"
    )
    first = train_classifier(rows, None, args, tmp_path / "a", "sentiment")
    second = train_classifier(rows, None, args, tmp_path / "b", "sentiment")
    wa, wb = (
        load_file(str(first.out_dir / "model.safetensors")),
        load_file(str(second.out_dir / "model.safetensors")),
    )
    assert wa.keys() == wb.keys()
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert first.epochs_run == 2 and first.device == "cpu"
    assert TextClassifier.load(first.out_dir).oos_threshold == 0.0  # sentiment never rejects


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('{"text": "a", "label": "b"}\nnot json\n', "train.jsonl:2: invalid JSON"),
        ('{"text": "", "label": "b"}\n', "train.jsonl:1: empty text"),
    ],
)
def test_bad_data_file_exits_non_zero_without_traceback(
    tmp_path: Path, body: str, expected: str
) -> None:
    (tmp_path / "train.jsonl").write_text(body)
    for command, extra in (
        (train_command, ["--out", str(tmp_path / "m")]),
        (eval_command, ["--model", str(tmp_path / "m")]),
    ):
        result = CliRunner().invoke(
            command, ["intents", "--data", str(tmp_path / "train.jsonl"), *extra]
        )
        assert result.exit_code != 0
        assert expected in result.stderr
        assert "Traceback" not in result.stderr and result.stdout == ""


def test_bad_settings_and_missing_model_exit_cleanly(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "d.jsonl", synthetic(2, seed=0))
    result = CliRunner().invoke(
        train_command, ["intents", "--data", str(data), "--lr", "-1", "--out", str(tmp_path / "m")]
    )
    assert result.exit_code == 2 and "lr must be > 0" in result.stderr
    result = CliRunner().invoke(
        eval_command, ["intents", "--model", str(tmp_path / "none"), "--data", str(data)]
    )
    assert result.exit_code == 1 and "cannot load classifier" in result.stderr


def test_help_texts() -> None:
    for command in (train_command, eval_command):
        result = CliRunner().invoke(command, ["--help"])
        assert result.exit_code == 0
        assert "intents" in result.output and "--data" in result.output


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_training_on_cuda_with_mixed_precision(base: Path, tmp_path: Path) -> None:
    args = TrainArgs(base_model=base, epochs=2, lr=2e-3, batch_size=8, max_length=16, device="cuda")
    result = train_classifier(synthetic(10, seed=1), None, args, tmp_path / "m", "intents")
    assert result.device == "cuda"
    assert TextClassifier.load(result.out_dir, device="cuda").predict(["refund please"])


def test_public_names_resolve_to_functions_whatever_the_import_order() -> None:
    import training
    import training.finetune  # noqa: F401  (loads training.evaluation first)

    assert callable(training.evaluate) and callable(training.write_report)
