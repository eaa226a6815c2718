"""Match what a member typed against the gym's own catalog (locations, classes, plans),
tolerant of typos, missing accents and generic words: "spining" → "Spinning",
"sucursal polanko" → "Polanco", "el premium" → "Plan Premium"."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz

from dialogs.nlu.normalize import fold_with_positions, strip_accents

# Words that say what kind of thing a name is, not which one ("Sucursal Centro").
_GENERIC = frozenset(
    "sucursal gym gimnasio gogym clase clases plan planes membresia de del la el the class "
    "location branch".split()
)
_WORD = re.compile(r"[a-z0-9ñ]+")
# Below this many characters a name must match exactly ("box" is not "bot").
_FUZZY_MIN_CHARS = 5
_MIN_SCORE = 84.0


@dataclass(frozen=True)
class CatalogMatch:
    name: str  # the catalog's own spelling
    start: int  # span in the original text
    end: int
    score: float  # 0–100


@lru_cache(maxsize=4096)  # catalog names repeat on every message
def _key(text: str) -> tuple[str, ...]:
    folded = strip_accents(text.lower())
    words = _WORD.findall(folded)
    return tuple(w for w in words if w not in _GENERIC) or tuple(words)


def match_catalog(text: str, names: Sequence[str]) -> CatalogMatch | None:
    """The catalog name the text mentions best, with its span; None under the bar."""
    matches = find_catalog(text, names)
    return max(matches, key=lambda m: (m.score, m.end - m.start), default=None)


def find_catalog(text: str, names: Sequence[str]) -> list[CatalogMatch]:
    """Every catalog name mentioned in the text (best match per name), in text order."""
    window = text[:1000]
    folded, positions = fold_with_positions(window)
    words = [(m.group(0), m.start(), m.end()) for m in _WORD.finditer(folded)]
    found: list[CatalogMatch] = []
    for name in names:
        key = _key(name)
        if not key:
            continue
        target = " ".join(key)
        best: CatalogMatch | None = None
        size = len(key)
        for n in {size, size + 1} if size > 1 else {1}:
            for i in range(len(words) - n + 1):
                gram = words[i : i + n]
                candidate = " ".join(w for w, _, _ in gram)
                if len(target) < _FUZZY_MIN_CHARS or len(candidate) < _FUZZY_MIN_CHARS:
                    score = 100.0 if candidate == target else 0.0
                else:
                    score = float(fuzz.ratio(candidate, target))
                if score >= _MIN_SCORE and (best is None or score > best.score):
                    start, end = positions[gram[0][1]], positions[gram[-1][2] - 1] + 1
                    best = CatalogMatch(name, start, end, score)
        if best is not None:
            found.append(best)
    return _without_overlaps(found)


def _without_overlaps(matches: list[CatalogMatch]) -> list[CatalogMatch]:
    kept: list[CatalogMatch] = []
    for m in sorted(matches, key=lambda m: (-m.score, -(m.end - m.start))):
        if all(m.end <= k.start or k.end <= m.start for k in kept):
            kept.append(m)
    return sorted(kept, key=lambda m: m.start)
