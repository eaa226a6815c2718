"""The demo seed: the scripted members the README promises, idempotence, a working login."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.passwords import verify_password
from backend.billing.models import Invoice, Subscription
from backend.checkins.models import CheckIn
from backend.checkins.service import NoAccess, ensure_may_enter
from backend.gyms.models import Gym, StaffUser
from backend.members.models import Member, MemberEvent
from backend.models import Base
from backend.seed import ANA_PHONE, LUIS_PHONE, OWNER_EMAIL, seed_demo
from backend.types import utcnow

MX = ZoneInfo("America/Mexico_City")
COOLDOWN = timedelta(hours=3)

NOWS = {
    "real-now": None,
    # 21:00 local is already tomorrow in UTC: "today" must be the local day.
    "local-evening": datetime(2031, 3, 4, 3, 0, tzinfo=UTC),
    # 00:30 local: yesterday evening's visits share today's UTC date.
    "local-past-midnight": datetime(2031, 3, 3, 6, 30, tzinfo=UTC),
}


async def _member(session: AsyncSession, phone: str) -> Member:
    member = await session.scalar(select(Member).where(Member.phone == phone))
    assert member is not None, phone
    return member


async def _counts(session: AsyncSession) -> dict[str, int]:
    return {
        name: int(await session.scalar(select(func.count()).select_from(table)) or 0)
        for name, table in Base.metadata.tables.items()
    }


@pytest.mark.parametrize("when", list(NOWS), ids=list(NOWS))
async def test_ana_is_active_and_has_not_checked_in_today(session: AsyncSession, when: str) -> None:
    now = NOWS[when] or utcnow()
    result = await seed_demo(session, members=20, now=now)
    assert result.members == 20

    ana = await _member(session, ANA_PHONE)
    assert (ana.name, ana.status, ana.gym_id) == ("Ana López", "active", result.gym_id)
    assert ana.whatsapp_address == "whatsapp:+5215512345678"
    visits = list(
        await session.scalars(select(CheckIn.checked_in_at).where(CheckIn.member_id == ana.id))
    )
    today = now.astimezone(MX).date()
    assert visits, "Ana has a visit history"
    assert all(v.astimezone(MX).date() < today for v in visits)
    assert max(visits).astimezone(MX).date() == today - timedelta(days=1)
    # …so she may check in right now.
    holding = await ensure_may_enter(session, ana, now, COOLDOWN)
    assert holding.plan.code == "premium" and holding.subscription.status == "active"


async def test_luis_owes_exactly_one_overdue_invoice(session: AsyncSession) -> None:
    now = utcnow()
    await seed_demo(session, members=20, now=now)
    luis = await _member(session, LUIS_PHONE)
    open_invoices = list(
        await session.scalars(
            select(Invoice).where(Invoice.member_id == luis.id, Invoice.status == "open")
        )
    )
    assert len(open_invoices) == 1
    [invoice] = open_invoices
    assert invoice.total_cents == 49900
    assert invoice.due_at < now
    with pytest.raises(NoAccess) as refused:
        await ensure_may_enter(session, luis, now, COOLDOWN)
    assert refused.value.owed_cents == 49900


async def test_second_seed_adds_nothing_and_owner_password_verifies(
    session: AsyncSession,
) -> None:
    first = await seed_demo(session, members=20)
    assert first.owner_email == OWNER_EMAIL and first.owner_password
    owner = await session.scalar(select(StaffUser).where(StaffUser.email == OWNER_EMAIL))
    assert owner is not None and owner.role == "owner" and owner.active
    assert verify_password(first.owner_password, owner.password_hash)
    assert not verify_password(first.owner_password + "x", owner.password_hash)
    assert owner.password_hash.startswith("$argon2id$")
    front_desk = await session.scalar(select(StaffUser).where(StaffUser.role == "staff"))
    assert front_desk is not None
    assert not verify_password(first.owner_password, front_desk.password_hash)

    before = await _counts(session)
    assert before["members"] == 22 and before["check_ins"] > 0 and before["invoices"] > 0
    again = await seed_demo(session, members=20)
    assert again.gym_id == first.gym_id
    assert again.owner_email == OWNER_EMAIL
    assert again.owner_password is None
    assert (again.members, again.check_ins, again.invoices) == (0, 0, 0)
    assert await _counts(session) == before
    await session.refresh(owner)
    assert verify_password(first.owner_password, owner.password_hash)  # not reset


async def test_seeded_history_is_consistent(session: AsyncSession) -> None:
    now = utcnow()
    result = await seed_demo(session, members=20, now=now)
    gym = await session.get(Gym, result.gym_id)
    assert gym is not None and gym.slug == "demo" and gym.whatsapp_number == "+14155238886"

    members = list(await session.scalars(select(Member).where(Member.gym_id == gym.id)))
    assert len(members) == 22
    assert len({m.phone for m in members}) == 22
    assert all(m.phone.startswith("+52") and len(m.phone) == 13 for m in members)

    subs = list(await session.scalars(select(Subscription)))
    assert sorted(s.member_id for s in subs) == sorted(m.id for m in members)

    times = list(await session.scalars(select(CheckIn.checked_in_at)))
    assert len(times) == result.check_ins
    assert all(now - timedelta(days=370) < t <= now for t in times)

    numbers = sorted(await session.scalars(select(Invoice.number)))
    assert len(numbers) == result.invoices
    assert numbers == [f"A-{i:06d}" for i in range(1, len(numbers) + 1)]  # no gaps, no twins

    events = await session.scalar(select(func.count()).select_from(MemberEvent))
    assert events is not None and events >= len(times) + 22  # a visit each, a join each


async def test_events_go_into_monthly_partitions(session: AsyncSession, is_postgres: bool) -> None:
    if not is_postgres:
        pytest.skip("PostgreSQL only")
    # 2031 is past the partitions the migration creates: the seed must add its own.
    await seed_demo(session, members=5, now=NOWS["local-evening"])
    assert await session.scalar(text("SELECT count(*) FROM member_events_default")) == 0
    assert await session.scalar(text("SELECT count(*) FROM member_events_2031_03")) > 0
