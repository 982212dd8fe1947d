"""Errors raised by the intents package."""

from __future__ import annotations

from pathlib import Path


class ModelLoadError(Exception):
    """A saved classifier folder is missing, incomplete, corrupted or inconsistent."""

    def __init__(self, folder: str | Path, problem: str):
        self.folder = Path(folder)
        self.problem = problem
        super().__init__(f"cannot load classifier from {self.folder}: {problem}")
