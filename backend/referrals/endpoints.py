"""`/api/v1/referrals`, `/api/v1/gyms/{id}/referral-programs`, `/api/v1/referral-programs`:
programs, members' codes, redemption at the front desk, the fraud review queue and
analytics. Everything is scoped to the caller's gym (another gym's ids answer 404)."""

from __future__ import annotations

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Response, status
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.api import Page, PageParams, get_session, page_params, paginate
from backend.auth.dependencies import Principal, require
from backend.errors import Conflict, InvalidInput, NotFound
from backend.gyms.models import Gym
from backend.members.models import Member
from backend.referrals import analytics, programs, rewards, service
from backend.referrals.models import Referral, ReferralCode, ReferralReward
from backend.referrals.schemas import (
    AnalyticsOut,
    CodeIssue,
    CodeOut,
    CodeStatus,
    FiguresOut,
    MonthOut,
    ProgramCreate,
    ProgramOut,
    ProgramUpdate,
    Redeem,
    ReferralOut,
    ReferralStatus,
    RejectBody,
    ReviewStatus,
    RewardOut,
    ShareOut,
)
from backend.types import utcnow

router = APIRouter(tags=["referrals"])

MAX_MONTHS = 24


async def _gym(session: AsyncSession, principal: Principal) -> Gym:
    gym = await session.get(Gym, principal.gym_id)
    if gym is None:
        raise NotFound("Gimnasio no encontrado.", "Gym not found.")
    return gym


async def _member(session: AsyncSession, principal: Principal, member_id: int) -> Member:
    member = await session.get(Member, member_id)
    if member is None or member.gym_id != principal.gym_id:
        raise NotFound("Ese socio no existe.", "That member does not exist.")
    return member


def _same_gym(principal: Principal, gym_id: int) -> None:
    if gym_id != principal.gym_id:
        raise NotFound("Gimnasio no encontrado.", "Gym not found.")


def _program_values(body: ProgramCreate | ProgramUpdate, *, partial: bool) -> dict[str, Any]:
    values = body.model_dump(exclude_unset=partial)
    if values.get("tiers") is not None:
        values["tiers"] = [
            {k: v for k, v in tier.items() if v is not None} for tier in values["tiers"]
        ]
    elif "tiers" in values and partial:
        values["tiers"] = []
    return values


# --- programs --------------------------------------------------------------------------------


@router.post("/gyms/{gym_id}/referral-programs", status_code=status.HTTP_201_CREATED)
async def create_program(
    gym_id: int,
    body: ProgramCreate,
    principal: Principal = Depends(require("referrals:write")),
    session: AsyncSession = Depends(get_session),
) -> ProgramOut:
    _same_gym(principal, gym_id)
    program = await programs.create_program(
        session,
        gym_id,
        _program_values(body, partial=False),
        actor=principal.actor(),
        now=utcnow(),
    )
    return ProgramOut.model_validate(program)


@router.get("/gyms/{gym_id}/referral-programs")
async def list_programs(
    gym_id: int,
    principal: Principal = Depends(require("referrals:read")),
    session: AsyncSession = Depends(get_session),
) -> list[ProgramOut]:
    _same_gym(principal, gym_id)
    return [ProgramOut.model_validate(p) for p in await programs.list_programs(session, gym_id)]


@router.get("/referral-programs/{program_id}")
async def get_program(
    program_id: int,
    principal: Principal = Depends(require("referrals:read")),
    session: AsyncSession = Depends(get_session),
) -> ProgramOut:
    return ProgramOut.model_validate(
        await programs.get_program(session, principal.gym_id, program_id)
    )


@router.patch("/referral-programs/{program_id}")
async def update_program(
    program_id: int,
    body: ProgramUpdate,
    principal: Principal = Depends(require("referrals:write")),
    session: AsyncSession = Depends(get_session),
) -> ProgramOut:
    program = await programs.get_program(session, principal.gym_id, program_id)
    changes = _program_values(body, partial=True)
    for required in ("referrer_reward", "referrer_value", "referred_reward", "referred_value"):
        if required in changes and changes[required] is None:
            raise InvalidInput(
                f"El campo {required} no puede ser nulo.", f"{required} cannot be null."
            )
    program = await programs.update_program(
        session, program, changes, actor=principal.actor(), now=utcnow()
    )
    return ProgramOut.model_validate(program)


# --- codes -----------------------------------------------------------------------------------


