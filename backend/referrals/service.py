"""Referral codes: issue a member's personal code with its share text and wa.me link, and
redeem a friend's code (attribution, fraud rules, the friend's welcome credit)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from backend.billing import credits
from backend.billing.models import Plan, Subscription
from backend.errors import DomainError, NotFound
from backend.gyms.models import Gym
from backend.members.models import Member
from backend.members.service import audit, record_event
from backend.referrals import codes, fraud, messages, programs
from backend.referrals.models import Referral, ReferralCode, ReferralProgram, ReferralReward

# A referrer must hold one of these to invite (paying today).
REFERRER_STATUSES = ("active",)
# Holding one of these means the person is a member already, not a friend to win.
MEMBER_STATUSES = ("active", "past_due", "suspended", "paused")
CODE_ATTEMPTS = 12


class NoProgram(DomainError):
    status_code = 404
    code = "no_referral_program"

    def __init__(self) -> None:
        super().__init__(
            "Este gimnasio no tiene un programa de referidos activo.",
            "This gym has no active referral program.",
        )


class NotEligible(DomainError):
    """The member may not invite yet: no active membership, or not paying long enough."""

    status_code = 409
    code = "referrer_not_eligible"

    def __init__(self, reason: str, days_left: int = 0) -> None:
        super().__init__(
            "Este socio todavía no puede invitar amigos.",
            "This member cannot invite friends yet.",
            {"reason": reason, "days_left": days_left},
        )
        self.reason = reason
        self.days_left = days_left


@dataclass(frozen=True)
class ShareKit:
    """What a member needs to invite: the code, the friend's offer, a ready text and link."""

    code: ReferralCode
    program: ReferralProgram
    offer: str
    offer_cents: int
    reward: str
    prefill: str
    link: str
    share_text: str


async def live_subscription(session: AsyncSession, member_id: int) -> Subscription | None:
    return await session.scalar(
        select(Subscription)
        .where(Subscription.member_id == member_id, Subscription.status.in_(MEMBER_STATUSES))
        .order_by(Subscription.current_period_end.desc())
        .limit(1)
    )


async def check_eligible(
    session: AsyncSession, member: Member, program: ReferralProgram, now: datetime
) -> None:
    """Raise NotEligible unless the member is active and first paid `min_paid_days` ago."""
    sub = await live_subscription(session, member.id)
    if sub is None or sub.status not in REFERRER_STATUSES:
        raise NotEligible("not_active")
    if program.min_paid_days > 0:
        first = await fraud.first_paid_at(session, member.gym_id, member.id)
        since = (now - first).days if first else 0
        if since < program.min_paid_days:
            raise NotEligible("too_new", program.min_paid_days - since)


