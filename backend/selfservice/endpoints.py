"""`/api/v1/selfservice`: the settings the chat answers from — holiday hours, amenities,
retention offers per cancellation reason, the privacy notice link, the handoff promise."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Query, status
from sqlalchemy.ext.asyncio import AsyncSession

from backend.api import Page, PageParams, get_session, page_params, paginate
from backend.auth.dependencies import Principal, require
from backend.selfservice import service
from backend.selfservice.models import GymHoliday
from backend.selfservice.schemas import (
    HolidayIn,
    HolidayOut,
    SelfServiceSettingsIn,
    SelfServiceSettingsOut,
)
from backend.types import utcnow

router = APIRouter(prefix="/selfservice", tags=["selfservice"])


def _settings_out(s: service.GymServiceSettings) -> SelfServiceSettingsOut:
    return SelfServiceSettingsOut(
        amenities=s.amenities,
        retention_offers=s.retention_offers,
        privacy_notice_url=s.privacy_notice_url,
        handoff_reply_minutes=s.handoff_reply_minutes,
    )


@router.get("/settings")
async def get_settings(
    principal: Principal = Depends(require("settings:read")),
    session: AsyncSession = Depends(get_session),
) -> SelfServiceSettingsOut:
    return _settings_out(await service.settings_of(session, principal.gym_id))


@router.put("/settings")
async def put_settings(
    body: SelfServiceSettingsIn,
    principal: Principal = Depends(require("settings:write")),
    session: AsyncSession = Depends(get_session),
) -> SelfServiceSettingsOut:
    """Replace the gym's self-service settings (an empty `retention_offers` offers nothing)."""
    saved = await service.save_settings(
        session,
        principal.gym_id,
        principal.actor(),
        amenities=body.amenities,
        retention_offers=body.retention_offers,
        privacy_notice_url=str(body.privacy_notice_url) if body.privacy_notice_url else None,
        handoff_reply_minutes=body.handoff_reply_minutes,
        now=utcnow(),
    )
    return _settings_out(saved)


@router.get("/holidays")
async def list_holidays(
    start: date | None = Query(None, alias="from"),
    end: date | None = Query(None, alias="to"),
    page: PageParams = Depends(page_params),
    principal: Principal = Depends(require("settings:read")),
    session: AsyncSession = Depends(get_session),
) -> Page[HolidayOut]:
    stmt = service.holidays_query(principal.gym_id, start, end)
    rows, cursor = await paginate(
        session, stmt, page, (GymHoliday.day, GymHoliday.id), descending=False
    )
    return Page(items=[HolidayOut.model_validate(h) for h in rows], next_cursor=cursor)


@router.post("/holidays", status_code=status.HTTP_201_CREATED)
async def put_holiday(
    body: HolidayIn,
    principal: Principal = Depends(require("settings:write")),
    session: AsyncSession = Depends(get_session),
) -> HolidayOut:
    """Closed or special hours on one day, for one location or all (replaces that day's)."""
    row = await service.add_holiday(
        session,
        principal.gym_id,
        principal.actor(),
        day=body.day,
        name=body.name,
        location_id=body.location_id,
        closed=body.closed,
        opens=body.opens,
        closes=body.closes,
    )
    return HolidayOut.model_validate(row)


@router.delete("/holidays/{holiday_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_holiday(
    holiday_id: int,
    principal: Principal = Depends(require("settings:write")),
    session: AsyncSession = Depends(get_session),
) -> None:
    await service.remove_holiday(session, principal.gym_id, principal.actor(), holiday_id)