@router.post("/referrals", status_code=status.HTTP_201_CREATED)
async def issue_code(
    body: CodeIssue,
    principal: Principal = Depends(require("referrals:write")),
    session: AsyncSession = Depends(get_session),
) -> ShareOut:
    """Issue (or return) a member's personal code with its share text and wa.me link."""
    gym = await _gym(session, principal)
    member = await _member(session, principal, body.member_id)
    now = utcnow()
    program = (
        await programs.get_program(session, gym.id, body.program_id)
        if body.program_id is not None
        else None
    )
    code = await service.issue_code(
        session, gym, member, now, program=program, actor=principal.actor()
    )
    kit = await service.share_kit(session, gym, member, code, member.locale, now)
    return ShareOut(
        **CodeOut.model_validate(code).model_dump(),
        offer=kit.offer,
        reward=kit.reward,
        share_text=kit.share_text,
        link=kit.link,
    )


@router.get("/referrals/codes")
async def list_codes(
    member_id: int | None = Query(None, alias="memberId"),
    program_id: int | None = Query(None, alias="programId"),
    status_filter: CodeStatus | None = Query(None, alias="status"),
    params: PageParams = Depends(page_params),
    principal: Principal = Depends(require("referrals:read")),
    session: AsyncSession = Depends(get_session),
) -> Page[CodeOut]:
    stmt = select(ReferralCode).where(ReferralCode.gym_id == principal.gym_id)
    if member_id is not None:
        stmt = stmt.where(ReferralCode.member_id == member_id)
    if program_id is not None:
        stmt = stmt.where(ReferralCode.program_id == program_id)
    if status_filter is not None:
        stmt = stmt.where(ReferralCode.status == status_filter)
    rows, cursor = await paginate(session, stmt, params, (ReferralCode.id,))
    return Page(items=[CodeOut.model_validate(r) for r in rows], next_cursor=cursor)


# --- referrals -------------------------------------------------------------------------------


async def _referral_out(session: AsyncSession, referral: Referral) -> ReferralOut:
    code = await session.get(ReferralCode, referral.code_id)
    rewards_ = (
        await session.scalars(
            select(ReferralReward)
            .where(ReferralReward.referral_id == referral.id)
            .order_by(ReferralReward.id)
        )
    ).all()
    return ReferralOut(
        id=referral.id,
        program_id=referral.program_id,
        code_id=referral.code_id,
        code=code.code if code else "",
        referrer_id=referral.referrer_id,
        referred_id=referral.referred_id,
        status=referral.status,
        review_status=referral.review_status,
        flags=list(referral.flags or []),
        reject_reason=referral.reject_reason,
        source=referral.source,
        redeemed_at=referral.redeemed_at,
        expires_at=referral.expires_at,
        converted_at=referral.converted_at,
        invoice_id=referral.invoice_id,
        rewarded_at=referral.rewarded_at,
        rewards=[RewardOut.model_validate(r) for r in rewards_],
    )


@router.get("/referrals")
async def list_referrals(
    referrer_id: int | None = Query(None, alias="referrerId"),
    referred_id: int | None = Query(None, alias="referredId"),
    program_id: int | None = Query(None, alias="programId"),
    status_filter: ReferralStatus | None = Query(None, alias="status"),
    review: ReviewStatus | None = Query(
        None, description="`pending` lists the fraud review queue."
    ),
    params: PageParams = Depends(page_params),
    principal: Principal = Depends(require("referrals:read")),
    session: AsyncSession = Depends(get_session),
) -> Page[ReferralOut]:
    stmt = select(Referral).where(Referral.gym_id == principal.gym_id)
    if referrer_id is not None:
        stmt = stmt.where(Referral.referrer_id == referrer_id)
    if referred_id is not None:
        stmt = stmt.where(Referral.referred_id == referred_id)
    if program_id is not None:
        stmt = stmt.where(Referral.program_id == program_id)
    if status_filter is not None:
        stmt = stmt.where(Referral.status == status_filter)
    if review is not None:
        stmt = stmt.where(Referral.review_status == review)
    rows, cursor = await paginate(session, stmt, params, (Referral.id,))
    return Page(items=[await _referral_out(session, r) for r in rows], next_cursor=cursor)


@router.get("/referrals/{referral_id}")
async def get_referral(
    referral_id: int,
    principal: Principal = Depends(require("referrals:read")),
    session: AsyncSession = Depends(get_session),
) -> ReferralOut:
    referral = await service.get_referral(session, principal.gym_id, referral_id)
    return await _referral_out(session, referral)


