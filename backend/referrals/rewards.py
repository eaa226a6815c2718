"""Conversion and rewards: when a referred friend's first invoice is paid, the referral
converts and both sides are rewarded (once, whatever re-delivers the payment), unless a
fraud rule or a high-value reward holds it for staff review. Also the review decisions and
the expiry of codes and unconverted referrals."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.billing import credits
from backend.billing.models import CreditEntry, Invoice, Plan, Subscription
from backend.errors import Conflict
from backend.format import day
from backend.gyms.models import Gym
from backend.members.models import Member
from backend.members.service import audit, record_event
from backend.messaging.notify import notify_member
from backend.payments.alerts import raise_alert
from backend.referrals import fraud, messages, programs
from backend.referrals.models import (
    FeatureGrant,
    Referral,
    ReferralCode,
    ReferralProgram,
    ReferralReward,
)
from backend.referrals.service import (
    converted_count,
    grant_welcome_credit,
    live_subscription,
    tier_value,
)

# A payment taken at the front desk just before staff typed the friend's code still counts.
PAID_BEFORE_REDEMPTION = timedelta(days=1)
SWEEP_BATCH = 500
Templates = Mapping[str, str]


def _system(actor: str | None) -> str:
    return actor or "system"


async def _lock(session: AsyncSession, referral_id: int) -> Referral | None:
    query = select(Referral).where(Referral.id == referral_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return await session.scalar(query.execution_options(populate_existing=True))


async def first_paid_invoice(session: AsyncSession, referral: Referral) -> Invoice | None:
    """The friend's first invoice paid with real money since (about) the redemption."""
    return await session.scalar(
        select(Invoice)
        .where(
            Invoice.gym_id == referral.gym_id,
            Invoice.member_id == referral.referred_id,
            Invoice.status == "paid",
            Invoice.total_cents > Invoice.credit_applied_cents,
            Invoice.paid_at >= referral.redeemed_at - PAID_BEFORE_REDEMPTION,
        )
        .order_by(Invoice.paid_at, Invoice.id)
        .limit(1)
    )


async def process_referral(
    session: AsyncSession,
    referral_id: int,
    now: datetime,
    *,
    templates: Templates | None = None,
    actor: str | None = None,
) -> str:
    """Move one referral as far as it can go: redeemed → converted → rewarded. Returns its
    status. Safe to run any number of times, concurrently too (the row is locked)."""
    await session.flush()  # the caller's settled invoice must be visible to the queries
    referral = await _lock(session, referral_id)
    if referral is None:
        return "missing"
    program = await session.get(ReferralProgram, referral.program_id)
    assert program is not None
    if referral.status == "redeemed":
        invoice = await first_paid_invoice(session, referral)
        if invoice is None:
            return referral.status
        referral.status, referral.converted_at, referral.invoice_id = "converted", now, invoice.id
        referral.updated_at = now
        flags = await fraud.conversion_flags(session, referral, program.ex_member_days, now)
        if flags and referral.review_status != "approved":
            referral.flags = [*referral.flags, *flags]
            referral.review_status = "pending"
        await record_event(
            session,
            referral.gym_id,
            referral.referred_id,
            "referral_converted",
            {"referral_id": referral.id, "invoice_id": invoice.id},
            now,
        )
        await audit(
            session,
            referral.gym_id,
            _system(actor),
            "referral.converted",
            "referral",
            referral.id,
            {"invoice_id": invoice.id, "flags": flags},
        )
        await session.flush()  # tiers count this conversion
    if referral.status != "converted" or referral.review_status in ("pending", "rejected"):
        if referral.status == "converted" and referral.review_status == "pending":
            await _plan_referrer_reward(session, program, referral, now)
        await session.flush()
        return referral.status
    await _reward(session, program, referral, now, templates or {}, _system(actor))
    await session.flush()
    return referral.status


