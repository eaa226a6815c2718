"""WhatsApp texts the payment backend sends on its own (receipts, declines, refunds), in the
member's language. Chat replies live in the dialog catalogs; these leave through the outbox."""

from __future__ import annotations

from collections.abc import Sequence

from backend.billing.models import Invoice
from backend.format import money
from backend.members.models import Member

METHOD_ES = {
    "card": "tarjeta",
    "oxxo": "OXXO",
    "spei": "transferencia SPEI",
    "wallet": "Mercado Pago",
    "cash": "efectivo",
}
METHOD_EN = {
    "card": "card",
    "oxxo": "OXXO",
    "spei": "SPEI transfer",
    "wallet": "Mercado Pago",
    "cash": "cash",
}


def first_name(member: Member) -> str:
    return (member.name or "").split(" ")[0]


def _numbers(invoices: Sequence[Invoice]) -> str:
    return ", ".join(i.number for i in invoices)


def receipt(
    member: Member, invoices: Sequence[Invoice], amount_cents: int, method: str, reactivated: bool
) -> str:
    name, amount, numbers = first_name(member), money(amount_cents), _numbers(invoices)
    if member.locale == "en":
        text = (
            f"Payment received, {name}! ✅ {amount} by {METHOD_EN.get(method, method)} "
            f"for invoice {numbers}."
        )
        return text + (
            " Your access is active again. 💪" if reactivated else " See you at the gym! 💪"
        )
    text = (
        f"¡Pago recibido, {name}! ✅ {amount} con {METHOD_ES.get(method, method)} "
        f"por el recibo {numbers}."
    )
    return text + (
        " Tu acceso ya está activo otra vez. 💪" if reactivated else " ¡Nos vemos en el gym! 💪"
    )


def declined(member: Member, amount_cents: int) -> str:
    name, amount = first_name(member), money(amount_cents)
    if member.locale == "en":
        return (
            f"{name}, your card payment of {amount} was declined. 😕 No problem: you can pay "
            "in cash at OXXO or by SPEI transfer. Reply *oxxo* or *spei* and I'll send you "
            "the details."
        )
    return (
        f"{name}, tu pago con tarjeta de {amount} fue rechazado. 😕 No pasa nada: puedes pagar "
        "en efectivo en OXXO o por transferencia SPEI. Responde *oxxo* o *spei* y te paso "
        "los datos."
    )


def refunded(member: Member, amount_cents: int, invoices: Sequence[Invoice], full: bool) -> str:
    name, amount, numbers = first_name(member), money(amount_cents), _numbers(invoices)
    if member.locale == "en":
        text = f"{name}, we refunded {amount} of invoice {numbers}."
        return text + (" That membership period is canceled." if full else "")
    text = f"{name}, te devolvimos {amount} del recibo {numbers}."
    return text + (" Ese periodo de tu membresía quedó cancelado." if full else "")


def charged_back(member: Member, invoices: Sequence[Invoice], amount_cents: int) -> str:
    name, amount, numbers = first_name(member), money(amount_cents), _numbers(invoices)
    if member.locale == "en":
        return (
            f"{name}, your bank reversed the payment of {amount} for invoice {numbers}, so it "
            "is open again and your access is paused. Reply *pay* to settle it."
        )
    return (
        f"{name}, tu banco revirtió el pago de {amount} del recibo {numbers}; quedó pendiente "
        "otra vez y tu acceso está en pausa. Escribe *pagar* para liquidarlo."
    )
