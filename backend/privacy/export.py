"""The member's personal data as a file (ARCO access): collected from every table that
holds it, rendered as JSON (machine-readable) and PDF (what WhatsApp can show), and served
by a signed URL that expires."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime, timedelta
from typing import Any

from fpdf import FPDF
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.billing.models import Invoice, Plan, Subscription
from backend.checkins.models import CheckIn
from backend.classes.models import ClassBooking, ClassSession, ClassType
from backend.conversations.models import Message
from backend.errors import NotFound
from backend.gyms.models import Gym, Location
from backend.members.models import Member, MemberEvent
from backend.payments.models import Payment, PaymentMethod
from backend.privacy.models import PrivacyRequest

EXPORT_PATH = "/files/privacy-export"
MAX_ROWS = 1000


# --- signed links -----------------------------------------------------------------------------


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def sign_export(
    secret: str, gym_id: int, member_id: int, request_id: int, expires: datetime
) -> str:
    payload = _b64(
        json.dumps(
            {"g": gym_id, "m": member_id, "r": request_id, "e": int(expires.timestamp())},
            separators=(",", ":"),
        ).encode()
    )
    mac = hmac.new(secret.encode(), f"export:{payload}".encode(), hashlib.sha256).digest()
    return f"{payload}.{_b64(mac[:20])}"


def read_export_token(secret: str, token: str, now: datetime) -> tuple[int, int, int]:
    """(gym_id, member_id, request_id) of a valid, unexpired token; NotFound otherwise
    (an expired or forged link looks like a missing file)."""
    gone = NotFound("Ese enlace no existe o ya venció.", "That link does not exist or expired.")
    try:
        payload, mac = token.split(".", 1)
        expected = hmac.new(secret.encode(), f"export:{payload}".encode(), hashlib.sha256)
        if not hmac.compare_digest(_b64(expected.digest()[:20]), mac):
            raise gone
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        if int(data["e"]) < now.timestamp():
            raise gone
        return int(data["g"]), int(data["m"]), int(data["r"])
    except (ValueError, KeyError, TypeError) as exc:
        raise gone from exc


def export_urls(
    base_url: str, secret: str, request: PrivacyRequest, now: datetime, ttl: timedelta
) -> tuple[str, str]:
    """(pdf_url, json_url) for this access request, valid for `ttl`."""
    token = sign_export(secret, request.gym_id, request.member_id, request.id, now + ttl)
    root = f"{base_url.rstrip('/')}{EXPORT_PATH}/{token}"
    return f"{root}/mis-datos.pdf", f"{root}/mis-datos.json"


# --- the data ---------------------------------------------------------------------------------


def _at(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


async def collect(session: AsyncSession, gym_id: int, member_id: int) -> dict[str, Any]:
    """Everything the gym holds about one member, by category."""
    member = await session.scalar(
        select(Member).where(Member.id == member_id, Member.gym_id == gym_id)
    )
    if member is None:
        raise NotFound("Ese socio no existe.", "No such member.")
    gym = await session.get(Gym, gym_id)
    assert gym is not None
    home = await session.get(Location, member.home_location_id) if member.home_location_id else None
    subs = await session.execute(
        select(Subscription, Plan.name)
        .join(Plan, Plan.id == Subscription.plan_id)
        .where(Subscription.member_id == member.id, Subscription.gym_id == gym_id)
        .order_by(Subscription.id)
    )
    invoices = await session.scalars(
        select(Invoice)
        .where(Invoice.member_id == member.id, Invoice.gym_id == gym_id)
        .order_by(Invoice.issued_at)
        .limit(MAX_ROWS)
    )
    payments = await session.scalars(
        select(Payment)
        .where(Payment.member_id == member.id, Payment.gym_id == gym_id)
        .order_by(Payment.created_at)
        .limit(MAX_ROWS)
    )
    cards = await session.scalars(
        select(PaymentMethod).where(
            PaymentMethod.member_id == member.id,
            PaymentMethod.gym_id == gym_id,
            PaymentMethod.deleted_at.is_(None),
        )
    )
    visits = await session.execute(
        select(CheckIn, Location.name)
        .join(Location, Location.id == CheckIn.location_id)
        .where(CheckIn.member_id == member.id, CheckIn.gym_id == gym_id)
        .order_by(CheckIn.checked_in_at.desc())
        .limit(MAX_ROWS)
    )
    bookings = await session.execute(
        select(ClassBooking.status, ClassSession.starts_at, ClassType.name)
        .join(ClassSession, ClassSession.id == ClassBooking.session_id)
        .join(ClassType, ClassType.id == ClassSession.class_type_id)
        .where(ClassBooking.member_id == member.id, ClassBooking.gym_id == gym_id)
        .order_by(ClassSession.starts_at.desc())
        .limit(MAX_ROWS)
    )
    messages = await session.scalars(
        select(Message)
        .where(Message.member_id == member.id, Message.gym_id == gym_id, Message.body != "")
        .order_by(Message.created_at.desc(), Message.id.desc())
        .limit(MAX_ROWS)
    )
    consents = await session.scalars(
        select(MemberEvent)
        .where(
            MemberEvent.gym_id == gym_id,
            MemberEvent.member_id == member.id,
            MemberEvent.kind == "consent_changed",
        )
        .order_by(MemberEvent.occurred_at)
    )
    requests = await session.scalars(
        select(PrivacyRequest)
        .where(PrivacyRequest.member_id == member.id, PrivacyRequest.gym_id == gym_id)
        .order_by(PrivacyRequest.id)
    )
    return {
        "gym": gym.name,
        "member": {
            "id": member.id,
            "name": member.name,
            "phone": None if member.phone.startswith("deleted-") else member.phone,
            "whatsapp_address": member.whatsapp_address,
            "language": member.locale,
            "status": member.status,
            "home_location": home.name if home else None,
            "member_since": _at(member.created_at),
            "marketing_consent": member.marketing_opt_in,
            "marketing_consent_at": _at(member.marketing_opt_in_at),
            "biometrics_consent": member.biometrics_opt_in,
            "biometrics_consent_at": _at(member.biometrics_opt_in_at),
        },
        "subscriptions": [
            {
                "plan": plan,
                "status": s.status,
                "period_start": _at(s.current_period_start),
                "period_end": _at(s.current_period_end),
                "cancel_at_period_end": s.cancel_at_period_end,
            }
            for s, plan in subs.all()
        ],
        "invoices": [
            {
                "number": i.number,
                "status": i.status,
                "total_cents": i.total_cents,
                "issued_at": _at(i.issued_at),
                "paid_at": _at(i.paid_at),
            }
            for i in invoices.all()
        ],
        "payments": [
            {
                "amount_cents": p.amount_cents,
                "method": p.method,
                "status": p.status,
                "at": _at(p.created_at),
            }
            for p in payments.all()
        ],
        "saved_cards": [{"brand": c.brand, "last4": c.last4} for c in cards.all()],
        "visits": [
            {"at": _at(c.checked_in_at), "location": name, "method": c.method}
            for c, name in visits.all()
        ],
        "class_bookings": [
            {"class": name, "starts_at": _at(starts), "status": status}
            for status, starts, name in bookings.all()
        ],
        "messages": [
            {"direction": m.direction, "body": m.body, "at": _at(m.created_at)}
            for m in messages.all()
        ],
        "consent_history": [
            {
                "consent": e.data.get("consent"),
                "granted": e.data.get("granted"),
                "channel": e.data.get("channel"),
                "at": _at(e.occurred_at),
            }
            for e in consents.all()
        ],
        "privacy_requests": [
            {"kind": r.kind, "status": r.status, "requested_at": _at(r.requested_at)}
            for r in requests.all()
        ],
    }


# --- rendering --------------------------------------------------------------------------------


def as_json(data: dict[str, Any], now: datetime) -> bytes:
    return json.dumps(
        {"generated_at": now.isoformat(), **data}, ensure_ascii=False, indent=2
    ).encode()


def _latin1(text: str) -> str:
    """PDF core fonts are Latin-1: accents and ñ stay, anything else (emoji…) becomes '?'."""
    return text.encode("latin-1", "replace").decode("latin-1")


_TITLES = {
    "member": "Tus datos",
    "subscriptions": "Membresías",
    "invoices": "Facturas y recibos",
    "payments": "Pagos",
    "saved_cards": "Tarjetas guardadas",
    "visits": "Visitas",
    "class_bookings": "Clases",
    "messages": "Mensajes",
    "consent_history": "Consentimientos",
    "privacy_requests": "Solicitudes de privacidad",
}


def as_pdf(data: dict[str, Any], now: datetime) -> bytes:
    pdf = FPDF(format="Letter")
    pdf.set_title("Mis datos personales")
    pdf.set_creator("GoGym")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 15)
    pdf.cell(0, 9, _latin1(f"{data['gym']}: tus datos personales"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 9)
    pdf.cell(0, 5, f"Generado: {now.isoformat(timespec='minutes')}", new_x="LMARGIN", new_y="NEXT")
    for key, title in _TITLES.items():
        value = data.get(key)
        pdf.ln(3)
        pdf.set_font("Helvetica", "B", 11)
        pdf.cell(0, 7, _latin1(title), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "", 8)
        rows = [value] if isinstance(value, dict) else list(value or [])
        if not rows:
            pdf.cell(0, 5, "(nada)", new_x="LMARGIN", new_y="NEXT")
        for row in rows[:300]:
            line = "; ".join(f"{k}: {v}" for k, v in row.items() if v not in (None, ""))
            pdf.multi_cell(0, 4, _latin1(line[:600]), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
