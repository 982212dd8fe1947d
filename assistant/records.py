"""Reading rows from CSV and JSON-lines files, with errors that name the file and line."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any


class DataFileError(ValueError):
    """A data file cannot be read; the message is ``path:line: what is wrong``."""


def iter_records(
    path: Path, required: tuple[str, ...] = ()
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, row)`` for each row of a ``.csv`` or ``.jsonl`` file."""
    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"{path}:0: file not found")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            missing = [c for c in required if c not in (reader.fieldnames or [])]
            if missing:
                raise DataFileError(
                    f"{path}:1: missing column(s) {', '.join(missing)}; "
                    f"the header has {', '.join(reader.fieldnames or [])}"
                )
            for row in reader:
                yield reader.line_num, row
    elif suffix in (".jsonl", ".json", ".ndjson"):
        with path.open(encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as e:
                    raise DataFileError(f"{path}:{n}: invalid JSON: {e.msg}") from e
                if not isinstance(row, dict):
                    raise DataFileError(f"{path}:{n}: expected a JSON object")
                missing = [c for c in required if c not in row]
                if missing:
                    raise DataFileError(f"{path}:{n}: missing field(s) {', '.join(missing)}")
                yield n, row
    else:
        raise DataFileError(f"{path}:0: unknown file type {suffix!r}; use .csv or .jsonl")
