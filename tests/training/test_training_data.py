"""load_examples (CSV, JSON lines, bad files naming file and line) and stratified_split."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from training import DataFileError, Example, load_examples, stratified_split


def test_csv(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text(
        'text,label,extra\nwhere is my order,track,x\n"refund, please",refund,y\n'
        '"two\nlines",track,z\n',
        encoding="utf-8",
    )
    assert load_examples(path) == [
        Example("where is my order", "track"),
        Example("refund, please", "refund"),
        Example("two\nlines", "track"),
    ]


def test_jsonl_and_json_with_custom_columns(tmp_path: Path) -> None:
    rows = [{"instruction": "hi there", "intent": "greet"}, {"instruction": "bye", "intent": 3}]
    body = "\n".join(json.dumps(r) for r in rows) + "\n\n"
    for name in ("d.jsonl", "d.json"):
        (tmp_path / name).write_text(body, encoding="utf-8")
        got = load_examples(tmp_path / name, text_column="instruction", label_column="intent")
        assert got == [Example("hi there", "greet"), Example("bye", "3")]


def test_csv_with_bom(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_bytes("\ufefftext,label\nhello,greet\n".encode())
    assert load_examples(tmp_path / "d.csv") == [Example("hello", "greet")]


BAD_FILES = [
    ("d.csv", "label,other\nx,y\n", 1, "missing column 'text'"),
    ("d.csv", "text,label\nhello,greet\n ,greet\n", 3, "empty text in 'text'"),
    ("d.csv", "text,label\nhello,\n", 2, "empty label in 'label'"),
    ("d.csv", "", 1, "empty file"),
    ("d.csv", "text,label\n", 0, "no examples"),
    ("d.jsonl", '{"text": "a", "label": "b"}\n{"text": "a", "label"\n', 2, "invalid JSON"),
    ("d.jsonl", '{"text": "a", "label": "b"}\n\n{"label": "b"}\n', 3, "missing text field"),
    ("d.json", '[{"text": "a", "label": "b"}]\n', 1, "one JSON object per line"),
    ("d.jsonl", '{"text": ["a"], "label": "b"}\n', 1, "must be a string"),
    ("d.txt", "hello\n", 0, "unknown file type '.txt'"),
]


@pytest.mark.parametrize(("name", "body", "line", "reason"), BAD_FILES)
def test_bad_file_names_file_and_line(
    tmp_path: Path, name: str, body: str, line: int, reason: str
) -> None:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    with pytest.raises(DataFileError) as info:
        load_examples(path)
    assert str(info.value).startswith(f"{path}:{line}: ")
    assert reason in str(info.value)
    assert info.value.line == line


def test_missing_and_non_utf8_files(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match=r"nope\.csv:0: no such file"):
        load_examples(tmp_path / "nope.csv")
    (tmp_path / "latin.csv").write_bytes(b"text,label\ncaf\xe9,x\n")
    with pytest.raises(DataFileError, match=r"latin\.csv:0: not UTF-8"):
        load_examples(tmp_path / "latin.csv")


def test_stratified_split_keeps_label_shares_and_is_seeded() -> None:
    examples = (
        [Example(f"t{i}", "a") for i in range(50)]
        + [Example(f"u{i}", "b") for i in range(20)]
        + [Example("lonely", "c")]
    )
    train, val, test = stratified_split(examples, (0.8, 0.1, 0.1), seed=13)
    assert Counter(e.label for e in val) == {"a": 5, "b": 2}
    assert Counter(e.label for e in test) == {"a": 5, "b": 2}
    assert Counter(e.label for e in train) == {"a": 40, "b": 16, "c": 1}
    assert sorted(train + val + test, key=str) == sorted(examples, key=str)
    assert stratified_split(examples, (0.8, 0.1, 0.1), seed=13) == (train, val, test)
    assert stratified_split(examples, (0.8, 0.1, 0.1), seed=14) != (train, val, test)
    with pytest.raises(ValueError):
        stratified_split(examples, (0.8, 0.3))
