"""Rule-based entity extraction: the check-in text, Rasa `regex` entries and synonyms."""

from __future__ import annotations

import re
import unicodedata

from dialogs.nlu.data import EntitySpan, TrainingData
from dialogs.nlu.normalize import fold_with_positions, strip_accents

# The text behind a front desk's QR: "CHECKIN CENTRO 123456".
CHECKIN_TEXT = re.compile(r"\bcheck[\s-]?in\s+(?P<location>[a-z0-9-]+)\s+(?P<code>\d{6})\b", re.I)


class EntityExtractor:
    def __init__(self, data: TrainingData) -> None:
        self._regexes = [
            (name, re.compile(pattern, re.I))
            for name, patterns in data.regexes.items()
            for pattern in patterns
        ]
        # Longest surface first so "tarjeta de debito" wins over "tarjeta".
        self._synonyms = sorted(data.synonyms.items(), key=lambda kv: -len(kv[0]))
        self._synonym_entity = "payment_method"

    def extract(self, text: str) -> list[EntitySpan]:
        found: list[EntitySpan] = []
        m = CHECKIN_TEXT.search(text)
        if m:
            found.append(EntitySpan("checkin_location", m["location"].lower(), *m.span("location")))
            found.append(EntitySpan("checkin_code", m["code"], *m.span("code")))
        for name, pattern in self._regexes:
            for rm in pattern.finditer(text):
                if not any(s.start <= rm.start() < s.end for s in found):
                    found.append(EntitySpan(name, rm.group(0), rm.start(), rm.end()))
        folded, positions = fold_with_positions(text)
        for surface, value in self._synonyms:
            for sm in re.finditer(rf"\b{re.escape(strip_accents(surface))}\b", folded):
                start, end = positions[sm.start()], positions[sm.end() - 1] + 1
                while end < len(text) and unicodedata.combining(text[end]):
                    end += 1  # keep a trailing decomposed accent inside the span
                if not any(s.start < end and start < s.end for s in found):
                    found.append(EntitySpan(self._synonym_entity, value, start, end))
        return sorted(found, key=lambda s: s.start)