@dataclass(frozen=True)
class _Planned:
    kind: str
    value: int
    amount_cents: int
    tier: str | None
    tier_up: bool
    blocked: str | None  # a reason the reward cannot be given as is (goes to review)


async def _compute_referrer_reward(
    session: AsyncSession, program: ReferralProgram, referral: Referral, now: datetime
) -> _Planned:
    done = await converted_count(session, program.id, referral.referrer_id)
    tier = programs.tier_for(program, done)
    before = programs.tier_for(program, done - 1)
    value = tier_value(program, tier)
    kind = program.referrer_reward
    amount, blocked = 0, None
    if kind == "credit":
        amount = value
    elif kind in ("percent_off", "free_days"):
        sub = await live_subscription(session, referral.referrer_id)
        if sub is None:
            blocked = "referrer_inactive"
        else:
            plan_price = await _price(session, sub, now)
            if kind == "percent_off":
                amount = plan_price * value // 100
            else:
                period = max((sub.current_period_end - sub.current_period_start).days, 1)
                amount = plan_price * value // period
    name = str(tier["name"]) if tier else None
    return _Planned(kind, value, amount, name, tier is not None and tier != before, blocked)


async def _price(session: AsyncSession, sub: Subscription, now: datetime) -> int:
    plan = await session.get(Plan, sub.plan_id)
    return plan.price_at(now) if plan else 0


async def _referrer_reward_row(session: AsyncSession, referral: Referral) -> ReferralReward | None:
    return await session.scalar(
        select(ReferralReward).where(
            ReferralReward.referral_id == referral.id, ReferralReward.side == "referrer"
        )
    )


async def _plan_referrer_reward(
    session: AsyncSession,
    program: ReferralProgram,
    referral: Referral,
    now: datetime,
) -> tuple[ReferralReward, _Planned]:
    """The referrer's reward row (created once), sized by tier; held while in review."""
    planned = await _compute_referrer_reward(session, program, referral, now)
    row = await _referrer_reward_row(session, referral)
    if row is None:
        row = ReferralReward(
            gym_id=referral.gym_id,
            program_id=program.id,
            referral_id=referral.id,
            member_id=referral.referrer_id,
            side="referrer",
            kind=planned.kind,
            value=planned.value,
            amount_cents=planned.amount_cents,
            status="pending_review",
            tier=planned.tier,
            created_at=now,
        )
        session.add(row)
        await session.flush()
    elif row.status == "pending_review":
        row.kind, row.value, row.amount_cents, row.tier = (
            planned.kind,
            planned.value,
            planned.amount_cents,
            planned.tier,
        )
    return row, planned


async def _month_start(session: AsyncSession, gym_id: int, now: datetime) -> datetime:
    gym = await session.get(Gym, gym_id)
    tz = ZoneInfo(gym.timezone if gym else "America/Mexico_City")
    local = now.astimezone(tz)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


async def _capped(
    session: AsyncSession, program: ReferralProgram, referral: Referral, amount: int, now: datetime
) -> bool:
    """Over the referrer's monthly count or the program's monthly budget."""
    start = await _month_start(session, program.gym_id, now)
    granted = select(ReferralReward).where(
        ReferralReward.program_id == program.id,
        ReferralReward.status == "granted",
        ReferralReward.granted_at >= start,
    )
    if program.monthly_cap_per_referrer is not None:
        count = await session.scalar(
            select(func.count()).select_from(
                granted.where(
                    ReferralReward.side == "referrer",
                    ReferralReward.member_id == referral.referrer_id,
                ).subquery()
            )
        )
        if int(count or 0) >= program.monthly_cap_per_referrer:
            return True
    if program.monthly_budget_cents is not None:
        spent = await session.scalar(
            select(func.coalesce(func.sum(ReferralReward.amount_cents), 0)).where(
                ReferralReward.program_id == program.id,
                ReferralReward.status == "granted",
                ReferralReward.granted_at >= start,
            )
        )
        if int(spent or 0) + amount > program.monthly_budget_cents:
            return True
    return False


