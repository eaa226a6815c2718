"""Referrals in the chat: "mi código" gives a member their personal code and a message
ready to forward (with the wa.me link); a friend's code, typed or prefilled in their first
message, is redeemed and enrollment continues (plans, trial pass)."""

from __future__ import annotations

from sqlalchemy import func, select

from backend.billing.service import has_any_subscription
from backend.format import day, money
from backend.gyms.service import local_now
from backend.referrals import codes, messages, programs
from backend.referrals import service as referrals
from backend.referrals.models import Referral, ReferralProgram
from backend.referrals.service import NoProgram, NotEligible, Redemption
from dialogs.flows.common import plan_lines
from dialogs.flows.trial import offer_trial
from dialogs.turn import END, PASS, Flow, Turn

REFERRAL_INTENTS = frozenset({"referral_code", "referral_redeem"})
MAX_TRIES = 2


def _first(name: str | None) -> str:
    return (name or "").split(" ")[0]


def code_in(turn: Turn) -> str | None:
    """A referral code in the message: the NLU entity, or a message that is only a code."""
    found = turn.nlu.entity("referral_code")
    if found:
        return found
    return turn.message.text.strip() if codes.normalize_code(turn.message.text) else None


# --- "mi código" -------------------------------------------------------------------------------


async def my_code(turn: Turn) -> str:
    raw = code_in(turn)
    if raw is not None:
        own = await referrals.find_code(turn.session, turn.gym.id, raw)
        if own is None or own.member_id != turn.member.id:
            return await redeem_and_continue(turn, raw)
    if turn.member.status == "prospect":
        turn.say("referral_prospect")
        return END
    try:
        code = await referrals.issue_code(
            turn.session, turn.gym, turn.member, turn.now, actor=f"member:{turn.member.id}"
        )
    except NoProgram:
        turn.say("referral_no_program", gym=turn.gym.name)
        return END
    except NotEligible as exc:
        if exc.reason == "too_new":
            program = (await programs.live_programs(turn.session, turn.gym.id, turn.now))[0]
            turn.say("referral_too_new", required=program.min_paid_days, days=exc.days_left)
        elif exc.reason == "revoked":
            phone = f" ({turn.gym.phone})" if turn.gym.phone else ""
            turn.say("referral_revoked", phone=phone)
        else:
            turn.say("referral_not_active")
        return END
    kit = await referrals.share_kit(turn.session, turn.gym, turn.member, code, turn.lang, turn.now)
    expires = ""
    if code.expires_at is not None:
        when = day(local_now(turn.gym, code.expires_at).date(), turn.lang)
        expires = turn.text("referral_expires", date=when)
    turn.say(
        "referral_your_code",
        name=_first(turn.member.name),
        code=code.code,
        reward=kit.reward,
        offer=turn.text("referral_your_code_offer", offer=kit.offer) if kit.offer else "",
        stats=await _stats(turn, kit.program),
        expires=expires,
    )
    turn.replies.append(kit.share_text)  # its own message, so it can be forwarded as is
    return END


async def _stats(turn: Turn, program: ReferralProgram) -> str:
    rows = await turn.session.execute(
        select(Referral.status, func.count(Referral.id))
        .where(Referral.program_id == program.id, Referral.referrer_id == turn.member.id)
        .group_by(Referral.status)
    )
    counts = dict(rows.tuples().all())
    converted = counts.get("converted", 0) + counts.get("rewarded", 0)
    pending = counts.get("redeemed", 0)
    if not converted and not pending:
        return ""
    tier = programs.tier_for(program, converted)
    return turn.text(
        "referral_stats",
        converted=converted,
        pending=turn.text("referral_stats_pending", n=pending) if pending else "",
        tier=turn.text("referral_stats_tier", tier=tier["name"]) if tier else "",
    )


# --- a friend's code ---------------------------------------------------------------------------


def outcome_text(turn: Turn, raw: str, result: Redemption) -> str:
    """What the friend is told about their code, whatever happened."""
    shown = result.code.code if result.code else raw.strip()[:20].upper()
    referrer = messages.first_name(result.referrer.name if result.referrer else None, turn.lang)
    offer = ""
    if result.outcome in ("redeemed", "already_redeemed") and result.program is not None:
        if result.offer_cents > 0:
            described = messages.offer(
                turn.lang,
                result.program.referred_reward,
                result.program.referred_value,
                result.offer_cents,
            )
            offer = turn.text("referral_offer", offer=described, amount=money(result.offer_cents))
        else:
            offer = turn.text("referral_no_offer", referrer=referrer)
    if result.outcome == "already_referred":
        return turn.text("referral_already_referred", first=result.first_code or "")
    key = {"redeemed": "referral_redeemed"}.get(result.outcome, f"referral_{result.outcome}")
    return turn.text(key, code=shown, referrer=referrer, offer=offer, gym=turn.gym.name)


async def redeem_code(turn: Turn, raw: str) -> Redemption:
    return await referrals.redeem(
        turn.session, turn.gym, turn.member, raw, turn.now, actor=f"member:{turn.member.id}"
    )


async def redeem_and_continue(turn: Turn, raw: str) -> str:
    """Redeem, explain, and for a prospect go on with enrollment (plans, trial pass)."""
    result = await redeem_code(turn, raw)
    turn.replies.append(outcome_text(turn, raw, result))
    if turn.member.status != "prospect" or result.outcome in ("own_code", "already_member"):
        return END
    if await has_any_subscription(turn.session, turn.member.id):
        return END
    turn.say("referral_continue", plans=await plan_lines(turn))
    return "offer_trial"


async def welcome_with_referral(turn: Turn) -> bool:
    """Onboarding hook: a newcomer's first message carrying a code (the wa.me prefilled
    text) is redeemed and the welcome says so; False when there is no code in it."""
    raw = turn.nlu.entity("referral_code")
    if raw is None or (turn.intent not in REFERRAL_INTENTS and code_in(turn) is None):
        return False
    result = await redeem_code(turn, raw)
    turn.say("referral_welcome", gym=turn.gym.name, outcome=outcome_text(turn, raw, result))
    return True


async def start_redeem(turn: Turn) -> str:
    raw = code_in(turn)
    if raw is not None:
        return await redeem_and_continue(turn, raw)
    turn.say("referral_ask_code")
    return "ask_code"


async def ask_code(turn: Turn) -> str:
    raw = code_in(turn)
    if raw is not None:
        return await redeem_and_continue(turn, raw)
    if turn.intent == "deny":  # "no lo tengo", "ya no": no maze, no code needed
        turn.say("referral_no_code_ok")
        return END
    # While a code is expected, an answer without one ("no me acuerdo bien") is re-asked;
    # only a clearly different request leaves the flow.
    if turn.intent not in ("out_of_scope", "affirm", *REFERRAL_INTENTS):
        return PASS
    tries = turn.slots.get("tries", 0) + 1
    if tries >= MAX_TRIES:
        turn.say("referral_malformed")
        return END
    turn.slots["tries"] = tries
    turn.say("referral_ask_code_again")
    return "ask_code"


REFERRAL_CODE = Flow("referral_code", my_code, {"offer_trial": offer_trial})
REFERRAL_REDEEM = Flow(
    "referral_redeem", start_redeem, {"ask_code": ask_code, "offer_trial": offer_trial}
)
