"""Paying by chat: "¿cuánto debo?" shows the account; "quiero pagar" (or "¿puedo pagar en
oxxo?") ends with a Mercado Pago link, an OXXO reference, SPEI details, a pointer to the
front desk, or — after an explicit "sí" — a charge to the saved card.

Several open invoices: everything is paid at once unless the member says "solo el más
antiguo" (the reply always says which invoices a payment covers).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from backend.billing.models import Invoice
from backend.payments.checkout import (
    PaymentUnavailable,
    Statement,
    charge_saved_card,
    checkout_link,
    in_scope,
    offline_payment,
    statement,
)
from dialogs import format as fmt
from dialogs.nlu.normalize import strip_accents
from dialogs.turn import END, PASS, Flow, Turn

METHODS = ("saved_card", "link", "oxxo", "spei", "desk")
_SAVED_CARD = re.compile(
    r"\b(cobr\w*|mi tarjeta|tarjeta guardada|la de siempre|my card|saved card|charge)\b"
)
_LINK = re.compile(r"\b(link|liga|enlace|mercado ?pago)\b")
_DESK = re.compile(r"\b(recepcion|mostrador|front desk|desk|en persona)\b")
_OLDEST = re.compile(r"\b(antiguo|viejo|primero|solo uno|nada mas uno|oldest|first one|only one)\b")
_ALL = re.compile(r"\b(todo|todos|ambos|los dos|all|everything|both)\b")
_NUMBER = re.compile(r"^\s*(?:la\s+|el\s+|opcion\s+|option\s+|#)?(\d)\s*[.)]?\s*$")
STATUS = {
    "es": {
        "trialing": "en prueba",
        "active": "activa",
        "past_due": "con pago pendiente",
        "suspended": "suspendida",
        "paused": "congelada",
        "canceled": "cancelada",
        "expired": "vencida",
    },
    "en": {
        "trialing": "trial",
        "active": "active",
        "past_due": "payment due",
        "suspended": "suspended",
        "paused": "paused",
        "canceled": "canceled",
        "expired": "expired",
    },
}
MAX_TRIES = 2


def _fold(text: str) -> str:
    return strip_accents(text.lower())


def _lang(turn: Turn) -> str:
    return "en" if turn.lang == "en" else "es"


def _local_day(turn: Turn, at: datetime) -> str:
    return fmt.day(at.astimezone(ZoneInfo(turn.gym.timezone)).date(), _lang(turn))


def _when(turn: Turn, at: datetime | None) -> str:
    if at is None:
        return ""
    local = at.astimezone(ZoneInfo(turn.gym.timezone))
    joiner = " at " if _lang(turn) == "en" else " a las "
    return fmt.day(local.date(), _lang(turn)) + joiner + fmt.clock(local, _lang(turn))


def _numbers(invoices: Sequence[Invoice]) -> str:
    return ", ".join(i.number for i in invoices)


def _amount(invoices: Sequence[Invoice]) -> str:
    return fmt.money(sum(i.amount_due_cents for i in invoices))


# --- what the member sees ------------------------------------------------------------------


def _invoice_lines(turn: Turn, invoices: Sequence[Invoice]) -> list[str]:
    today = turn.now.astimezone(ZoneInfo(turn.gym.timezone)).date()
    lines = []
    for inv in invoices:
        due_day = inv.due_at.astimezone(ZoneInfo(turn.gym.timezone)).date()
        date = fmt.day(due_day, _lang(turn))
        key = (
            "pay_invoice_due_today"
            if due_day == today
            else ("pay_invoice_due_past" if due_day < today else "pay_invoice_due_future")
        )
        lines.append(
            turn.text(
                "pay_invoice_line",
                number=inv.number,
                amount=fmt.money(inv.amount_due_cents),
                due=turn.text(key, date=date),
            )
        )
    return lines


def account_text(turn: Turn, st: Statement) -> str:
    lines = [turn.text("pay_account_title", gym=turn.gym.name)]
    if st.plan_name and st.status:
        status = STATUS[_lang(turn)].get(st.status, st.status)
        lines.append(turn.text("pay_account_plan", plan=st.plan_name, status=status))
        if st.next_charge_at is not None:
            lines.append(
                turn.text(
                    "pay_account_next_charge",
                    date=_local_day(turn, st.next_charge_at),
                    amount=fmt.money(st.next_charge_cents),
                )
            )
        elif st.cancel_at_period_end and st.period_end is not None:
            lines.append(turn.text("pay_account_ends", date=_local_day(turn, st.period_end)))
        if st.class_credits is None:
            lines.append(turn.text("pay_account_classes_unlimited"))
        else:
            lines.append(turn.text("pay_account_classes", n=st.class_credits))
    else:
        lines.append(turn.text("pay_account_no_plan"))
    if st.balance_credit_cents > 0:
        lines.append(turn.text("pay_account_credit", amount=fmt.money(st.balance_credit_cents)))
    if st.saved_card is not None:
        lines.append(
            turn.text(
                "pay_account_card",
                brand=st.saved_card.brand.title() or "Tarjeta",
                last4=st.saved_card.last4,
            )
        )
    if st.invoices:
        lines += ["", turn.text("pay_invoices_title"), *_invoice_lines(turn, st.invoices)]
        lines.append(turn.text("pay_total", amount=fmt.money(st.owed_cents)))
    else:
        lines += ["", turn.text("pay_account_clear")]
    return "\n".join(lines)


def _options(turn: Turn, st: Statement, exclude: Sequence[str] = ()) -> list[str]:
    skip = set(exclude) | ({"saved_card"} if st.saved_card is None else set())
    return [m for m in METHODS if m not in skip]


def _say_options(turn: Turn, st: Statement, exclude: Sequence[str] = ()) -> None:
    methods = _options(turn, st, exclude)
    turn.slots["options"] = methods
    card = st.saved_card
    lines = []
    for n, method in enumerate(methods, start=1):
        label = (
            turn.text(
                "pay_option_saved_card", brand=(card.brand.title() or "Tarjeta"), last4=card.last4
            )
            if method == "saved_card" and card is not None
            else turn.text(f"pay_option_{method}")
        )
        lines.append(f"{n}. {label}")
    turn.say("pay_options", options="\n".join(lines))


def _say_scope(turn: Turn, st: Statement) -> None:
    """With several invoices, say which ones this payment covers (and how to change it)."""
    if len(st.invoices) < 2:
        return
    scope = turn.slots.get("scope", "all")
    chosen = in_scope(st.invoices, scope)
    if scope == "oldest":
        turn.say("pay_scope_oldest", numbers=_numbers(chosen), amount=_amount(chosen))
    else:
        oldest = in_scope(st.invoices, "oldest")
        turn.say(
            "pay_scope_all",
            amount=_amount(chosen),
            numbers=_numbers(chosen),
            oldest=_numbers(oldest),
            oldest_amount=_amount(oldest),
        )


def _owed_text(turn: Turn, st: Statement) -> str:
    n = len(st.invoices)
    count = turn.text("pay_count_one") if n == 1 else turn.text("pay_count_many", n=n)
    head = turn.text("pay_owed", count=count, amount=fmt.money(st.owed_cents))
    return "\n".join([head, *_invoice_lines(turn, st.invoices)])


# --- understanding the choice --------------------------------------------------------------


def _scope_said(turn: Turn) -> str | None:
    text = _fold(turn.message.text)
    if _OLDEST.search(text):
        return "oldest"
    if _ALL.search(text):
        return "all"
    return None


def chosen_method(turn: Turn, st: Statement) -> str | None:
    """The way to pay the member named: a number from the list, a word or an entity."""
    text = _fold(turn.message.text)
    number = _NUMBER.match(text)
    options: list[str] = turn.slots.get("options") or _options(turn, st)
    if number:
        index = int(number.group(1)) - 1
        return options[index] if 0 <= index < len(options) else None
    method = turn.nlu.entity("payment_method")
    if method == "card" or (method is None and _SAVED_CARD.search(text)):
        if st.saved_card is not None and _SAVED_CARD.search(text):
            return "saved_card"
        return "link"
    if method in ("oxxo", "spei"):
        return method
    if method == "cash" or _DESK.search(text):
        return "desk"
    if _LINK.search(text):
        return "link"
    return None


# --- the flows -------------------------------------------------------------------------------


async def show_account(turn: Turn) -> str:
    """ "¿Cuánto debo?" / "mi estado de cuenta": the whole account, then how to pay."""
    st = await statement(turn.session, turn.gym, turn.member)
    turn.replies.append(account_text(turn, st))
    if not st.invoices:
        return END
    _say_scope(turn, st)
    _say_options(turn, st)
    return "choose"


async def start_payment(turn: Turn) -> str:
    """ "Quiero pagar" (maybe with the way already said)."""
    st = await statement(turn.session, turn.gym, turn.member)
    if not st.invoices:
        turn.say("pay_nothing_owed", name=(turn.member.name or "").split(" ")[0])
        if st.next_charge_at is not None:
            turn.say(
                "pay_nothing_owed_next",
                date=_local_day(turn, st.next_charge_at),
                amount=fmt.money(st.next_charge_cents),
            )
        return END
    turn.slots["scope"] = _scope_said(turn) or "all"
    method = chosen_method(turn, st)
    if method is not None:
        _say_scope(turn, st)
        return await _pay(turn, st, method)
    turn.replies.append(_owed_text(turn, st))
    _say_scope(turn, st)
    _say_options(turn, st)
    return "choose"


async def choose(turn: Turn) -> str:
    st = await statement(turn.session, turn.gym, turn.member)
    if not st.invoices:
        turn.say("pay_nothing_owed", name=(turn.member.name or "").split(" ")[0])
        return END
    scope = _scope_said(turn)
    method = chosen_method(turn, st)
    if scope is not None:
        turn.slots["scope"] = scope
        if method is None:
            _say_scope(turn, st)
            _say_options(turn, st)
            return "choose"
    if method is not None:
        return await _pay(turn, st, method)
    if turn.intent == "deny":
        turn.say("pay_later")
        return END
    if turn.intent in ("ask_balance",):
        return await show_account(turn)
    if turn.intent not in ("pay", "out_of_scope", "affirm"):
        return PASS
    tries = turn.slots.get("tries", 0) + 1
    if tries > MAX_TRIES:
        return PASS
    turn.slots["tries"] = tries
    turn.say("pay_not_understood")
    return "choose"


async def confirm_card(turn: Turn) -> str:
    st = await statement(turn.session, turn.gym, turn.member)
    if turn.intent == "affirm" and st.invoices and st.saved_card is not None:
        return await _charge(turn, st)
    if turn.intent == "deny":
        turn.say("pay_charge_cancelled")
        return END
    method = chosen_method(turn, st)
    if method is not None and method != "saved_card" and st.invoices:
        return await _pay(turn, st, method)
    return PASS


async def _pay(turn: Turn, st: Statement, method: str) -> str:
    invoices = in_scope(st.invoices, turn.slots.get("scope", "all"))
    values = {"amount": _amount(invoices), "numbers": _numbers(invoices)}
    try:
        if method == "saved_card":
            card = st.saved_card
            if card is None:
                turn.say("pay_no_saved_card")
                return await _pay(turn, st, "link")
            turn.say(
                "pay_confirm_card",
                brand=card.brand.title() or "Tarjeta",
                last4=card.last4,
                **values,
            )
            return "confirm_card"
        if method == "link":
            if st.saved_card is None and _SAVED_CARD.search(_fold(turn.message.text)):
                turn.say("pay_no_saved_card")
            req = await checkout_link(
                turn.session, turn.payments, turn.gym, turn.member, invoices, turn.now
            )
            reused = req.created_at < turn.now
            turn.say(
                "pay_link_reused" if reused else "pay_link",
                url=req.url,
                expires=_when(turn, req.expires_at),
                **values,
            )
            return END
        if method in ("oxxo", "spei"):
            req = await offline_payment(
                turn.session, turn.payments, turn.gym, turn.member, invoices, method, turn.now
            )
            reused = req.created_at < turn.now
            turn.say(
                f"pay_{method}_reused" if reused else f"pay_{method}",
                reference=req.reference,
                url=req.url,
                clabe=req.clabe,
                bank=req.bank or "STP",
                expires=_when(turn, req.expires_at),
                **values,
            )
            return END
    except PaymentUnavailable:
        turn.say("pay_provider_down")
        return END
    turn.say("pay_desk", **values)
    return END


async def _charge(turn: Turn, st: Statement) -> str:
    card = st.saved_card
    assert card is not None
    invoices = in_scope(st.invoices, turn.slots.get("scope", "all"))
    was_suspended = await _suspended(turn)
    try:
        payments = await charge_saved_card(
            turn.session, turn.payments, turn.gym, turn.member, invoices, turn.now
        )
    except PaymentUnavailable:
        turn.say("pay_provider_down")
        return END
    approved = [p for p in payments if p.status == "approved"]
    paid = [i for i in invoices if i.id in {p.invoice_id for p in approved}]
    brand, last4 = card.brand.title() or "Tarjeta", card.last4
    if paid:
        reactivated = was_suspended and not await _suspended(turn)
        turn.say(
            "pay_card_charged_reactivated" if reactivated else "pay_card_charged",
            amount=fmt.money(sum(p.amount_cents for p in approved)),
            brand=brand,
            last4=last4,
            numbers=_numbers(paid),
        )
    failed = next((p for p in payments if p.status != "approved"), None)
    if failed is None:
        return END
    if failed.status in ("pending", "in_process"):
        turn.say("pay_card_pending", amount=fmt.money(failed.amount_cents))
        return END
    turn.say("pay_card_declined", amount=fmt.money(failed.amount_cents))
    rest = await statement(turn.session, turn.gym, turn.member)
    _say_options(turn, rest, exclude=("saved_card", "link"))
    return "choose"


async def _suspended(turn: Turn) -> bool:
    st = await statement(turn.session, turn.gym, turn.member)
    return st.status in ("past_due", "suspended")


async def start_from_method(turn: Turn) -> str | None:
    """A bare "spei" / "en efectivo" the NLU could not place: a payment if the member owes."""
    if turn.nlu.entity("payment_method") is None:
        return None
    st = await statement(turn.session, turn.gym, turn.member)
    if not st.invoices:
        return None
    return await start_payment(turn)


ACCOUNT = Flow("account", show_account, {"choose": choose, "confirm_card": confirm_card})
PAY = Flow("pay", start_payment, {"choose": choose, "confirm_card": confirm_card})


def with_payment_method(fallback: Flow) -> Flow:
    """The fallback, except that a payment word from a member who owes starts a payment."""

    async def start(turn: Turn) -> str:
        outcome = await start_from_method(turn)
        if outcome is not None:
            return outcome  # its states are this flow's too (see below)
        return await fallback.start(turn)

    return Flow(fallback.name, start, {**fallback.states, **PAY.states}, fallback.timeout)