async def _reward(
    session: AsyncSession,
    program: ReferralProgram,
    referral: Referral,
    now: datetime,
    templates: Templates,
    actor: str,
) -> None:
    row, planned = await _plan_referrer_reward(session, program, referral, now)
    if row.status == "pending_review":
        approved = referral.review_status == "approved"
        reasons = []
        if planned.blocked and not approved:
            reasons.append(planned.blocked)
        if (
            program.review_above_cents is not None
            and row.amount_cents > program.review_above_cents
            and not approved
        ):
            reasons.append("high_value")
        if reasons:
            referral.flags = sorted({*referral.flags, *reasons})
            referral.review_status = "pending"
            await audit(
                session,
                referral.gym_id,
                actor,
                "referral.held",
                "referral",
                referral.id,
                {"reasons": reasons},
            )
            return
        if planned.blocked:  # approved although the referrer has no live membership
            row.kind, row.amount_cents = "credit", row.amount_cents or program.referrer_value
        if await _capped(session, program, referral, row.amount_cents, now):
            row.status = "capped"
        else:
            await _grant_referrer(session, row, referral, now, actor)
    held = await session.scalar(
        select(ReferralReward).where(
            ReferralReward.referral_id == referral.id,
            ReferralReward.side == "referred",
            ReferralReward.status == "pending_review",
        )
    )
    if held is not None:
        await grant_welcome_credit(session, held, actor=actor, now=now)
    referral.status, referral.rewarded_at, referral.updated_at = "rewarded", now, now
    await audit(
        session,
        referral.gym_id,
        actor,
        "referral.rewarded",
        "referral",
        referral.id,
        {"referrer_reward": row.status, "amount_cents": row.amount_cents},
    )
    await _notify(session, program, referral, row, planned, now, templates)


async def _grant_referrer(
    session: AsyncSession, row: ReferralReward, referral: Referral, now: datetime, actor: str
) -> None:
    key = f"referral:{referral.id}:referrer"
    if row.kind in ("credit", "percent_off"):
        if row.amount_cents > 0:
            entry = await credits.grant(
                session,
                gym_id=row.gym_id,
                member_id=row.member_id,
                amount_cents=row.amount_cents,
                reason="referral",
                actor=actor,
                now=now,
                note=f"premio por referido #{referral.id}",
                idempotency_key=key,
            )
            row.credit_entry_id = entry.id
    elif row.kind == "free_days":
        sub = await live_subscription(session, row.member_id)
        if sub is not None:
            before = sub.current_period_end
            sub.current_period_end = before + timedelta(days=row.value)
            await record_event(
                session,
                row.gym_id,
                row.member_id,
                "subscription_extended",
                {"subscription_id": sub.id, "days": row.value, "why": "referral"},
                now,
            )
            await audit(
                session,
                row.gym_id,
                actor,
                "subscription.extended",
                "subscription",
                sub.id,
                {"days": row.value, "from": before.isoformat(), "referral_id": referral.id},
            )
    elif row.kind == "feature":
        program = await session.get(ReferralProgram, row.program_id)
        feature = (program.referrer_feature if program else None) or "premium"
        latest = await session.scalar(
            select(func.max(FeatureGrant.ends_at)).where(
                FeatureGrant.gym_id == row.gym_id,
                FeatureGrant.member_id == row.member_id,
                FeatureGrant.feature == feature,
            )
        )
        start = max(now, latest) if latest else now
        grant = FeatureGrant(
            gym_id=row.gym_id,
            member_id=row.member_id,
            feature=feature,
            starts_at=start,
            ends_at=start + timedelta(days=row.value),
            source=f"referral:{referral.id}",
            created_at=now,
        )
        session.add(grant)
        await session.flush()
        row.feature_grant_id = grant.id
    row.status, row.granted_at = "granted", now
    await record_event(
        session,
        row.gym_id,
        row.member_id,
        "referral_reward",
        {"referral_id": referral.id, "kind": row.kind, "value": row.value},
        now,
    )


