"""The PDF receipt of an invoice (the commercial document; the CFDI is separate)."""

from __future__ import annotations

from collections.abc import Sequence
from zoneinfo import ZoneInfo

from fpdf import FPDF

from backend.billing.models import Invoice, InvoiceLine
from backend.format import day, money
from backend.gyms.models import Gym
from backend.members.models import Member

STATUS_ES = {
    "open": "PENDIENTE",
    "paid": "PAGADO",
    "void": "CANCELADO",
    "draft": "BORRADOR",
    "uncollectible": "INCOBRABLE",
}


def _t(text: str) -> str:
    """PDF core fonts are Latin-1: accents and ñ stay, anything else (emoji…) becomes '?'."""
    return text.encode("latin-1", "replace").decode("latin-1")


def receipt_pdf(gym: Gym, member: Member, invoice: Invoice, lines: Sequence[InvoiceLine]) -> bytes:
    tz = ZoneInfo(gym.timezone)
    pdf = FPDF(format="Letter")
    pdf.set_title(f"Recibo {invoice.number}")
    pdf.set_creator("GoGym")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, _t(gym.name), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 11)
    pdf.cell(
        0,
        6,
        f"Recibo {invoice.number} - {STATUS_ES.get(invoice.status, invoice.status)}",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.cell(0, 6, _t(f"Socio: {member.name or member.phone}"), new_x="LMARGIN", new_y="NEXT")
    pdf.cell(
        0,
        6,
        f"Emitido: {day(invoice.issued_at.astimezone(tz).date(), 'es')} "
        f"{invoice.issued_at.astimezone(tz).year}",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    if invoice.period_start and invoice.period_end:
        pdf.cell(
            0,
            6,
            f"Periodo: {day(invoice.period_start.astimezone(tz).date(), 'es')} al "
            f"{day(invoice.period_end.astimezone(tz).date(), 'es')}",
            new_x="LMARGIN",
            new_y="NEXT",
        )
    pdf.ln(4)
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(120, 7, "Concepto", border="B")
    pdf.cell(0, 7, "Importe", border="B", align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 11)
    for line in lines:
        label = line.description if line.quantity == 1 else f"{line.description} x{line.quantity}"
        pdf.cell(120, 7, _t(label[:70]))
        pdf.cell(0, 7, money(line.amount_cents), align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    rows = [
        ("Subtotal", invoice.subtotal_cents),
        ("IVA 16%", invoice.tax_cents),
        ("Total", invoice.total_cents),
    ]
    if invoice.credit_applied_cents:
        rows.append(("Saldo a favor aplicado", -invoice.credit_applied_cents))
    rows.append(("Por pagar", invoice.amount_due_cents))
    for label, cents in rows:
        pdf.cell(120, 7, label, align="R")
        pdf.cell(0, 7, money(cents), align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    pdf.set_font("Helvetica", "I", 9)
    pdf.multi_cell(
        0,
        5,
        "Precios con IVA incluido. Este recibo no es un comprobante fiscal; "
        "si necesitas factura (CFDI), pídela por WhatsApp.",
    )
    return bytes(pdf.output())
