"""Rule-based entity extraction: the check-in text, Rasa `regex` entries and synonyms,
amounts, date/time expressions, and catalog names (locations, classes, plans).

Spans are always on the original text. Catalog names come from the data's `lookup`
tables unless the caller passes the gym's own catalog.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import datetime

from dialogs.nlu.catalog import find_catalog
from dialogs.nlu.data import EntitySpan, TrainingData
from dialogs.nlu.dates import When, resolve_when
from dialogs.nlu.normalize import fold_with_positions, strip_accents

# The text behind a front desk's QR: "CHECKIN CENTRO 123456".
CHECKIN_TEXT = re.compile(r"\bcheck[\s-]?in\s+(?P<location>[a-z0-9-]+)\s+(?P<code>\d{6})\b", re.I)


# "$500", "$1,250.50", "500 pesos", "350 mxn", "200 varos". Value: pesos, two decimals.
AMOUNT = re.compile(
    r"(?:\$\s?(?P<a>\d{1,3}(?:,\d{3})+|\d+)(?P<ac>\.\d{1,2})?)"
    r"|(?:\b(?P<b>\d{1,3}(?:,\d{3})+|\d+)(?P<bc>\.\d{1,2})?\s?(?:pesos|mxn|varos|baros)\b)",
    re.I,
)
CATALOG_ENTITIES = ("location", "class_name", "plan")
# Catalog names are looked for at the start of a message only: fuzzy matching costs per
# word, and a member names the class or the location early, not in line forty.
CATALOG_WINDOW_CHARS = 300


CHECKIN_ENTITIES = frozenset({"checkin_location", "checkin_code"})


def checkin_spans(text: str) -> list[EntitySpan]:
    """The front desk's check-in text, the first thing extracted (no other entity can
    overlap it away): the location's slug and the code."""
    m = CHECKIN_TEXT.search(text)
    if not m:
        return []
    return [
        EntitySpan("checkin_location", m["location"].lower(), *m.span("location")),
        EntitySpan("checkin_code", m["code"], *m.span("code")),
    ]


def when_value(when: When) -> str:
    """ISO 8601: a date, or a local date and time when one was said."""
    if when.time is None:
        return when.date.isoformat()
    return f"{when.date.isoformat()}T{when.time.strftime('%H:%M')}"


class EntityExtractor:
    def __init__(self, data: TrainingData) -> None:
        self._regexes = [
            (name, re.compile(pattern, re.I))
            for name, patterns in data.regexes.items()
            for pattern in patterns
        ]
        # Longest surface first so "tarjeta de debito" wins over "tarjeta".
        self._synonyms = [
            (re.compile(rf"\b{re.escape(strip_accents(surface))}\b"), value)
            for surface, value in sorted(data.synonyms.items(), key=lambda kv: -len(kv[0]))
        ]
        self._synonym_entity = "payment_method"
        self._lookups = {name: tuple(data.lookups.get(name, ())) for name in CATALOG_ENTITIES}

    def extract(
        self,
        text: str,
        now: datetime | None = None,
        catalog: Mapping[str, Sequence[str]] | None = None,
    ) -> list[EntitySpan]:
        """Entities in `text`; date/time needs `now` (aware, in the gym's zone); `catalog`
        maps location/class_name/plan to the gym's own names."""
        found = checkin_spans(text)
        for name, pattern in self._regexes:
            for rm in pattern.finditer(text):
                if not any(s.start <= rm.start() < s.end for s in found):
                    found.append(EntitySpan(name, rm.group(0), rm.start(), rm.end()))
        folded, positions = fold_with_positions(text)
        for surface, value in self._synonyms:
            for sm in surface.finditer(folded):
                start, end = positions[sm.start()], positions[sm.end() - 1] + 1
                while end < len(text) and unicodedata.combining(text[end]):
                    end += 1  # keep a trailing decomposed accent inside the span
                if not any(s.start < end and start < s.end for s in found):
                    found.append(EntitySpan(self._synonym_entity, value, start, end))
        for am in AMOUNT.finditer(text):
            whole = (am["a"] or am["b"]).replace(",", "")
            cents = (am["ac"] or am["bc"] or ".00")[1:].ljust(2, "0")
            if not _overlaps(found, am.start(), am.end()):
                found.append(EntitySpan("amount", f"{int(whole)}.{cents}", *am.span()))
        if now is not None:
            when = resolve_when(text, now)
            if when is not None and not _overlaps(found, when.start, when.end):
                found.append(EntitySpan("time", when_value(when), when.start, when.end))
        names = catalog if catalog is not None else self._lookups
        for entity in CATALOG_ENTITIES:
            for match in find_catalog(text[:CATALOG_WINDOW_CHARS], names.get(entity, ())):
                if not _overlaps(found, match.start, match.end):
                    found.append(EntitySpan(entity, match.name, match.start, match.end))
        return sorted(found, key=lambda s: s.start)


def _overlaps(found: list[EntitySpan], start: int, end: int) -> bool:
    return any(s.start < end and start < s.end for s in found)
