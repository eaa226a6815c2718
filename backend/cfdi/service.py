"""What the chat and the API ask of CFDI: a member's request, listing, resending."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.cfdi.globals import global_of_payment
from backend.cfdi.issuing import eligible_payment_ids, month_start
from backend.cfdi.models import CfdiDocument
from backend.cfdi.profile import get_profile
from backend.cfdi.stamping import send_to_member
from backend.errors import Conflict, NotFound
from backend.gyms.models import Gym
from backend.jobs import enqueue_after_commit
from backend.members.models import Member
from backend.payments.models import Payment
from backend.settings import Settings

ISSUE_JOB = "issue_cfdi_for_payment"


@dataclass
class RequestOutcome:
    """What happened to a member's "necesito factura"."""

    gym_ready: bool = True
    queued: list[Payment] = field(default_factory=list)  # will be stamped and sent
    in_progress: list[CfdiDocument] = field(default_factory=list)
    resent: list[CfdiDocument] = field(default_factory=list)
    # Tickets already in a stamped factura global: refused, with the global to say why.
    in_global: list[tuple[Payment, CfdiDocument]] = field(default_factory=list)


async def nominative_request(
    session: AsyncSession, settings: Settings, gym: Gym, member: Member, now: datetime
) -> RequestOutcome:
    """Honor a member's request for the payments of this month (and any since they gave
    their fiscal data): new CFDIs are queued, stamped ones sent again, and tickets already
    in a stamped factura global refused with the reason."""
    profile = await get_profile(session, gym.id)
    if profile is None or not profile.csd_certificate:
        return RequestOutcome(gym_ready=False)
    outcome = RequestOutcome()
    for payment_id in await eligible_payment_ids(session, now, gym=gym, member_id=member.id):
        payment = await session.get(Payment, payment_id)
        assert payment is not None
        outcome.queued.append(payment)
        enqueue_after_commit(session, ISSUE_JOB, payment_id, job_id=f"cfdi:issue:{payment_id}")
    this_month = month_start(gym, now)
    # Last month too: its tickets may sit in the factura global issued when it closed.
    since = (this_month - timedelta(days=1)).replace(day=1)
    payments = (
        await session.scalars(
            select(Payment).where(
                Payment.gym_id == gym.id,
                Payment.member_id == member.id,
                Payment.status == "approved",
                Payment.applied_at >= since,
            )
        )
    ).all()
    for payment in payments:
        if any(p.id == payment.id for p in outcome.queued):
            continue
        own = await session.scalar(
            select(CfdiDocument).where(
                CfdiDocument.payment_id == payment.id, CfdiDocument.kind == "I"
            )
        )
        if own is not None and payment.applied_at is not None:
            if payment.applied_at < this_month:
                continue
            if own.status == "stamped":
                await send_to_member(session, settings, own, now)
                outcome.resent.append(own)
            elif own.status == "pending":
                outcome.in_progress.append(own)
            continue
        general = await global_of_payment(session, payment.id)
        if general is not None and general.status == "stamped":
            outcome.in_global.append((payment, general))
    return outcome


async def get_document(session: AsyncSession, gym_id: int, document_id: int) -> CfdiDocument:
    document = await session.scalar(
        select(CfdiDocument).where(CfdiDocument.id == document_id, CfdiDocument.gym_id == gym_id)
    )
    if document is None:
        raise NotFound("Ese CFDI no existe.", "That CFDI does not exist.")
    return document


async def resend(
    session: AsyncSession, settings: Settings, document: CfdiDocument, now: datetime
) -> CfdiDocument:
    if document.status not in ("stamped", "cancel_pending") or document.member_id is None:
        raise Conflict(
            "Solo se reenvía un CFDI timbrado de un socio.",
            "Only a member's stamped CFDI can be re-sent.",
        )
    await send_to_member(session, settings, document, now)
    return document
