"""Small talk, help, info answers, and the fallback that asks instead of guessing."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from backend.billing.models import Plan
from backend.billing.service import covered_location_ids
from backend.gyms.service import public_plans
from dialogs import format as fmt
from dialogs.turn import END, Flow, Turn

# Intents whose capability arrives in a later release: answered honestly, never guessed.
NOT_YET_INTENTS = frozenset({"body_scan"})
CLARIFY_MIN = 0.15


async def greet(turn: Turn) -> str:
    name = (turn.member.name or "").split(" ")[0]
    turn.say("greet_member", name=name) if name else turn.say("help")
    return END


def reply_flow(name: str, key: str) -> Flow:
    """A flow that answers with one catalog message and ends."""

    async def reply(turn: Turn) -> str:
        turn.say(key)
        return END

    return Flow(name, reply)


async def not_yet(turn: Turn) -> str:
    phone = f" ({turn.gym.phone})" if turn.gym.phone else ""
    turn.say("not_yet", phone=phone)
    return END


async def fallback(turn: Turn) -> str:
    """Below the confidence threshold: offer the two likeliest intents we can act on."""
    options = [
        intent
        for intent, score in turn.nlu.candidates
        if score >= CLARIFY_MIN and intent not in NOT_YET_INTENTS and intent != "out_of_scope"
    ]
    if len(options) >= 2:
        first, second = (_intent_label(turn, i) for i in options[:2])
        turn.say("clarify", first=first, second=second)
    else:
        turn.say("fallback")
    return END


def _intent_label(turn: Turn, intent: str) -> str:
    key = f"intent_{intent}"
    try:
        return turn.text(key)
    except KeyError:
        return turn.text("intent_other")


async def plan_lines(turn: Turn) -> str:
    gym_id = turn.gym.id

    async def load(session: AsyncSession) -> list[tuple[Plan, tuple[int, ...]]]:
        plans = await public_plans(session, gym_id)
        return [
            (p, () if p.all_locations else tuple(await covered_location_ids(session, p.id)))
            for p in plans
        ]

    locations = {loc.id: loc.name for loc in turn.locations}
    lines = []
    for plan, covered in await turn.reference("public_plans", load):
        where = ""
        if not plan.all_locations:
            names = [locations[i] for i in covered if i in locations]
            where = turn.text("plan_only_at", locations=fmt.join_list(names, turn.text("and")))
        lines.append(
            turn.text(
                "plan_line",
                name=plan.name,
                price=fmt.money(plan.price_cents),
                interval=turn.text(f"interval_{plan.interval}"),
                where=where,
            )
        )
    return "\n".join(lines)


async def plan_info(turn: Turn) -> str:
    turn.say("plans_intro", plans=await plan_lines(turn))
    return END


GREET = Flow("greet", greet)
HELP = reply_flow("help", "help")
THANKS = reply_flow("thanks", "thanks")
GOODBYE = reply_flow("goodbye", "goodbye")
AFFIRM = reply_flow("affirm", "affirm_no_context")
DENY = reply_flow("deny", "deny_no_context")
NOT_YET = Flow("not_yet", not_yet)
FALLBACK = Flow("fallback", fallback)
PLAN_INFO = Flow("plan_info", plan_info)
