"""Subscription use cases: start, cancel, upgrade, downgrade, pause, resume."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.billing import credits
from backend.billing.invoices import InvoiceDraft, LineDraft, issue_invoice
from backend.billing.models import (
    ACCESS_STATUSES,
    Invoice,
    Plan,
    Subscription,
    SubscriptionAddon,
    SubscriptionSeat,
)
from backend.billing.periods import days_between, period_end
from backend.billing.policy import BillingPolicy, policy_of
from backend.billing.tax import prorate
from backend.billing.transitions import InvalidTransition, transition
from backend.errors import Conflict, InvalidInput, NotFound
from backend.gyms.models import Gym
from backend.members.models import Member, MemberEvent
from backend.members.service import audit, record_event

LIVE = ("trialing", "active", "past_due", "suspended", "paused")


@dataclass(frozen=True)
class PlanChange:
    subscription: Subscription
    invoice: Invoice | None  # the prorated charge of an upgrade
    credit_cents: int  # balance credit of an immediate downgrade
    effective_at: datetime


def _tz(gym: Gym) -> ZoneInfo:
    return ZoneInfo(gym.timezone)


def period_lines(plan: Plan, start: datetime, end: datetime, *, first: bool) -> list[LineDraft]:
    lines = [
        LineDraft("plan", f"Membresía {plan.name}", plan.price_at(start), 1, plan.id, start, end)
    ]
    if first and plan.enrollment_fee_cents:
        lines.append(LineDraft("enrollment", "Inscripción", plan.enrollment_fee_cents, 1, plan.id))
    return lines


async def _live_subscription(session: AsyncSession, member_id: int) -> Subscription | None:
    return await session.scalar(
        select(Subscription).where(
            Subscription.member_id == member_id, Subscription.status.in_(LIVE)
        )
    )


async def start(
    session: AsyncSession,
    *,
    gym: Gym,
    member: Member,
    plan: Plan,
    actor: str,
    now: datetime,
    company_id: int | None = None,
) -> tuple[Subscription, Invoice | None]:
    """Sign a member up: a trial when the plan has one, else the first period invoiced."""
    if plan.gym_id != gym.id or member.gym_id != gym.id:
        raise NotFound("No encontrado.", "Not found.")
    if not plan.active or plan.kind != "membership":
        raise InvalidInput("Ese plan no está disponible.", "That plan is not available.")
    if plan.corporate and company_id is None:
        raise InvalidInput(
            "Un plan corporativo necesita la empresa que lo paga.",
            "A corporate plan needs the company that pays for it.",
        )
    existing = await _live_subscription(session, member.id)
    if existing is not None and existing.current_period_end > now:
        raise Conflict(
            "Este socio ya tiene una membresía vigente; cámbiala de plan en su lugar.",
            "This member already has a live subscription; change its plan instead.",
            {"subscription_id": existing.id},
        )
    tz = _tz(gym)
    trial = plan.trial_days > 0
    end = (
        now + timedelta(days=plan.trial_days)
        if trial
        else period_end(now, plan.interval, plan.interval_count, tz)
    )
    sub = Subscription(
        gym_id=gym.id,
        member_id=member.id,
        plan_id=plan.id,
        status="trialing" if trial else "active",
        current_period_start=now,
        current_period_end=end,
        company_id=company_id,
        class_credits_remaining=plan.class_credits,
        created_at=now,
        updated_at=now,
    )
    session.add(sub)
    await session.flush()
    if member.status != "active":
        member.status = "active"
    await record_event(
        session,
        gym.id,
        member.id,
        "subscription_started",
        {"subscription_id": sub.id, "plan": plan.code, "status": sub.status},
        now,
    )
    await audit(
        session,
        gym.id,
        actor,
        "subscription.created",
        "subscription",
        sub.id,
        {"plan": plan.code, "status": sub.status},
    )
    invoice = None
    if not trial:
        invoice = await issue_invoice(
            session,
            gym.id,
            policy_of(gym.billing_settings).series,
            InvoiceDraft(
                member_id=member.id,
                reason="signup",
                due_at=now,
                lines=period_lines(plan, now, end, first=True),
                idempotency_key=f"signup:{sub.id}",
                subscription_id=sub.id,
                company_id=company_id,
                period_start=now,
                period_end=end,
                apply_credit=company_id is None,
            ),
            now,
        )
    return sub, invoice


async def cancel(
    session: AsyncSession,
    sub: Subscription,
    *,
    actor: str,
    now: datetime,
    reason: str,
    at_period_end: bool = True,
) -> Subscription:
    """Cancel at period end (the default: the member keeps what they paid for) or now."""
    if sub.status in ("canceled", "expired"):
        raise InvalidTransition(
            "Esta membresía ya terminó.",
            "This subscription has already ended.",
            {"status": sub.status},
        )
    sub.cancel_reason = reason[:300] or None
    if at_period_end and sub.status != "trialing":
        if not sub.cancel_at_period_end:
            sub.cancel_at_period_end, sub.canceled_at, sub.updated_at = True, now, now
            data = {
                "subscription_id": sub.id,
                "reason": reason,
                "ends_at": sub.current_period_end.isoformat(),
            }
            await record_event(session, sub.gym_id, sub.member_id, "cancel_scheduled", data, now)
            await audit(
                session,
                sub.gym_id,
                actor,
                "subscription.cancel_scheduled",
                "subscription",
                sub.id,
                data,
            )
        return sub
    sub.canceled_at = now
    await transition(session, sub, "canceled", actor=actor, now=now, why=reason)
    return sub


async def keep(session: AsyncSession, sub: Subscription, *, actor: str, now: datetime) -> None:
    """Undo a cancellation scheduled for the period end."""
    if not sub.cancel_at_period_end or sub.status in ("canceled", "expired"):
        raise InvalidTransition(
            "Esta membresía no tiene una cancelación pendiente.",
            "This subscription has no scheduled cancellation.",
        )
    sub.cancel_at_period_end, sub.canceled_at, sub.cancel_reason = False, None, None
    await audit(
        session, sub.gym_id, actor, "subscription.cancel_revoked", "subscription", sub.id, {}
    )


def _remaining(sub: Subscription, now: datetime, tz: ZoneInfo) -> tuple[int, int]:
    whole = days_between(sub.current_period_start, sub.current_period_end, tz)
    left = min(days_between(now, sub.current_period_end, tz), whole)
    return left, whole


@dataclass(frozen=True)
class PlanChangeQuote:
    """What a plan change would do, computed the way `upgrade`/`downgrade` do it."""

    direction: str  # "upgrade" | "downgrade"
    amount_cents: int  # charged now (upgrade)
    credit_cents: int  # balance credit now (downgrade with `immediate_credit`)
    days_left: int
    days_in_period: int
    effective_at: datetime  # when the new plan applies


def quote_change(
    gym: Gym, sub: Subscription, old: Plan, new: Plan, now: datetime
) -> PlanChangeQuote:
    """Price a change from `old` to `new` without changing anything (the chat shows it
    before asking to confirm)."""
    old_price, new_price = old.price_at(now), new.price_at(now)
    left, whole = _remaining(sub, now, _tz(gym))
    trial = sub.status == "trialing"
    if new_price > old_price:
        amount = 0 if trial else prorate(new_price - old_price, left, whole)
        return PlanChangeQuote("upgrade", amount, 0, left, whole, now)
    if policy_of(gym.billing_settings).downgrade == "immediate_credit" and not trial:
        credit = prorate(old_price - new_price, left, whole)
        return PlanChangeQuote("downgrade", 0, credit, left, whole, now)
    return PlanChangeQuote("downgrade", 0, 0, left, whole, sub.current_period_end)


def _credits_after_change(sub: Subscription, old: Plan, new: Plan) -> int | None:
    if new.class_credits is None:
        return None
    if sub.class_credits_remaining is None or old.class_credits is None:
        return new.class_credits
    used = old.class_credits - sub.class_credits_remaining
    return max(new.class_credits - used, 0)


async def _target_plan(session: AsyncSession, sub: Subscription, plan_id: int) -> tuple[Plan, Plan]:
    old = await session.get(Plan, sub.plan_id)
    new = await session.get(Plan, plan_id)
    if new is None or new.gym_id != sub.gym_id:
        raise NotFound("Ese plan no existe.", "That plan does not exist.")
    if not new.active or new.kind != "membership":
        raise InvalidInput("Ese plan no está disponible.", "That plan is not available.")
    if new.id == sub.plan_id:
        raise InvalidInput("Ya tienes ese plan.", "That is already the current plan.")
    if sub.status not in ("trialing", "active", "past_due"):
        raise InvalidTransition(
            "Solo se puede cambiar el plan de una membresía activa.",
            "Only an active subscription can change plans.",
            {"status": sub.status},
        )
    assert old is not None
    return old, new


async def upgrade(
    session: AsyncSession, gym: Gym, sub: Subscription, plan_id: int, *, actor: str, now: datetime
) -> PlanChange:
    """Switch to a pricier plan at once, charging the difference for the days left."""
    old, new = await _target_plan(session, sub, plan_id)
    old_price, new_price = old.price_at(now), new.price_at(now)
    if new_price <= old_price:
        raise InvalidInput(
            "Ese plan no cuesta más que el tuyo: es un cambio a un plan menor.",
            "That plan does not cost more: use a downgrade.",
        )
    invoice = None
    if sub.status != "trialing":
        left, whole = _remaining(sub, now, _tz(gym))
        amount = prorate(new_price - old_price, left, whole)
        if amount > 0:
            invoice = await issue_invoice(
                session,
                gym.id,
                policy_of(gym.billing_settings).series,
                InvoiceDraft(
                    member_id=sub.member_id,
                    reason="upgrade",
                    due_at=now,
                    lines=[
                        LineDraft(
                            "proration",
                            f"Cambio a {new.name} ({left} de {whole} días)",
                            amount,
                            1,
                            new.id,
                            now,
                            sub.current_period_end,
                        )
                    ],
                    idempotency_key=f"upgrade:{sub.id}:{new.id}:{now.isoformat()}",
                    subscription_id=sub.id,
                    company_id=sub.company_id,
                    period_start=now,
                    period_end=sub.current_period_end,
                    apply_credit=sub.company_id is None,
                ),
                now,
            )
    sub.class_credits_remaining = _credits_after_change(sub, old, new)
    sub.plan_id, sub.pending_plan_id, sub.updated_at = new.id, None, now
    data = {
        "subscription_id": sub.id,
        "from": old.code,
        "to": new.code,
        "invoice_id": invoice.id if invoice else None,
    }
    await record_event(session, sub.gym_id, sub.member_id, "plan_upgraded", data, now)
    await audit(session, sub.gym_id, actor, "subscription.upgraded", "subscription", sub.id, data)
    return PlanChange(sub, invoice, 0, now)


async def downgrade(
    session: AsyncSession, gym: Gym, sub: Subscription, plan_id: int, *, actor: str, now: datetime
) -> PlanChange:
    """A cheaper plan from the period end, or at once with the difference as balance credit."""
    old, new = await _target_plan(session, sub, plan_id)
    if new.price_at(now) >= old.price_at(now):
        raise InvalidInput(
            "Ese plan no cuesta menos que el tuyo: es un cambio a un plan mayor.",
            "That plan does not cost less: use an upgrade.",
        )
    policy: BillingPolicy = policy_of(gym.billing_settings)
    data = {"subscription_id": sub.id, "from": old.code, "to": new.code, "mode": policy.downgrade}
    credit = 0
    if policy.downgrade == "immediate_credit" and sub.status != "trialing":
        left, whole = _remaining(sub, now, _tz(gym))
        credit = prorate(old.price_at(now) - new.price_at(now), left, whole)
        sub.class_credits_remaining = _credits_after_change(sub, old, new)
        sub.plan_id, sub.pending_plan_id = new.id, None
        effective = now
        if credit > 0 and sub.company_id is None:
            await credits.grant(
                session,
                gym_id=gym.id,
                member_id=sub.member_id,
                amount_cents=credit,
                reason="downgrade",
                actor=actor,
                now=now,
                note=f"{old.name} → {new.name}",
                idempotency_key=f"downgrade:{sub.id}:{new.id}:{now.isoformat()}",
            )
    else:
        sub.pending_plan_id = new.id
        effective = sub.current_period_end
    sub.updated_at = now
    data["credit_cents"] = credit
    await record_event(session, sub.gym_id, sub.member_id, "plan_downgraded", data, now)
    await audit(session, sub.gym_id, actor, "subscription.downgraded", "subscription", sub.id, data)
    return PlanChange(sub, None, credit, effective)


async def pause(
    session: AsyncSession, gym: Gym, sub: Subscription, days: int, *, actor: str, now: datetime
) -> Subscription:
    """Freeze access and billing for `days`; the period end moves by the days paused."""
    policy = policy_of(gym.billing_settings)
    if not policy.min_pause_days <= days <= policy.max_pause_days:
        raise InvalidInput(
            f"Puedes congelar de {policy.min_pause_days} a {policy.max_pause_days} días.",
            f"A freeze lasts {policy.min_pause_days} to {policy.max_pause_days} days.",
            {"min_days": policy.min_pause_days, "max_days": policy.max_pause_days},
        )
    used = await session.scalar(
        select(func.count())
        .select_from(MemberEvent)
        .where(
            MemberEvent.gym_id == sub.gym_id,
            MemberEvent.member_id == sub.member_id,
            MemberEvent.kind == "subscription_paused",
            MemberEvent.occurred_at >= now - timedelta(days=365),
        )
    )
    if (used or 0) >= policy.pauses_per_year:
        raise Conflict(
            f"Ya usaste tus {policy.pauses_per_year} congelamientos de este año.",
            f"You have used your {policy.pauses_per_year} freezes this year.",
        )
    if sub.status != "active":
        raise InvalidTransition(
            "Solo se puede congelar una membresía activa y al corriente.",
            "Only an active subscription in good standing can be paused.",
            {"status": sub.status},
        )
    sub.paused_at, sub.resume_at = now, now + timedelta(days=days)
    await transition(session, sub, "paused", actor=actor, now=now, data={"days": days})
    return sub


async def resume(
    session: AsyncSession, sub: Subscription, *, actor: str, now: datetime
) -> Subscription:
    """End a freeze: access is back and the period end moves by the days frozen."""
    if sub.status != "paused":
        raise InvalidTransition(
            "Solo se puede reanudar una membresía congelada.",
            "Only a paused subscription can be resumed.",
            {"status": sub.status},
        )
    assert sub.paused_at is not None
    frozen = max(now - sub.paused_at, timedelta(0))
    sub.current_period_end += timedelta(days=frozen.days + (1 if frozen.seconds else 0))
    sub.paused_at, sub.resume_at = None, None
    await transition(session, sub, "active", actor=actor, now=now, why="resumed")
    return sub


def may_enter(status: str) -> bool:
    return status in ACCESS_STATUSES


async def get_subscription(session: AsyncSession, gym_id: int, sub_id: int) -> Subscription:
    sub = await session.scalar(
        select(Subscription).where(Subscription.id == sub_id, Subscription.gym_id == gym_id)
    )
    if sub is None:
        raise NotFound("Esa membresía no existe.", "No such subscription.")
    return sub


async def add_seat(
    session: AsyncSession, sub: Subscription, member: Member, *, actor: str, now: datetime
) -> None:
    """Cover a family member with this family plan (the payer holds the first seat)."""
    plan = await session.get(Plan, sub.plan_id)
    assert plan is not None
    if member.gym_id != sub.gym_id:
        raise NotFound("No existe ese socio.", "No such member.")
    if member.id == sub.member_id:
        raise InvalidInput("El titular ya está cubierto.", "The holder is already covered.")
    seated = list(
        (
            await session.scalars(
                select(SubscriptionSeat.member_id).where(SubscriptionSeat.subscription_id == sub.id)
            )
        ).all()
    )
    if member.id in seated:
        return
    if len(seated) + 1 >= plan.seats:
        raise Conflict(
            f"El plan {plan.name} cubre {plan.seats} persona(s) y ya están todas.",
            f"Plan {plan.name} covers {plan.seats} people and all seats are taken.",
            {"seats": plan.seats},
        )
    session.add(
        SubscriptionSeat(
            subscription_id=sub.id, member_id=member.id, gym_id=sub.gym_id, added_at=now
        )
    )
    await session.flush()
    await audit(
        session,
        sub.gym_id,
        actor,
        "subscription.seat_added",
        "subscription",
        sub.id,
        {"member_id": member.id},
    )


async def remove_seat(
    session: AsyncSession, sub: Subscription, member_id: int, *, actor: str
) -> None:
    seat = await session.get(SubscriptionSeat, (sub.id, member_id))
    if seat is None:
        raise NotFound("Ese socio no está en esta membresía.", "That member holds no seat here.")
    await session.delete(seat)
    await audit(
        session,
        sub.gym_id,
        actor,
        "subscription.seat_removed",
        "subscription",
        sub.id,
        {"member_id": member_id},
    )


async def set_addons(
    session: AsyncSession, sub: Subscription, plan_ids: list[int], *, actor: str, now: datetime
) -> None:
    addons = (
        await session.scalars(select(Plan).where(Plan.gym_id == sub.gym_id, Plan.id.in_(plan_ids)))
    ).all()
    if {a.id for a in addons} != set(plan_ids) or any(a.kind != "addon" for a in addons):
        raise InvalidInput(
            "Algún complemento no existe o no es un complemento.",
            "Some add-on does not exist or is not an add-on.",
        )
    await session.execute(
        delete(SubscriptionAddon).where(SubscriptionAddon.subscription_id == sub.id)
    )
    for addon in addons:
        session.add(
            SubscriptionAddon(
                subscription_id=sub.id, plan_id=addon.id, gym_id=sub.gym_id, added_at=now
            )
        )
    await session.flush()
    await audit(
        session,
        sub.gym_id,
        actor,
        "subscription.addons_set",
        "subscription",
        sub.id,
        {"addon_plan_ids": sorted(plan_ids)},
    )
