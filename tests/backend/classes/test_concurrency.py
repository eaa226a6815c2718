"""Capacity under concurrency: many members race for the last seats in real, separate
transactions (PostgreSQL row lock; SQLite serializes writers)."""

from __future__ import annotations

import asyncio

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.classes.models import ClassBooking
from backend.classes.service import ClassFull, book
from backend.db import transaction
from backend.gyms.models import Gym
from backend.members.models import Member
from backend.types import utcnow
from tests.factories import (
    make_class_session,
    make_class_type,
    make_member,
    make_subscription,
    standard_gym,
)


async def _setup(
    sessionmaker: async_sessionmaker[AsyncSession], capacity: int, members: int, taken: int
) -> tuple[int, int, list[int]]:
    async with transaction(sessionmaker) as session:
        gym, centro, _, premium, _ = await standard_gym(session)
        spinning = await make_class_type(session, gym, capacity=capacity)
        cs = await make_class_session(session, spinning, centro)
        ids = []
        for i in range(members + taken):
            m = await make_member(session, gym, phone=f"+5255{i:08d}", name=f"Socio {i}")
            sub = await make_subscription(session, m, premium)
            sub.class_credits_remaining = 8
            ids.append(m.id)
        return gym.id, cs.id, ids


async def _book(
    sessionmaker: async_sessionmaker[AsyncSession],
    gym_id: int,
    member_id: int,
    session_id: int,
    waitlist: bool,
) -> str:
    try:
        async with transaction(sessionmaker) as session:
            gym = await session.get(Gym, gym_id)
            member = await session.get(Member, member_id)
            assert gym is not None and member is not None
            outcome = await book(
                session,
                gym=gym,
                member=member,
                session_id=session_id,
                now=utcnow(),
                waitlist=waitlist,
            )
            return outcome.booking.status
    except ClassFull:
        return "full"


async def test_thirty_members_race_for_the_last_ten_seats(
    committed_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    gym_id, session_id, ids = await _setup(committed_sessionmaker, 15, 30, 5)
    early, racers = ids[:5], ids[5:]
    for member_id in early:  # five seats already taken: ten left
        assert await _book(committed_sessionmaker, gym_id, member_id, session_id, False) == (
            "booked"
        )

    results = await asyncio.gather(
        *(_book(committed_sessionmaker, gym_id, m, session_id, True) for m in racers)
    )

    assert results.count("booked") == 10 and results.count("waitlisted") == 20
    async with committed_sessionmaker() as session:
        rows = (
            await session.execute(
                select(ClassBooking.status, ClassBooking.waitlist_position, ClassBooking.id)
                .where(ClassBooking.session_id == session_id)
                .order_by(ClassBooking.id)
            )
        ).all()
    assert sum(1 for r in rows if r.status == "booked") == 15
    line = [r.waitlist_position for r in rows if r.status == "waitlisted"]
    # In order: places 1..20, handed out in the order the rows were written.
    assert line == list(range(1, 21))


async def test_racing_for_the_last_seat_without_waitlist(
    committed_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    gym_id, session_id, ids = await _setup(committed_sessionmaker, 1, 12, 0)
    results = await asyncio.gather(
        *(_book(committed_sessionmaker, gym_id, m, session_id, False) for m in ids)
    )
    assert results.count("booked") == 1 and results.count("full") == 11