_REFUSALS: dict[str, tuple[str, str]] = {
    "expired": ("Ese código ya venció.", "That code has expired."),
    "program_ended": ("Esa promoción ya terminó.", "That referral program has ended."),
    "used_up": ("Ese código ya se usó.", "That code has already been used."),
    "own_code": ("No se puede usar el código propio.", "Members cannot redeem their own code."),
    "already_referred": (
        "Esta persona ya usó otro código; cuenta el primero.",
        "This person already redeemed another code; the first one counts.",
    ),
    "already_member": (
        "Los códigos son para personas nuevas; esta persona ya es socia.",
        "Codes are for new people; this person is already a member.",
    ),
    "recent_ex_member": (
        "Esta persona fue socia hace poco; no cuenta como nueva.",
        "This person was a member recently and does not count as new.",
    ),
}


@router.post("/referrals/{code}/redeem", status_code=status.HTTP_201_CREATED)
async def redeem_code(
    code: str,
    body: Redeem,
    response: Response,
    principal: Principal = Depends(require("referrals:write")),
    session: AsyncSession = Depends(get_session),
) -> ReferralOut:
    """Attribute a friend to the code's owner (front desk). Refusals say why (409)."""
    gym = await _gym(session, principal)
    friend = await _member(session, principal, body.member_id)
    result = await service.redeem(
        session, gym, friend, code[:40], utcnow(), source="api", actor=principal.actor()
    )
    if result.outcome == "malformed":
        raise InvalidInput(
            "Ese código no tiene el formato correcto (p. ej. ANA-4821).",
            "That is not a valid code (e.g. ANA-4821).",
            {"code": code[:40]},
        )
    if result.outcome == "unknown":
        raise NotFound("Ese código no existe en este gimnasio.", "No such code at this gym.")
    if result.outcome in _REFUSALS:
        es, en = _REFUSALS[result.outcome]
        details: dict[str, object] = {"reason": result.outcome}
        if result.first is not None:
            details["referral_id"] = result.first.id
        raise Conflict(es, en, details)
    assert result.referral is not None
    if result.outcome == "already_redeemed":
        response.status_code = status.HTTP_200_OK
    return await _referral_out(session, result.referral)


@router.post("/referrals/{referral_id}/approve")
async def approve_referral(
    referral_id: int,
    principal: Principal = Depends(require("referrals:write")),
    session: AsyncSession = Depends(get_session),
) -> ReferralOut:
    """Clear a referral held for review: its held rewards are granted."""
    referral = await service.get_referral(session, principal.gym_id, referral_id)
    await rewards.approve(session, referral, actor=principal.actor(), now=utcnow())
    return await _referral_out(session, referral)


@router.post("/referrals/{referral_id}/reject")
async def reject_referral(
    referral_id: int,
    body: RejectBody,
    principal: Principal = Depends(require("referrals:write")),
    session: AsyncSession = Depends(get_session),
) -> ReferralOut:
    """Turn a referral down: no rewards; the friend's unused welcome credit goes back."""
    referral = await service.get_referral(session, principal.gym_id, referral_id)
    await rewards.reject(
        session, referral, reason=body.reason, actor=principal.actor(), now=utcnow()
    )
    return await _referral_out(session, referral)


def _month(value: str | None, field: str) -> date | None:
    if value is None:
        return None
    try:
        year, month = value.split("-")
        return date(int(year), int(month), 1)
    except ValueError as exc:
        raise InvalidInput(
            "El mes va como AAAA-MM.", "Months are written YYYY-MM.", {"field": field}
        ) from exc


@router.get("/referrals/{program_id}/analytics")
async def program_analytics(
    program_id: int,
    from_month: str | None = Query(None, alias="from", description="YYYY-MM"),
    to_month: str | None = Query(None, alias="to", description="YYYY-MM"),
    principal: Principal = Depends(require("referrals:read")),
    session: AsyncSession = Depends(get_session),
) -> AnalyticsOut:
    """Figures of one referral program per gym-local month (default: the last 6 months)."""
    gym = await _gym(session, principal)
    program = await programs.get_program(session, gym.id, program_id)
    tz = ZoneInfo(gym.timezone)
    today = utcnow().astimezone(tz).date()
    last = _month(to_month, "to") or today.replace(day=1)
    first = (
        _month(from_month, "from")
        or analytics.months_between(date(last.year - 1, last.month, 1), last)[-6]
    )
    months = analytics.months_between(first, last)
    if not months or len(months) > MAX_MONTHS:
        raise InvalidInput(
            f"El rango va de 1 a {MAX_MONTHS} meses, en orden.",
            f"The range must be 1 to {MAX_MONTHS} months, in order.",
        )
    per_month, totals = await analytics.program_analytics(session, program, tz, first, last)
    return AnalyticsOut(
        program_id=program.id,
        program=program.name,
        months=[MonthOut.model_validate(m, from_attributes=True) for m in per_month],
        totals=FiguresOut.model_validate(totals, from_attributes=True),
    )
