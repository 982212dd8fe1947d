"""`assistant train` and `assistant eval`: click commands (only click is imported here, so
`assistant --help` stays fast; torch and transformers load inside the commands)."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import click

from .args import TrainArgs  # light: dataclasses only

TASK = click.Choice(["intents", "sentiment"])
_DATA_HELP = "CSV (with a header row) or JSON-lines (.jsonl / .json) file."


def _default(name: str) -> str:
    return f"  [default: {TrainArgs.__dataclass_fields__[name].default}]"


def _setup_logging() -> None:
    """INFO logs to stderr unless the host CLI configured logging already."""
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO,
            stream=sys.stderr,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
    logging.getLogger("training").setLevel(logging.INFO)
    logging.getLogger("intents").setLevel(logging.INFO)


def _load(path: Path, text_column: str, label_column: str) -> Any:
    from .data import DataFileError, load_examples

    try:
        return load_examples(path, text_column, label_column)
    except DataFileError as err:
        raise click.ClickException(str(err)) from err


def _column_options(func: Any) -> Any:
    func = click.option(
        "--oos-label",
        default="oos",
        show_default=True,
        help="Label of out-of-scope rows (intents only): not a class; in "
        "validation data they set the out-of-scope threshold, in "
        "evaluation data they count right when rejected.",
    )(func)
    func = click.option(
        "--label-column",
        default="label",
        show_default=True,
        help="Column (CSV) or field (JSON lines) holding the label.",
    )(func)
    func = click.option(
        "--text-column",
        default="text",
        show_default=True,
        help="Column (CSV) or field (JSON lines) holding the text.",
    )(func)
    return func


@click.command(
    "train",
    epilog="Example: assistant train intents --data intents.csv --out var/models/intents",
)
@click.argument("task", type=TASK)
@click.option(
    "--data",
    "data",
    type=click.Path(path_type=Path),
    required=True,
    help=f"Training examples. {_DATA_HELP}",
)
@click.option(
    "--val",
    "val",
    type=click.Path(path_type=Path),
    default=None,
    help="Validation examples (same format), used for early stopping, the "
    "temperature and the out-of-scope threshold. Default: a stratified "
    "10% of --data.",
)
@_column_options
@click.option("--epochs", type=int, default=None, help="Maximum epochs." + _default("epochs"))
@click.option(
    "--lr",
    type=float,
    default=None,
    help="Peak learning rate of the encoder (the head's is 10x)." + _default("lr"),
)
@click.option(
    "--batch-size", type=int, default=None, help="Examples per step." + _default("batch_size")
)
@click.option(
    "--max-length",
    type=int,
    default=None,
    help="Tokens kept per text (longer ones are truncated)." + _default("max_length"),
)
@click.option(
    "--seed",
    type=int,
    default=None,
    help="Random seed; the same seed gives the same model on CPU." + _default("seed"),
)
@click.option(
    "--patience",
    type=int,
    default=None,
    help="Stop after this many epochs without a better validation macro-F1." + _default("patience"),
)
@click.option(
    "--freeze-layers",
    type=int,
    default=None,
    help="Keep the embeddings and the first N layers of the base model as they are (the "
    "server then shares one pass of them with the retrieval encoder); 0 fine-tunes every "
    "layer.  [default: half the layers, 3 for MiniLM]",
)
@click.option(
    "--device",
    type=click.Choice(["auto", "cpu", "cuda"]),
    default="auto",
    show_default=True,
    help="auto = cuda when a GPU is available (bf16/fp16 mixed precision), else cpu.",
)
@click.option(
    "--base-model",
    type=click.Path(path_type=Path),
    default=None,
    help="Local Hugging Face BERT-family model folder to fine-tune.  [default: the "
    "packaged all-MiniLM-L6-v2]",
)
@click.option(
    "--out",
    "out",
    type=click.Path(path_type=Path),
    required=True,
    help="Folder to write the classifier to (replaced atomically when it exists).",
)
def train_command(
    task: str,
    data: Path,
    val: Path | None,
    text_column: str,
    label_column: str,
    oos_label: str,
    out: Path,
    **overrides: Any,
) -> None:
    """Fine-tune a TASK classifier (intents or sentiment) on labelled texts.

    The whole encoder is fine-tuned with a linear head; the best epoch on validation
    macro-F1 is kept, then confidences are calibrated (temperature scaling) and, for
    intents, an out-of-scope threshold is chosen. Writes weights, tokenizer,
    classifier.json and metrics.json to --out and prints the validation metrics as one
    JSON line on stdout (logs go to stderr).
    """
    _setup_logging()
    train_rows = _load(data, text_column, label_column)
    val_rows = _load(val, text_column, label_column) if val is not None else None

    from .args import TrainArgs
    from .finetune import train_classifier

    args = TrainArgs(oos_label=oos_label, **{k: v for k, v in overrides.items() if v is not None})
    try:
        args.validate()
    except ValueError as err:
        raise click.UsageError(str(err)) from err
    try:
        result = train_classifier(train_rows, val_rows, args, out, task)
    except ValueError as err:
        raise click.ClickException(str(err)) from err
    summary = {k: v for k, v in result.metrics.items() if k not in ("history", "args")}
    click.echo(json.dumps({"out": str(result.out_dir), **summary}))


@click.command(
    "eval",
    epilog="Example: assistant eval intents --model var/models/intents --data test.csv "
    "--report var/reports/intents",
)
@click.argument("task", type=TASK)
@click.option(
    "--model",
    "model",
    type=click.Path(path_type=Path),
    required=True,
    help="Classifier folder written by `train`.",
)
@click.option(
    "--data",
    "data",
    type=click.Path(path_type=Path),
    required=True,
    help=f"Labelled examples to score. {_DATA_HELP}",
)
@_column_options
@click.option(
    "--report",
    "report",
    type=click.Path(path_type=Path),
    default=None,
    help="Also write a report folder: metrics.json, per_label.csv, confusion.png, "
    "confused_pairs.png, reliability.png.",
)
@click.option(
    "--batch-size", type=int, default=64, show_default=True, help="Texts per inference batch."
)
def eval_command(
    task: str,
    model: Path,
    data: Path,
    text_column: str,
    label_column: str,
    oos_label: str,
    report: Path | None,
    batch_size: int,
) -> None:
    """Score a saved TASK classifier on labelled data.

    Prints ONE JSON line on stdout: n, accuracy, macro_f1, ece and, when the data has
    --oos-label rows, n_oos, in_scope_accuracy and oos_recall. An out-of-scope row
    counts right when the model rejects it.
    """
    _setup_logging()
    rows = _load(data, text_column, label_column)

    from intents import ModelLoadError, TextClassifier

    from .evaluation import evaluate, predict_examples, write_report

    try:
        classifier = TextClassifier.load(model)
    except ModelLoadError as err:
        raise click.ClickException(str(err)) from err
    if classifier.task != task:
        raise click.ClickException(f"{model} holds a {classifier.task} model, not {task}")
    preds = predict_examples(classifier, rows, batch_size=batch_size)
    metrics = evaluate(classifier, rows, oos_label, preds)
    if report is not None:
        write_report(classifier, rows, report, oos_label, preds)
    click.echo(json.dumps({**metrics, "model_version": classifier.version}))
