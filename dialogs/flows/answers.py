"""Reading short answers inside self-service flows: yes/no, a number from a list, and the
one retry before a flow lets go (never a maze)."""

from __future__ import annotations

import re

from dialogs.nlu.normalize import strip_accents
from dialogs.turn import END, Turn

_YES = frozenset(
    {
        "si", "yes", "va", "sale", "ok", "okay", "dale", "claro", "confirmo", "simon", "sip",
        "correcto", "de acuerdo", "si por favor", "si porfa", "si gracias", "acepto", "sure",
        "yep", "yeah", "si va", "va que va", "esta bien", "perfecto", "hazlo", "confirm",
    }
)  # fmt: skip
_NO = frozenset(
    {
        "no", "nel", "nop", "nope", "mejor no", "no gracias", "no, gracias", "nah", "negativo",
        "para nada", "no quiero", "no thanks", "cancel that", "olvidalo", "dejalo asi",
        "incorrecto",
    }
)  # fmt: skip
_NUMBER = re.compile(r"^\s*(?:la\s+|el\s+|opcion\s+|option\s+|#)?(\d{1,2})\s*[.)]?\s*$")


def fold(text: str) -> str:
    return strip_accents(text.lower()).strip()


# "va, gracias" answers a question with "va"; "gracias" alone answers nothing.
_THANKS_AFTER = re.compile(r"[\s,.!]+(?:muchas |mil )?(?:gracias|thanks|thank you)$")


def _bare(turn: Turn) -> str:
    text = re.sub(r"\s+", " ", fold(turn.message.text).strip(" .!¡?¿👍🙂"))
    return _THANKS_AFTER.sub("", text)


def is_yes(turn: Turn) -> bool:
    return turn.intent == "affirm" or _bare(turn) in _YES


def is_no(turn: Turn) -> bool:
    return turn.intent == "deny" or _bare(turn) in _NO


def number(turn: Turn, size: int) -> int | None:
    """The 1-based option number the member sent, if it is one of `size`."""
    found = _NUMBER.match(fold(turn.message.text))
    if not found:
        return None
    value = int(found.group(1))
    return value if 1 <= value <= size else None


def words(turn: Turn) -> int:
    return len(re.findall(r"\w+", turn.message.text))


async def retry(turn: Turn, key: str, **values: object) -> str:
    """Ask once more and stay; the second miss ends the flow, changing nothing."""
    tries = int(turn.slots.get("tries", 0)) + 1
    if tries > 1:
        turn.slots.pop("tries", None)
        turn.say("ss_give_up")
        return END
    turn.slots["tries"] = tries
    turn.say(key, **values)
    return turn.conversation.state or END