async def _new_code(
    session: AsyncSession, gym_id: int, member: Member, program: ReferralProgram, now: datetime
) -> ReferralCode:
    expires = now + timedelta(days=program.code_valid_days) if program.code_valid_days else None
    for attempt in range(CODE_ATTEMPTS * 3):
        options = codes.prefixes(member.name)
        prefix = options[min(attempt // CODE_ATTEMPTS, len(options) - 1)]
        normalized = prefix + codes.random_digits()
        taken = await session.scalar(
            select(ReferralCode.id).where(
                ReferralCode.gym_id == gym_id, ReferralCode.normalized == normalized
            )
        )
        if taken is not None:
            continue
        code = ReferralCode(
            gym_id=gym_id,
            program_id=program.id,
            member_id=member.id,
            code=codes.display_code(normalized),
            normalized=normalized,
            status="issued",
            uses=0,
            expires_at=expires,
            created_at=now,
        )
        try:
            async with session.begin_nested():
                session.add(code)
                await session.flush()
        except IntegrityError:
            continue  # taken at the same moment by someone else: draw again
        return code
    raise DomainError("No pude generar un código; intenta de nuevo.", "Could not make a code.")


async def issue_code(
    session: AsyncSession,
    gym: Gym,
    member: Member,
    now: datetime,
    *,
    program: ReferralProgram | None = None,
    actor: str,
) -> ReferralCode:
    """The member's code in `program` (default: the one the chat offers). Asking again
    returns the same code; an expired one is renewed with the same letters and digits,
    so texts already shared keep working."""
    if program is None:
        live = await programs.live_programs(session, gym.id, now)
        if not live:
            raise NoProgram()
        program = live[0]
    elif not programs.is_live(program, now):
        raise NoProgram()
    existing = await session.scalar(
        select(ReferralCode).where(
            ReferralCode.program_id == program.id, ReferralCode.member_id == member.id
        )
    )
    if existing is not None and existing.status == "revoked":
        raise NotEligible("revoked")
    await check_eligible(session, member, program, now)
    if existing is not None:
        if existing.status == "expired" or (existing.expires_at and existing.expires_at <= now):
            existing.status = "issued"
            existing.expires_at = (
                now + timedelta(days=program.code_valid_days) if program.code_valid_days else None
            )
        return existing
    code = await _new_code(session, gym.id, member, program, now)
    await record_event(session, gym.id, member.id, "referral_code_issued", {"code": code.code}, now)
    await audit(
        session,
        gym.id,
        actor,
        "referral_code.issued",
        "referral_code",
        code.id,
        {"code": code.code},
    )
    return code


async def share_kit(
    session: AsyncSession,
    gym: Gym,
    member: Member,
    code: ReferralCode,
    lang: str,
    now: datetime,
) -> ShareKit:
    program = await session.get(ReferralProgram, code.program_id)
    assert program is not None
    amount = await programs.offer_amount(session, program, now)
    offer = messages.offer(lang, program.referred_reward, program.referred_value, amount)
    if program.referred_reward != "none" and amount == 0 and program.referred_reward != "credit":
        offer = ""  # nothing to discount (no plan priced, no enrollment fee)
    reward = await referrer_reward_text(session, program, member, lang, now)
    prefill = messages.text(
        lang, "prefill", name=messages.first_name(member.name, lang), code=code.code
    )
    link = codes.wa_link(gym.whatsapp_number, prefill)
    share_offer = messages.text(lang, "share_offer", offer=offer) if offer else ""
    share = messages.text(lang, "share", gym=gym.name, code=code.code, offer=share_offer, link=link)
    return ShareKit(code, program, offer, amount, reward, prefill, link, share)


async def referrer_reward_text(
    session: AsyncSession, program: ReferralProgram, member: Member, lang: str, now: datetime
) -> str:
    """How the reward for the member's next converted friend reads (their tier applied)."""
    done = await converted_count(session, program.id, member.id)
    tier = programs.tier_for(program, done + 1)
    value = tier_value(program, tier)
    amount = value
    if program.referrer_reward == "percent_off":
        sub = await live_subscription(session, member.id)
        plan_price = await _plan_price(session, sub, now)
        amount = plan_price * value // 100
    return messages.reward(lang, program.referrer_reward, value, amount, program.referrer_feature)


async def _plan_price(session: AsyncSession, sub: Subscription | None, now: datetime) -> int:
    """The current price of the subscription's plan (0 without one)."""
    if sub is None:
        return 0
    plan = await session.get(Plan, sub.plan_id)
    return plan.price_at(now) if plan else 0


def tier_value(program: ReferralProgram, tier: dict[str, object] | None) -> int:
    """The referrer reward at a tier: its own value, or the base raised by its bonus."""
    if tier is None:
        return program.referrer_value
    explicit = tier.get("referrer_value")
    if isinstance(explicit, int) and explicit > 0:
        return explicit
    bonus = tier.get("bonus_percent")
    if isinstance(bonus, int) and bonus > 0:
        return program.referrer_value * (100 + bonus) // 100
    return program.referrer_value


async def converted_count(session: AsyncSession, program_id: int, referrer_id: int) -> int:
    rows = await session.scalars(
        select(Referral.id).where(
            Referral.program_id == program_id,
            Referral.referrer_id == referrer_id,
            Referral.status.in_(("converted", "rewarded")),
        )
    )
    return len(rows.all())


async def find_code(session: AsyncSession, gym_id: int, raw: str) -> ReferralCode | None:
    normalized = codes.normalize_code(raw)
    if normalized is None:
        return None
    return await session.scalar(
        select(ReferralCode).where(
            ReferralCode.gym_id == gym_id, ReferralCode.normalized == normalized
        )
    )


async def code_of(
    session: AsyncSession, gym_id: int, member_id: int, now: datetime
) -> ReferralCode | None:
    """The member's usable code in a live program, if they have one."""
    rows = (
        await session.scalars(
            select(ReferralCode)
            .where(
                ReferralCode.gym_id == gym_id,
                ReferralCode.member_id == member_id,
                ReferralCode.status == "issued",
            )
            .order_by(ReferralCode.id.desc())
        )
    ).all()
    for code in rows:
        program = await session.get(ReferralProgram, code.program_id)
        if program is not None and programs.is_live(program, now):
            return code
    return None


# --- redemption ------------------------------------------------------------------------------

# Outcomes of a redemption attempt. Only "redeemed" and "review" attribute the friend.
ATTRIBUTED = ("redeemed", "review")


@dataclass(frozen=True)
class Redemption:
    outcome: str
    code: ReferralCode | None = None
    referral: Referral | None = None
    program: ReferralProgram | None = None
    referrer: Member | None = None
    offer_cents: int = 0
    # For "already_referred": the referral that won, and its code.
    first: Referral | None = None
    first_code: str | None = None

    @property
    def attributed(self) -> bool:
        return self.outcome in ATTRIBUTED


async def redeem(
    session: AsyncSession,
    gym: Gym,
    friend: Member,
    raw_code: str,
    now: datetime,
    *,
    source: str = "whatsapp",
    actor: str,
) -> Redemption:
    """Attribute `friend` to the owner of `raw_code`, or say why not (nothing attributed).

    The first code a person redeems wins (unique key); a one-use code goes to exactly one
    friend even when two redeem it at once (a guarded increment of its use count).
    """
    if codes.normalize_code(raw_code) is None:
        return Redemption("malformed")
    code = await find_code(session, gym.id, raw_code)
    if code is None:
        await _refused(session, gym.id, friend, actor, "unknown", raw_code, now)
        return Redemption("unknown")
    program = await session.get(ReferralProgram, code.program_id)
    referrer = await session.get(Member, code.member_id)
    assert program is not None and referrer is not None

    def outcome(name: str) -> Redemption:
        return Redemption(name, code, None, program, referrer)

    if referrer.id == friend.id or referrer.phone == friend.phone:
        await _refused(session, gym.id, friend, actor, "own_code", code.code, now)
        return outcome("own_code")
    first = await session.scalar(
        select(Referral).where(Referral.gym_id == gym.id, Referral.referred_id == friend.id)
    )
    if first is not None:
        if first.code_id == code.id:
            return Redemption(
                "already_redeemed", code, first, program, referrer, await _offer_of(session, first)
            )
        await _refused(session, gym.id, friend, actor, "already_referred", code.code, now)
        return await _already_referred(session, code, program, referrer, first)
    if code.status != "issued" or (code.expires_at is not None and code.expires_at <= now):
        await _refused(session, gym.id, friend, actor, "expired", code.code, now)
        return outcome("expired")
    if not programs.is_live(program, now):
        await _refused(session, gym.id, friend, actor, "program_ended", code.code, now)
        return outcome("program_ended")
    refusal = await fraud.newcomer_refusal(session, gym.id, friend.id, program.ex_member_days, now)
    if refusal is None and await live_subscription(session, friend.id) is not None:
        refusal = "already_member"
    if refusal is not None:
        await _refused(session, gym.id, friend, actor, refusal, code.code, now)
        return outcome(refusal)
    flags = (
        ["velocity"]
        if await fraud.velocity_exceeded(session, code, program.velocity_per_day, now)
        else []
    )
    referral = Referral(
        gym_id=gym.id,
        program_id=program.id,
        code_id=code.id,
        referrer_id=referrer.id,
        referred_id=friend.id,
        status="redeemed",
        review_status="pending" if flags else "none",
        flags=flags,
        source=source,
        redeemed_at=now,
        expires_at=now + timedelta(days=program.conversion_days),
        updated_at=now,
    )
    try:
        async with session.begin_nested():
            taken = await session.execute(
                update(ReferralCode)
                .where(
                    ReferralCode.id == code.id,
                    ReferralCode.status == "issued",
                    *(
                        [ReferralCode.uses < program.max_uses_per_code]
                        if program.max_uses_per_code is not None
                        else []
                    ),
                )
                .values(uses=ReferralCode.uses + 1)
                .execution_options(synchronize_session=False)
            )
            if taken.rowcount != 1:  # type: ignore[attr-defined]
                raise _UsedUp()
            session.add(referral)
            await session.flush()
    except _UsedUp:
        await _refused(session, gym.id, friend, actor, "used_up", code.code, now)
        return outcome("used_up")
    except IntegrityError:
        # The same person redeemed another code at this very moment: the first one won.
        first = await session.scalar(
            select(Referral).where(Referral.gym_id == gym.id, Referral.referred_id == friend.id)
        )
        return await _already_referred(session, code, program, referrer, first)
    await session.refresh(code)
    offer_cents = await _welcome_gift(session, program, referral, now, actor=actor)
    await record_event(
        session,
        gym.id,
        friend.id,
        "referral_redeemed",
        {"referral_id": referral.id, "code": code.code, "referrer_id": referrer.id},
        now,
    )
    await audit(
        session,
        gym.id,
        actor,
        "referral.redeemed",
        "referral",
        referral.id,
        {"code": code.code, "referred_id": friend.id, "flags": flags},
    )
    return Redemption(
        "review" if flags else "redeemed", code, referral, program, referrer, offer_cents
    )


async def _already_referred(
    session: AsyncSession,
    code: ReferralCode,
    program: ReferralProgram,
    referrer: Member,
    first: Referral | None,
) -> Redemption:
    first_code = await session.get(ReferralCode, first.code_id) if first is not None else None
    return Redemption(
        "already_referred",
        code,
        None,
        program,
        referrer,
        0,
        first,
        first_code.code if first_code is not None else None,
    )


class _UsedUp(Exception):
    """The code's last use went to someone else."""


async def _offer_of(session: AsyncSession, referral: Referral) -> int:
    reward = await session.scalar(
        select(ReferralReward).where(
            ReferralReward.referral_id == referral.id, ReferralReward.side == "referred"
        )
    )
    return reward.amount_cents if reward is not None else 0


async def _welcome_gift(
    session: AsyncSession,
    program: ReferralProgram,
    referral: Referral,
    now: datetime,
    *,
    actor: str,
) -> int:
    """The friend's offer as balance credit, applied to their first invoice before any
    charge; held (not granted) while the referral waits for review."""
    amount = await programs.offer_amount(session, program, now)
    if program.referred_reward == "none" or amount <= 0:
        return 0
    held = referral.review_status == "pending"
    reward = ReferralReward(
        gym_id=referral.gym_id,
        program_id=program.id,
        referral_id=referral.id,
        member_id=referral.referred_id,
        side="referred",
        kind=program.referred_reward,
        value=program.referred_value,
        amount_cents=amount,
        status="pending_review" if held else "granted",
        created_at=now,
    )
    session.add(reward)
    await session.flush()
    if not held:
        await grant_welcome_credit(session, reward, actor=actor, now=now)
    return amount


async def grant_welcome_credit(
    session: AsyncSession, reward: ReferralReward, *, actor: str, now: datetime
) -> None:
    entry = await credits.grant(
        session,
        gym_id=reward.gym_id,
        member_id=reward.member_id,
        amount_cents=reward.amount_cents,
        reason="referral",
        actor=actor,
        now=now,
        note="regalo de bienvenida por referido",
        idempotency_key=f"referral:{reward.referral_id}:referred",
    )
    reward.status, reward.credit_entry_id, reward.granted_at = "granted", entry.id, now


async def _refused(
    session: AsyncSession,
    gym_id: int,
    friend: Member,
    actor: str,
    reason: str,
    code: str,
    now: datetime,
) -> None:
    """Refused attempts are kept in the audit log (fraud review reads it), never attributed."""
    await audit(
        session,
        gym_id,
        actor,
        "referral.refused",
        "member",
        friend.id,
        {"reason": reason, "code": code[:20]},
    )


async def get_referral(session: AsyncSession, gym_id: int, referral_id: int) -> Referral:
    referral = await session.get(Referral, referral_id)
    if referral is None or referral.gym_id != gym_id:
        raise NotFound("Ese referido no existe.", "That referral does not exist.")
    return referral
