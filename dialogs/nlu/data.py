"""Reads training data in Rasa 3.x NLU YAML (`version: "3.1"`, `nlu:` items)."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

# [text](entity) or [text]{"entity": "...", "value": "..."}
_ANNOTATION = re.compile(r"\[(?P<text>[^\]]+)\](?:\((?P<name>[^)]+)\)|(?P<json>\{[^}]+\}))")


# Examples are Mexican Spanish unless their block says `metadata: {language: en}`.
DEFAULT_LANGUAGE = "es"


@dataclass(frozen=True)
class EntitySpan:
    entity: str
    value: str
    start: int
    end: int


@dataclass(frozen=True)
class Example:
    text: str
    intent: str
    entities: tuple[EntitySpan, ...] = ()
    language: str = DEFAULT_LANGUAGE


@dataclass
class TrainingData:
    examples: list[Example] = field(default_factory=list)
    regexes: dict[str, list[str]] = field(default_factory=dict)
    lookups: dict[str, list[str]] = field(default_factory=dict)
    synonyms: dict[str, str] = field(default_factory=dict)  # surface form → value
    fingerprint: str = ""


def parse_example(raw: str, intent: str, language: str = DEFAULT_LANGUAGE) -> Example:
    """Strip `[text](entity)` annotations, keeping their spans in the plain text."""
    out, spans, pos = [], [], 0
    for m in _ANNOTATION.finditer(raw):
        out.append(raw[pos : m.start()])
        start = sum(len(p) for p in out)
        surface = m.group("text")
        if m.group("json"):
            meta: dict[str, Any] = json.loads(m.group("json"))
            name, value = str(meta["entity"]), str(meta.get("value", surface))
        else:
            name, value = str(m.group("name")), surface
        out.append(surface)
        spans.append(EntitySpan(name, value, start, start + len(surface)))
        pos = m.end()
    out.append(raw[pos:])
    return Example("".join(out).strip(), intent, tuple(spans), language)


def _items(block: str) -> list[str]:
    return [line[2:].strip() for line in block.splitlines() if line.strip().startswith("- ")]


def load_training_data(directory: Path) -> TrainingData:
    files = sorted(directory.glob("*.yml")) + sorted(directory.glob("*.yaml"))
    if not files:
        raise FileNotFoundError(f"no NLU training files in {directory}")
    data = TrainingData()
    digest = hashlib.sha256()
    for path in files:
        raw = path.read_bytes()
        digest.update(path.name.encode() + b"\0" + raw)
        doc = yaml.safe_load(raw) or {}
        for item in doc.get("nlu", []):
            block = item.get("examples", "")
            if "intent" in item:
                language = str((item.get("metadata") or {}).get("language", DEFAULT_LANGUAGE))
                data.examples += [parse_example(t, item["intent"], language) for t in _items(block)]
            elif "regex" in item:
                data.regexes.setdefault(item["regex"], []).extend(_items(block))
            elif "lookup" in item:
                data.lookups.setdefault(item["lookup"], []).extend(_items(block))
            elif "synonym" in item:
                for surface in _items(block):
                    data.synonyms[surface.lower()] = str(item["synonym"])
    data.fingerprint = digest.hexdigest()
    return data
