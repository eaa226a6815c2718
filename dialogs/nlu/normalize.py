"""Text normalization shared by training and prediction."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

MAX_CHARS = 500

# Emojis that carry an intent on WhatsApp; every other emoji is dropped.
EMOJI_WORDS = {
    "👍": " si ",
    "👌": " ok ",
    "✅": " si ",
    "🙏": " gracias ",
    "👋": " hola ",
    "❌": " no ",
    "👎": " no ",
    "🤝": " gracias ",
}
_REPEATS = re.compile(r"([a-z])\1{2,}")
_TRAILING_REPEATS = re.compile(r"([aiou])\1+\b")
# WhatsApp shorthand to one spelling, so "q onda", "k onda" and "que onda" look alike.
SHORTHAND = {
    "q": "que", "k": "que", "ke": "que", "qe": "que", "xq": "porque", "pq": "porque",
    "porq": "porque", "x": "por", "pa": "para", "pal": "para el", "tmb": "tambien",
    "tb": "tambien", "tmbn": "tambien", "d": "de", "porfis": "porfa", "plis": "porfa",
    "pls": "please", "plz": "please", "grax": "gracias", "grcs": "gracias",
    "grasias": "gracias", "thx": "thanks", "ty": "thanks", "okey": "ok", "oki": "ok",
    "okay": "ok", "okis": "ok", "bn": "bien", "mnn": "manana", "sta": "esta", "toy": "estoy",
    "wey": "guey", "we": "guey", "u": "you", "ur": "your", "r": "are", "msj": "mensaje",
    "msjs": "mensajes", "info": "informacion", "xfa": "porfa", "xfavor": "porfavor",
    "hr": "hora", "hrs": "horas", "tqm": "gracias", "ntp": "no te preocupes",
}  # fmt: skip
# Laughter comes in endless shapes ("jajaja", "jsjsjs", "ajsjajs", "hahaha", "jeje"):
# one token, so a new spelling reads like the ones in the data.
_LAUGH = re.compile(r"(?:[ajsh]*j[ajsh]*j[ajsh]*|(?:ha){2,}h?|(?:j[eiou]){2,}j?)")
_NON_TEXT = re.compile(r"[^a-z0-9ñ$@#\-\s]")
_SPACES = re.compile(r"\s+")


@lru_cache(maxsize=256)  # the entity extractors fold the same message several times
def fold_with_positions(text: str) -> tuple[str, tuple[int, ...]]:
    """Lowercase, accent-folded text plus, for each folded character, its index in `text`
    (folding can change the length: decomposed accents, ligatures, "…")."""
    if text.isascii():  # the common case: folding is just lowercasing, one to one
        return text.lower(), tuple(range(len(text)))
    folded: list[str] = []
    positions: list[int] = []
    for i, char in enumerate(text):
        for part in char.lower() if char.isascii() else strip_accents(char.lower()):
            folded.append(part)
            positions.append(i)
    return "".join(folded), tuple(positions)


def strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def normalize(text: str) -> str:
    """Lowercase, fold accents, squeeze repeated letters and spaces, map intent emojis."""
    text = text[: MAX_CHARS * 2]
    for emoji, word in EMOJI_WORDS.items():
        text = text.replace(emoji, word)
    text = strip_accents(text.lower().replace("ñ", "\0")).replace("\0", "ñ")
    text = _REPEATS.sub(r"\1", text)
    text = _NON_TEXT.sub(" ", text)
    words = [
        "jaja" if 4 <= len(w) <= 40 and _LAUGH.fullmatch(w) else SHORTHAND.get(w, w)
        for w in _TRAILING_REPEATS.sub(r"\1", text).split()
    ]
    return " ".join(words)[:MAX_CHARS]
