"""Message catalogs: every member-facing text by key, in es (default) and en.

`es.yml`/`en.yml` hold the common texts; a feature may keep its own `<feature>.es.yml` and
`<feature>.en.yml` next to them. A key defined twice is an error, not a silent override.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

LANGUAGES = ("es", "en")
_DIR = Path(__file__).parent


@cache
def _catalog(lang: str) -> dict[str, str]:
    merged: dict[str, str] = {}
    for path in [_DIR / f"{lang}.yml", *sorted(_DIR.glob(f"*.{lang}.yml"))]:
        texts = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        twice = merged.keys() & texts.keys()
        if twice:
            raise ValueError(f"{path.name} redefines {sorted(twice)}")
        merged.update(texts)
    return merged


def t(lang: str, key: str, **values: Any) -> str:
    """The text for `key` in `lang` (falling back to Spanish), filled with `values`."""
    catalog = _catalog(lang if lang in LANGUAGES else "es")
    template = catalog.get(key) or _catalog("es")[key]
    return template.format(**values)
