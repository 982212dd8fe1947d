"""The intent catalogue and company facts: the shop's own configuration files."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


class ConfigFileError(ValueError):
    """A configuration file is missing or malformed (the message names it)."""


@dataclass(frozen=True)
class IntentInfo:
    name: str
    title: str
    required_slots: tuple[str, ...] = ()
    handoff: bool = False


@dataclass(frozen=True)
class Catalog:
    intents: dict[str, IntentInfo]

    def info(self, intent: str) -> IntentInfo:
        return self.intents.get(intent) or IntentInfo(intent, intent.replace("_", " ").capitalize())

    def by_title(self, text: str) -> str | None:
        """The intent whose quick-reply title is exactly `text` (case-insensitive)."""
        wanted = text.strip().lower()
        for info in self.intents.values():
            if info.title.lower() == wanted:
                return info.name
        return None

    @property
    def titles(self) -> dict[str, str]:
        return {k: v.title for k, v in self.intents.items()}


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise ConfigFileError(f"{path}: file not found") from e
    except json.JSONDecodeError as e:
        raise ConfigFileError(f"{path}:{e.lineno}: invalid JSON: {e.msg}") from e


def load_catalog(path: Path) -> Catalog:
    raw = _read_json(path)
    if not isinstance(raw, dict):
        raise ConfigFileError(f"{path}: expected an object of intent name -> settings")
    intents = {}
    for name, spec in raw.items():
        if not isinstance(spec, dict):
            raise ConfigFileError(f"{path}: intent {name!r}: expected an object")
        intents[name] = IntentInfo(
            name=name,
            title=str(spec.get("title") or name.replace("_", " ").capitalize()),
            required_slots=tuple(spec.get("required_slots") or ()),
            handoff=bool(spec.get("handoff", False)),
        )
    return Catalog(intents)


def load_facts(path: Path) -> dict[str, str]:
    raw = _read_json(path)
    if not isinstance(raw, dict):
        raise ConfigFileError(f"{path}: expected an object of fact name -> value")
    return {str(k): str(v) for k, v in raw.items()}
