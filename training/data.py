"""Labelled examples from CSV / JSON-lines files, and stratified splits."""

from __future__ import annotations

import csv
import json
import random
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SUPPORTED_SUFFIXES = (".csv", ".jsonl", ".json")


@dataclass(frozen=True)
class Example:
    text: str
    label: str


class DataFileError(ValueError):
    """A data file cannot be used. The message is `"{path}:{line}: {what is wrong}"`.

    `line` is 1-based (the CSV header is line 1); 0 means the file as a whole.
    """

    def __init__(self, path: str | Path, line: int, reason: str):
        self.path = Path(path)
        self.line = line
        self.reason = reason
        super().__init__(f"{path}:{line}: {reason}")


def load_examples(
    path: str | Path, text_column: str = "text", label_column: str = "label"
) -> list[Example]:
    """Read (text, label) examples from a `.csv` file (with a header row) or a JSON-lines
    file (`.jsonl`, or `.json` holding one JSON object per line).

    Raises `DataFileError` naming the file and line for: a missing file, an unknown
    extension, text that is not UTF-8, a missing column, invalid JSON, an empty text or
    label, or a file without any example. Labels are read as strings (`1` -> `"1"`).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise DataFileError(
            path, 0, f"unknown file type {suffix or '(none)'!r}: expected .csv, .jsonl or .json"
        )
    if not path.is_file():
        raise DataFileError(path, 0, "no such file")
    rows = _csv_rows if suffix == ".csv" else _jsonl_rows
    examples = []
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            for line, record in rows(path, fh, (text_column, label_column)):
                text = _field(path, line, record, text_column, "text")
                label = _field(path, line, record, label_column, "label")
                examples.append(Example(text=text, label=label))
    except UnicodeDecodeError as err:
        raise DataFileError(path, 0, f"not UTF-8 text ({err.reason} at byte {err.start})") from err
    if not examples:
        raise DataFileError(path, 0, "no examples in the file")
    return examples


def _csv_rows(
    path: Path, fh: Any, columns: tuple[str, str]
) -> Iterator[tuple[int, dict[str, Any]]]:
    reader = csv.DictReader(fh)
    header = reader.fieldnames or []
    if not header:
        raise DataFileError(path, 1, "empty file: expected a header row")
    for column in columns:
        if column not in header:
            raise DataFileError(
                path, 1, f"missing column {column!r} (columns: {', '.join(header)})"
            )
    try:
        for record in reader:
            # line_num is where the record ends; a quoted cell may span lines.
            yield reader.line_num, record
    except csv.Error as err:
        raise DataFileError(path, reader.line_num, f"bad CSV: {err}") from err


def _jsonl_rows(
    path: Path, fh: Any, columns: tuple[str, str]
) -> Iterator[tuple[int, dict[str, Any]]]:
    for line, raw in enumerate(fh, start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except json.JSONDecodeError as err:
            raise DataFileError(
                path, line, f"invalid JSON: {err.msg} (column {err.colno})"
            ) from err
        if not isinstance(record, dict):
            raise DataFileError(
                path, line, f"expected one JSON object per line, got {type(record).__name__}"
            )
        yield line, record


def _field(path: Path, line: int, record: dict[str, Any], column: str, role: str) -> str:
    if column not in record:
        raise DataFileError(path, line, f"missing {role} field {column!r}")
    value = record[column]
    if value is None or isinstance(value, dict | list):
        raise DataFileError(path, line, f"{role} field {column!r} must be a string")
    text = str(value).strip()
    if not text:
        raise DataFileError(path, line, f"empty {role} in {column!r}")
    return text


def stratified_split(
    examples: Sequence[Example], fractions: Sequence[float], seed: int = 0
) -> tuple[list[Example], ...]:
    """Split into `len(fractions)` parts keeping each label's share in every part.

    `fractions` must be positive and sum to 1, e.g. (0.8, 0.1, 0.1). Per label, parts 2..n
    get `round(n_label * fraction)` rows and the first part the rest (always at least one
    row: a label seen once lands in the first part). Each part is shuffled; the same seed
    gives the same split.
    """
    if not fractions or any(f <= 0 for f in fractions) or abs(sum(fractions) - 1.0) > 1e-6:
        raise ValueError(f"fractions must be positive and sum to 1, got {list(fractions)}")
    rng = random.Random(seed)
    by_label: dict[str, list[Example]] = defaultdict(list)
    for ex in examples:
        by_label[ex.label].append(ex)
    parts: list[list[Example]] = [[] for _ in fractions]
    for label in sorted(by_label):
        group = by_label[label][:]
        rng.shuffle(group)
        counts = [round(len(group) * f) for f in fractions[1:]]
        i = len(counts) - 1
        while sum(counts) > len(group) - 1 and i >= 0:
            if counts[i] > 0:
                counts[i] -= 1
            else:
                i -= 1
        start = len(group) - sum(counts)
        parts[0].extend(group[:start])
        for part, count in zip(parts[1:], counts, strict=True):
            part.extend(group[start : start + count])
            start += count
    for part in parts:
        rng.shuffle(part)
    return tuple(parts)
