"""Referral programs: create, change, find the one the chat offers, and price the friend's
offer against a plan."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.billing.models import Plan
from backend.errors import InvalidInput, NotFound
from backend.members.service import audit
from backend.referrals.models import DEFAULT_TIERS, ReferralProgram

_INVALID = ("El programa de referidos no es válido: {}.", "The referral program is invalid: {}.")


def _invalid(es: str, en: str) -> InvalidInput:
    return InvalidInput(_INVALID[0].format(es), _INVALID[1].format(en))


def validate(program: ReferralProgram) -> None:
    """Rules that span fields (single fields are checked by the API schema)."""
    if program.referrer_value <= 0:
        raise _invalid("el premio debe ser mayor a cero", "the reward must be above zero")
    if program.referrer_reward == "percent_off" and program.referrer_value > 100:
        raise _invalid("el porcentaje va de 1 a 100", "the percentage goes from 1 to 100")
    if program.referrer_reward == "feature" and not program.referrer_feature:
        raise _invalid("falta la función premium", "the premium feature is missing")
    if program.referred_reward == "first_month_discount" and not 0 < program.referred_value <= 100:
        raise _invalid("el descuento va de 1 a 100%", "the discount goes from 1 to 100%")
    if program.referred_reward == "credit" and program.referred_value <= 0:
        raise _invalid("el descuento debe ser mayor a cero", "the discount must be above zero")
    if program.starts_at and program.ends_at and program.ends_at <= program.starts_at:
        raise _invalid("termina antes de empezar", "it ends before it starts")
    levels = [t["min_conversions"] for t in program.tiers]
    if levels != sorted(set(levels)):
        raise _invalid(
            "los niveles van en orden y sin repetirse", "tiers go in order, without repeats"
        )


async def _check_plan(session: AsyncSession, gym_id: int, plan_id: int | None) -> None:
    if plan_id is None:
        return
    plan = await session.get(Plan, plan_id)
    if plan is None or plan.gym_id != gym_id:
        raise NotFound("Ese plan no existe.", "That plan does not exist.", {"plan_id": plan_id})


async def create_program(
    session: AsyncSession, gym_id: int, values: dict[str, Any], *, actor: str, now: datetime
) -> ReferralProgram:
    values = dict(values)
    if values.get("tiers") is None:
        values["tiers"] = [dict(t) for t in DEFAULT_TIERS]
    program = ReferralProgram(gym_id=gym_id, created_at=now, updated_at=now, **values)
    validate(program)
    await _check_plan(session, gym_id, program.referred_plan_id)
    session.add(program)
    await session.flush()
    await audit(
        session, gym_id, actor, "referral_program.created", "referral_program", program.id, {}
    )
    return program


async def get_program(session: AsyncSession, gym_id: int, program_id: int) -> ReferralProgram:
    program = await session.get(ReferralProgram, program_id)
    if program is None or program.gym_id != gym_id:
        raise NotFound("Ese programa no existe.", "That referral program does not exist.")
    return program


async def update_program(
    session: AsyncSession,
    program: ReferralProgram,
    changes: dict[str, Any],
    *,
    actor: str,
    now: datetime,
) -> ReferralProgram:
    """Changes apply to rewards granted from now on; rewards already given stay."""
    for key, value in changes.items():
        setattr(program, key, value)
    validate(program)
    await _check_plan(session, program.gym_id, program.referred_plan_id)
    program.updated_at = now
    await session.flush()
    await audit(
        session,
        program.gym_id,
        actor,
        "referral_program.updated",
        "referral_program",
        program.id,
        {"fields": sorted(changes)},
    )
    return program


async def list_programs(session: AsyncSession, gym_id: int) -> Sequence[ReferralProgram]:
    rows = await session.scalars(
        select(ReferralProgram).where(ReferralProgram.gym_id == gym_id).order_by(ReferralProgram.id)
    )
    return rows.all()


def is_live(program: ReferralProgram, now: datetime) -> bool:
    return (
        program.active
        and (program.starts_at is None or program.starts_at <= now)
        and (program.ends_at is None or now < program.ends_at)
    )


async def live_programs(
    session: AsyncSession, gym_id: int, now: datetime
) -> Sequence[ReferralProgram]:
    """Programs running now, the one the chat offers first."""
    rows = await session.scalars(
        select(ReferralProgram)
        .where(
            ReferralProgram.gym_id == gym_id,
            ReferralProgram.active.is_(True),
            or_(ReferralProgram.starts_at.is_(None), ReferralProgram.starts_at <= now),
            or_(ReferralProgram.ends_at.is_(None), ReferralProgram.ends_at > now),
        )
        .order_by(ReferralProgram.priority.desc(), ReferralProgram.id.desc())
    )
    return rows.all()


async def reference_plan(
    session: AsyncSession, program: ReferralProgram, now: datetime
) -> Plan | None:
    """The plan the friend's offer is priced on: the program's, else the cheapest public
    monthly membership (what most friends sign up for)."""
    if program.referred_plan_id is not None:
        return await session.get(Plan, program.referred_plan_id)
    plans = (
        await session.scalars(
            select(Plan).where(
                Plan.gym_id == program.gym_id,
                Plan.public.is_(True),
                Plan.active.is_(True),
                Plan.kind == "membership",
                Plan.price_cents > 0,
            )
        )
    ).all()
    if not plans:
        return None
    monthly = [p for p in plans if p.interval == "month" and p.interval_count == 1] or list(plans)
    return min(monthly, key=lambda p: (p.price_at(now), p.id))


async def offer_amount(session: AsyncSession, program: ReferralProgram, now: datetime) -> int:
    """Centavos of balance credit the friend gets on redemption (applied to their first
    invoice before any charge)."""
    kind = program.referred_reward
    if kind == "credit":
        return program.referred_value
    if kind == "none":
        return 0
    plan = await reference_plan(session, program, now)
    if plan is None:
        return 0
    if kind == "first_month_discount":
        return plan.price_at(now) * program.referred_value // 100
    # waived_enrollment: the fee of the reference plan, else the highest public one.
    if plan.enrollment_fee_cents:
        return plan.enrollment_fee_cents
    fee = await session.scalar(
        select(Plan.enrollment_fee_cents)
        .where(Plan.gym_id == program.gym_id, Plan.public.is_(True), Plan.active.is_(True))
        .order_by(Plan.enrollment_fee_cents.desc())
        .limit(1)
    )
    return int(fee or 0)


def tier_for(program: ReferralProgram, conversions: int) -> dict[str, Any] | None:
    """The ambassador level reached with `conversions` converted friends (None below the
    first)."""
    reached = [t for t in program.tiers if conversions >= int(t["min_conversions"])]
    return reached[-1] if reached else None
