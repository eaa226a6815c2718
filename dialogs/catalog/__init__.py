"""Message catalogs: every member-facing text by key, in es (default) and en."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

LANGUAGES = ("es", "en")
_DIR = Path(__file__).parent


@cache
def _catalog(lang: str) -> dict[str, str]:
    return dict(yaml.safe_load((_DIR / f"{lang}.yml").read_text(encoding="utf-8")))


def t(lang: str, key: str, **values: Any) -> str:
    """The text for `key` in `lang` (falling back to Spanish), filled with `values`."""
    catalog = _catalog(lang if lang in LANGUAGES else "es")
    template = catalog.get(key) or _catalog("es")[key]
    return template.format(**values)