async def _notify(
    session: AsyncSession,
    program: ReferralProgram,
    referral: Referral,
    row: ReferralReward,
    planned: _Planned,
    now: datetime,
    templates: Templates,
) -> None:
    gym = await session.get(Gym, referral.gym_id)
    referrer = await session.get(Member, referral.referrer_id)
    friend = await session.get(Member, referral.referred_id)
    code = await session.get(ReferralCode, referral.code_id)
    assert gym is not None and referrer is not None and friend is not None and code is not None
    lang = referrer.locale if referrer.locale in messages.TEXTS else "es"
    friend_name = messages.first_name(friend.name, lang)
    if row.status == "capped":
        body = messages.text(lang, "referrer_capped", friend=friend_name, code=code.code)
    else:
        body = messages.text(
            lang,
            "referrer_rewarded",
            friend=friend_name,
            code=code.code,
            reward=messages.reward(
                lang, row.kind, row.value, row.amount_cents, program.referrer_feature
            ),
            detail=await _detail(session, row, lang, gym),
            tier=messages.text(lang, "tier_up", tier=planned.tier) if planned.tier_up else "",
        )
    await notify_member(
        session,
        gym=gym,
        member=referrer,
        body=body,
        now=now,
        template_sid=templates.get("referral_reward"),
        template_values={"1": friend_name, "2": code.code},
    )
    flang = friend.locale if friend.locale in messages.TEXTS else "es"
    welcome = await session.scalar(
        select(ReferralReward).where(
            ReferralReward.referral_id == referral.id, ReferralReward.side == "referred"
        )
    )
    values: dict[str, Any] = {
        "name": messages.first_name(friend.name, flang),
        "referrer": messages.first_name(referrer.name, flang),
    }
    if welcome is not None and welcome.status == "granted":
        offer = messages.offer(flang, welcome.kind, welcome.value, welcome.amount_cents)
        body = messages.text(flang, "referred_converted", offer=offer, **values)
    else:
        body = messages.text(flang, "referred_converted_plain", **values)
    await notify_member(
        session,
        gym=gym,
        member=friend,
        body=body,
        now=now,
        template_sid=templates.get("referral_thanks"),
        template_values={"1": values["name"]},
    )


async def _detail(session: AsyncSession, row: ReferralReward, lang: str, gym: Gym) -> str:
    tz = ZoneInfo(gym.timezone)
    if row.kind == "free_days":
        sub = await live_subscription(session, row.member_id)
        if sub is None:
            return ""
        when = day(sub.current_period_end.astimezone(tz).date(), lang)
        return messages.text(lang, "detail_free_days", date=when)
    if row.kind == "feature" and row.feature_grant_id is not None:
        grant = await session.get(FeatureGrant, row.feature_grant_id)
        if grant is None:
            return ""
        when = day(grant.ends_at.astimezone(tz).date(), lang)
        return messages.text(lang, "detail_feature", date=when)
    return messages.text(lang, "detail_credit")


# --- entry points for jobs -------------------------------------------------------------------


async def process_member(
    session: AsyncSession, member_id: int, now: datetime, *, templates: Templates | None = None
) -> str | None:
    """After one of the member's invoices was paid: convert/reward their referral."""
    found = (
        await session.execute(
            select(Referral.id, Referral.status).where(Referral.referred_id == member_id)
        )
    ).first()
    if found is None:
        return None
    if found.status not in ("redeemed", "converted"):
        return str(found.status)  # already rewarded (a re-delivered payment) or closed
    return await process_referral(session, found.id, now, templates=templates)


