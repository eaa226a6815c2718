"""A number the gym doesn't know: welcome, ask the name, show plans, offer a trial day."""

from __future__ import annotations

import re

from backend.billing.service import has_any_subscription
from backend.members.service import audit
from dialogs.flows.common import plan_lines
from dialogs.flows.referrals import welcome_with_referral
from dialogs.flows.trial import offer_trial
from dialogs.turn import END, PASS, Flow, Turn

_NAME_PREFIX = re.compile(
    r"^\s*(hola[,!.\s]*)?(me llamo|mi nombre es|soy|my name is|i am|i'm|im|it's|its)\s+", re.I
)
_NAME_WORD = re.compile(r"^[A-Za-zÀ-ÿñÑ][A-Za-zÀ-ÿñÑ'.-]{0,24}$")
# Replies that are not names even when they look like one word.
_NOT_NAMES = frozenset({"hola", "si", "sí", "no", "ok", "va", "gracias", "ayuda", "help", "hi"})
MAX_TRIES = 2
# What a new number may say before giving a name without asking for anything: these get
# the welcome and the name question. A question or request (prices, hours, a person) is
# answered right away instead; the name can wait for the next hello.
WELCOME_INTENTS = frozenset(
    {"greet", "out_of_scope", "affirm", "deny", "thanks", "goodbye", "referral_redeem"}
)


# Intents under which a bare word is still a name ("Sofía" reads as nothing else).
_NAME_INTENTS = frozenset({"out_of_scope"})


def extract_name(text: str, intent: str = "out_of_scope") -> str | None:
    """'me llamo ana lópez' → 'Ana López'; None when the text doesn't read as a name.
    Without "me llamo"/"soy", only text the NLU can't place is taken as a name, so
    "buenas tardes" or "ya llegué" never become one."""
    explicit = _NAME_PREFIX.match(text.strip())
    if not explicit and intent not in _NAME_INTENTS:
        return None
    cleaned = _NAME_PREFIX.sub("", text.strip()).strip(" .!¡,")
    words = cleaned.split()
    if not 1 <= len(words) <= 4 or not all(_NAME_WORD.match(w) for w in words):
        return None
    if words[0].lower() in _NOT_NAMES:
        return None
    return " ".join(w[:1].upper() + w[1:].lower() for w in words)


async def start(turn: Turn) -> str:
    # The wa.me text a member shared carries their code: redeem it in the welcome.
    if not await welcome_with_referral(turn):
        turn.say("welcome_prospect", gym=turn.gym.name)
    return "ask_name"


async def ask_name(turn: Turn) -> str:
    name = extract_name(turn.message.text, turn.intent)
    if name is None and turn.intent not in WELCOME_INTENTS:
        return PASS
    if name is None:
        tries = turn.slots.get("tries", 0) + 1
        if tries > MAX_TRIES:
            return PASS
        turn.slots["tries"] = tries
        turn.say("ask_name_again")
        return "ask_name"
    turn.member.name = name
    await audit(
        turn.session,
        turn.gym.id,
        f"member:{turn.member.id}",
        "member.name_given",
        "member",
        turn.member.id,
    )
    turn.say("plans_offer", name=name.split(" ")[0], plans=await plan_lines(turn))
    turn.slots.pop("tries", None)
    return "offer_trial"


async def returning_prospect(turn: Turn) -> str:
    """A named prospect says hi again: greet and, if they never had a pass, offer one."""
    turn.say("greet_prospect", name=(turn.member.name or "").split(" ")[0])
    if await has_any_subscription(turn.session, turn.member.id):
        turn.say("help")
        return END
    turn.say("offer_trial")
    return "offer_trial"


ONBOARDING = Flow("onboarding", start, {"ask_name": ask_name, "offer_trial": offer_trial})
PROSPECT_GREET = Flow("prospect_greet", returning_prospect, {"offer_trial": offer_trial})
