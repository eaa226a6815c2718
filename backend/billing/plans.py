"""The gym's catalog of plans and add-ons, as staff manage it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from backend.billing.models import Plan, plan_locations
from backend.billing.schemas import PlanCreate, PlanFields
from backend.errors import Conflict, InvalidInput, NotFound
from backend.gyms.models import Location
from backend.members.service import audit


async def get_plan(session: AsyncSession, gym_id: int, plan_id: int) -> Plan:
    plan = await session.scalar(select(Plan).where(Plan.id == plan_id, Plan.gym_id == gym_id))
    if plan is None:
        raise NotFound("Ese plan no existe.", "No such plan.")
    return plan


async def location_ids(session: AsyncSession, plan_ids: Sequence[int]) -> dict[int, list[int]]:
    rows = await session.execute(
        select(plan_locations.c.plan_id, plan_locations.c.location_id).where(
            plan_locations.c.plan_id.in_(plan_ids)
        )
    )
    found: dict[int, list[int]] = {}
    for plan_id, location_id in rows.tuples():
        found.setdefault(plan_id, []).append(location_id)
    return found


async def _set_locations(session: AsyncSession, plan: Plan, ids: list[int] | None) -> None:
    await session.execute(delete(plan_locations).where(plan_locations.c.plan_id == plan.id))
    plan.all_locations = not ids
    if not ids:
        return
    known = set(
        (
            await session.scalars(
                select(Location.id).where(Location.gym_id == plan.gym_id, Location.id.in_(ids))
            )
        ).all()
    )
    if known != set(ids):
        raise InvalidInput(
            "Alguna sucursal no existe en este gimnasio.",
            "Some location does not exist in this gym.",
            {"unknown_location_ids": sorted(set(ids) - known)},
        )
    await session.execute(
        insert(plan_locations), [{"plan_id": plan.id, "location_id": i} for i in sorted(known)]
    )


def _apply(plan: Plan, fields: dict[str, Any]) -> None:
    for name, value in fields.items():
        if name != "location_ids":
            setattr(plan, name, value)
    if plan.promo_price_cents is not None and plan.promo_price_cents > plan.price_cents:
        raise InvalidInput(
            "El precio promocional no puede ser mayor al precio normal.",
            "A promotional price cannot exceed the list price.",
        )


async def create_plan(session: AsyncSession, gym_id: int, actor: str, body: PlanCreate) -> Plan:
    exists = await session.scalar(
        select(Plan.id).where(Plan.gym_id == gym_id, Plan.code == body.code)
    )
    if exists is not None:
        raise Conflict("Ya hay un plan con ese código.", "A plan with that code already exists.")
    plan = Plan(
        gym_id=gym_id,
        code=body.code,
        kind=body.kind,
        name=body.name,
        price_cents=body.price_cents,
        interval=body.interval,
    )
    _apply(plan, body.model_dump(exclude_unset=True, exclude={"code", "kind"}))
    session.add(plan)
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent create with the same code
        raise Conflict(
            "Ya hay un plan con ese código.", "A plan with that code already exists."
        ) from exc
    await _set_locations(session, plan, body.location_ids)
    await audit(
        session,
        gym_id,
        actor,
        "plan.created",
        "plan",
        plan.id,
        {"code": plan.code, "price_cents": plan.price_cents},
    )
    return plan


async def update_plan(
    session: AsyncSession, gym_id: int, plan_id: int, actor: str, body: PlanFields
) -> Plan:
    plan = await get_plan(session, gym_id, plan_id)
    changes = body.model_dump(exclude_unset=True)
    for required in (
        "name",
        "price_cents",
        "interval",
        "interval_count",
        "seats",
        "enrollment_fee_cents",
        "trial_days",
        "features",
        "public",
        "active",
        "corporate",
        "description",
    ):
        if required in changes and changes[required] is None:
            raise InvalidInput(f"{required} no puede ser null.", f"{required} cannot be null.")
    _apply(plan, changes)
    if "location_ids" in changes:
        await _set_locations(session, plan, changes["location_ids"])
    await session.flush()
    await audit(
        session,
        gym_id,
        actor,
        "plan.updated",
        "plan",
        plan.id,
        {k: v for k, v in changes.items() if not hasattr(v, "isoformat")},
    )
    return plan