async def sweep(session: AsyncSession, now: datetime, *, templates: Templates | None = None) -> int:
    """Periodic catch-up: every redeemed referral whose friend has a paid invoice (e.g. paid
    by the billing cycle's bulk charge, which does not go through `settle`), and converted
    ones left unrewarded. Returns how many were rewarded."""
    paid = exists().where(
        Invoice.gym_id == Referral.gym_id,
        Invoice.member_id == Referral.referred_id,
        Invoice.status == "paid",
        Invoice.total_cents > Invoice.credit_applied_cents,
    )  # how recent the payment must be is checked per referral (portable date arithmetic)
    ids = (
        await session.scalars(
            select(Referral.id)
            .where(
                ((Referral.status == "redeemed") & paid)
                | (
                    (Referral.status == "converted")
                    & Referral.review_status.in_(("none", "approved"))
                )
            )
            .order_by(Referral.id)
            .limit(SWEEP_BATCH)
        )
    ).all()
    rewarded = 0
    for referral_id in ids:
        if await process_referral(session, referral_id, now, templates=templates) == "rewarded":
            rewarded += 1
    return rewarded


# --- staff review ----------------------------------------------------------------------------


async def approve(
    session: AsyncSession,
    referral: Referral,
    *,
    actor: str,
    now: datetime,
    templates: Templates | None = None,
) -> Referral:
    """Staff clear a held referral: held rewards are granted (now, or at conversion)."""
    if referral.review_status != "pending":
        raise Conflict(
            "Ese referido no está en revisión.", "That referral is not waiting for review."
        )
    referral.review_status, referral.reviewed_by, referral.updated_at = "approved", actor, now
    await audit(session, referral.gym_id, actor, "referral.approved", "referral", referral.id, {})
    if referral.status == "redeemed":
        held = await session.scalar(
            select(ReferralReward).where(
                ReferralReward.referral_id == referral.id,
                ReferralReward.side == "referred",
                ReferralReward.status == "pending_review",
            )
        )
        if held is not None:
            await grant_welcome_credit(session, held, actor=actor, now=now)
    await session.flush()
    await process_referral(session, referral.id, now, templates=templates, actor=actor)
    return referral


async def reject(
    session: AsyncSession, referral: Referral, *, reason: str, actor: str, now: datetime
) -> Referral:
    """Staff turn a referral down: nothing more is granted and the friend's unused welcome
    credit is taken back."""
    if referral.status in ("rewarded", "expired", "rejected"):
        raise Conflict(
            f"Ese referido ya está cerrado ({referral.status}).",
            f"That referral is already closed ({referral.status}).",
        )
    referral.review_status, referral.reviewed_by = "rejected", actor
    await _close(session, referral, "rejected", now, actor, reason=reason)
    return referral


async def _close(
    session: AsyncSession,
    referral: Referral,
    status: str,
    now: datetime,
    actor: str,
    *,
    reason: str | None = None,
) -> None:
    referral.status, referral.closed_at, referral.updated_at = status, now, now
    referral.reject_reason = reason[:200] if reason else None
    rewards = (
        await session.scalars(
            select(ReferralReward).where(ReferralReward.referral_id == referral.id)
        )
    ).all()
    for reward in rewards:
        if reward.status == "pending_review":
            reward.status = "rejected"
        elif reward.status == "granted":
            await _take_back(session, reward, now, actor)
    # The friend never converted: the code's use goes back (a one-use code can be shared
    # again).
    await session.execute(
        update(ReferralCode)
        .where(ReferralCode.id == referral.code_id, ReferralCode.uses > 0)
        .values(uses=ReferralCode.uses - 1)
        .execution_options(synchronize_session=False)
    )
    await audit(
        session,
        referral.gym_id,
        actor,
        f"referral.{status}",
        "referral",
        referral.id,
        {"reason": reason} if reason else {},
    )


