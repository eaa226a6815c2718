"""IVA inside consumer prices: split an IVA-included amount with Decimal and SAT rounding."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

IVA_RATE = Decimal("0.16")


def split_iva(amount_cents: int) -> tuple[int, int]:
    """(subtotal, tax) of an IVA-included amount; they always add up to the amount.

    The subtotal is rounded half-up to the centavo and the tax is the remainder, so a
    document's lines sum exactly to its total (SAT rounds each amount to 2 decimals).
    """
    subtotal = (Decimal(amount_cents) / (1 + IVA_RATE)).quantize(Decimal(1), ROUND_HALF_UP)
    return int(subtotal), amount_cents - int(subtotal)


def prorate(amount_cents: int, used: int, whole: int) -> int:
    """`amount` × used/whole, rounded half-up to the centavo (used and whole in days)."""
    if whole <= 0:
        return 0
    share = Decimal(amount_cents) * Decimal(used) / Decimal(whole)
    return int(share.quantize(Decimal(1), ROUND_HALF_UP))
