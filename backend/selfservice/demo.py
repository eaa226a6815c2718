"""The demo gym's self-service settings: holiday hours, amenities, retention offers and the
privacy notice link, so `make demo` shows them in the chat."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.gyms.models import Location
from backend.selfservice.models import GymHoliday, SelfServiceSettings

# (month, day, name, closed, opens, closes, location slug or None for every location)
DEMO_HOLIDAYS = (
    (1, 1, "Año Nuevo", True, None, None, None),
    (9, 16, "Día de la Independencia", True, None, None, None),
    (11, 2, "Día de Muertos", False, "08:00", "14:00", None),
    (12, 12, "Día de la Virgen de Guadalupe", False, "07:00", "15:00", "norte"),
    (12, 24, "Nochebuena", False, "06:00", "16:00", None),
    (12, 25, "Navidad", True, None, None, None),
    (12, 31, "Fin de año", False, "06:00", "16:00", None),
)


async def seed_demo_selfservice(session: AsyncSession, gym_id: int, now: datetime) -> None:
    """This year's and next year's holidays still ahead, amenities and retention offers."""
    locations = {
        loc.slug: loc.id
        for loc in (await session.scalars(select(Location).where(Location.gym_id == gym_id))).all()
    }
    today = now.astimezone(ZoneInfo("America/Mexico_City")).date()
    for year in (today.year, today.year + 1):
        for month, day, name, closed, opens, closes, slug in DEMO_HOLIDAYS:
            when = date(year, month, day)
            if when < today:
                continue
            session.add(
                GymHoliday(
                    gym_id=gym_id,
                    location_id=locations.get(slug) if slug else None,
                    day=when,
                    name=name,
                    closed=closed,
                    opens=opens,
                    closes=closes,
                    created_at=now,
                )
            )
    session.add(
        SelfServiceSettings(
            gym_id=gym_id,
            amenities={
                "all": ["Regaderas", "Lockers", "Wifi", "Toallas"],
                str(locations["centro"]): ["Vapor"],
                str(locations["norte"]): ["Estacionamiento", "Alberca"],
            },
            retention_offers={
                "price": {"kind": "downgrade"},
                "travel": {"kind": "freeze"},
                "time": {"kind": "discount", "percent": 20, "months": 2},
                "health": {"kind": "freeze"},
            },
            privacy_notice_url="https://gogym.example/aviso-de-privacidad",
            handoff_reply_minutes=30,
            updated_at=now,
        )
    )
    await session.flush()