async def _take_back(
    session: AsyncSession, reward: ReferralReward, now: datetime, actor: str
) -> None:
    """Undo what a granted reward still holds: the unused part of its credit (what was
    spent stays spent) or the rest of its feature grant. Free days already added to a
    membership stay: the period may have been paid on since (staff are told)."""
    if reward.kind == "free_days":
        return
    if reward.kind == "feature":
        grant = (
            await session.get(FeatureGrant, reward.feature_grant_id)
            if reward.feature_grant_id
            else None
        )
        if grant is not None and grant.ends_at > now:
            grant.ends_at = max(now, grant.starts_at)
    else:
        balance = await credits.balance(session, reward.gym_id, reward.member_id)
        left = min(reward.amount_cents, balance)
        key = f"referral:{reward.referral_id}:{reward.side}:reversal"
        done = await session.scalar(
            select(CreditEntry.id).where(CreditEntry.idempotency_key == key)
        )
        if left > 0 and done is None:
            session.add(
                CreditEntry(
                    gym_id=reward.gym_id,
                    member_id=reward.member_id,
                    amount_cents=-left,
                    reason="reversal",
                    note=f"referido #{reward.referral_id} cerrado",
                    idempotency_key=key,
                    created_by=actor,
                    created_at=now,
                )
            )
    reward.status = "reversed"
    await session.flush()


async def reverse_unpaid(
    session: AsyncSession, invoice_ids: Sequence[int], *, why: str, actor: str, now: datetime
) -> int:
    """The invoices are no longer paid (refunded in full or charged back). A referral that
    one of them converted did not convert after all: it is rejected with `why`, rewards
    still under review are dropped, granted ones are taken back as far as they can be
    (`_take_back`), and staff are alerted. Returns how many referrals were reversed."""
    if not invoice_ids:
        return 0
    query = select(Referral).where(
        Referral.invoice_id.in_(invoice_ids), Referral.status.in_(("converted", "rewarded"))
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    referrals = (await session.scalars(query.order_by(Referral.id))).all()
    for referral in referrals:
        kept = await session.scalar(
            select(ReferralReward.kind).where(
                ReferralReward.referral_id == referral.id,
                ReferralReward.status == "granted",
                ReferralReward.kind == "free_days",
            )
        )
        await _close(session, referral, "rejected", now, actor, reason=why)
        await raise_alert(
            session,
            gym_id=referral.gym_id,
            kind="referral_reversed",
            subject=f"referral:{referral.id}",
            message=f"Referido #{referral.id} revertido: su primer pago fue "
            f"{_WHY_ES.get(why, why)}."
            + (" Los días gratis que ya se dieron se quedan; revísalo." if kept else ""),
            now=now,
            invoice_id=referral.invoice_id,
            data={"referral_id": referral.id, "why": why},
        )
    return len(referrals)


_WHY_ES = {"refunded": "reembolsado", "charged_back": "contracargado"}


# --- expiry ----------------------------------------------------------------------------------


async def expire(session: AsyncSession, now: datetime) -> dict[str, int]:
    """Codes past their validity and redeemed referrals that did not convert in time."""
    codes = await session.execute(
        update(ReferralCode)
        .where(
            ReferralCode.status == "issued",
            ReferralCode.expires_at.is_not(None),
            ReferralCode.expires_at <= now,
        )
        .values(status="expired")
        .execution_options(synchronize_session=False)
    )
    query = (
        select(Referral)
        .where(
            Referral.status == "redeemed",
            Referral.expires_at.is_not(None),
            Referral.expires_at <= now,
        )
        .order_by(Referral.id)
        .limit(SWEEP_BATCH)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    expired = 0
    for referral in (await session.scalars(query)).all():
        # A payment that landed just before the deadline converts instead of expiring.
        if await first_paid_invoice(session, referral) is not None:
            continue
        await _close(session, referral, "expired", now, "system")
        expired += 1
    await session.flush()
    return {"codes": int(codes.rowcount or 0), "referrals": expired}  # type: ignore[attr-defined]
