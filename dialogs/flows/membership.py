"""Membership self-service in the chat: plan changes (with the prorated amount shown before
confirming), freezes within the gym's limits, and cancellation with a save attempt that
never becomes a maze ("cancelar" twice cancels; "me arrepentí" undoes it)."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from backend.billing.models import Invoice, Plan, Subscription
from backend.billing.plans import get_plan
from backend.billing.service import Holding, covered_location_ids, current_holding
from backend.billing.subscriptions import (
    cancel,
    downgrade,
    keep,
    quote_change,
    resume,
    upgrade,
)
from backend.billing.transitions import STATUS_ES
from backend.errors import DomainError
from backend.gyms.service import public_plans
from backend.payments.models import PaymentMethod
from backend.payments.service import charge_invoice, default_method
from backend.selfservice.membership import (
    cheaper_plan,
    discount_credit,
    freeze,
    freeze_allowance,
    grant_discount,
    record_cancel_feedback,
)
from backend.selfservice.service import CANCEL_REASONS, RetentionOffer
from dialogs import format as fmt
from dialogs.flows.answers import fold, is_no, is_yes, number, retry, words
from dialogs.flows.common import plan_lines
from dialogs.nlu.catalog import match_catalog
from dialogs.nlu.dates import resolve_when
from dialogs.turn import END, PASS, Flow, Turn

# --- shared -----------------------------------------------------------------------------------


def _tz(turn: Turn) -> ZoneInfo:
    return ZoneInfo(turn.gym.timezone)


def _date(turn: Turn, at: datetime) -> str:
    return fmt.day(at.astimezone(_tz(turn)).date(), turn.lang)


def _actor(turn: Turn) -> str:
    return f"member:{turn.member.id}"


def _reason(turn: Turn, exc: DomainError) -> str:
    return exc.message_en if turn.lang == "en" else exc.message_es


def _status(turn: Turn, status: str) -> str:
    return status if turn.lang == "en" else STATUS_ES.get(status, status)


def _interval(turn: Turn, plan: Plan) -> str:
    return turn.text(f"interval_{plan.interval}")


async def _own_holding(turn: Turn) -> Holding | None:
    return await current_holding(turn.session, turn.member.id)


def _card_label(method: PaymentMethod | None) -> str:
    return f"{method.brand.title()} •••• {method.last4}" if method else ""


async def _coverage(turn: Turn, plan: Plan) -> str:
    if plan.all_locations:
        return ""
    ids = await covered_location_ids(turn.session, plan.id)
    names = [loc.name for loc in turn.locations if loc.id in ids]
    return turn.text(
        "plan_coverage_note", plan=plan.name, locations=fmt.join_list(names, turn.text("and"))
    )


async def _charge(turn: Turn, invoice: Invoice) -> tuple[str, PaymentMethod | None]:
    """Charge the saved card for an open invoice: 'paid', 'declined', 'no_card' or 'credit'."""
    if invoice.status == "paid" or invoice.amount_due_cents <= 0:
        return "credit", None
    method = await default_method(turn.session, invoice.gym_id, invoice.member_id)
    if method is None:
        return "no_card", None
    try:
        payment = await charge_invoice(
            turn.session, turn.payments, invoice, actor=_actor(turn), now=turn.now, method=method
        )
    except DomainError:
        return "declined", method
    if payment is not None and payment.status == "approved":
        return "paid", method
    return "declined", method


# --- plan changes -----------------------------------------------------------------------------


async def _changeable(turn: Turn) -> Holding | None:
    holding = await _own_holding(turn)
    if holding is None or holding.subscription.status in ("canceled", "expired"):
        turn.say("plan_none_yet", plans=await plan_lines(turn))
        return None
    if holding.subscription.member_id != turn.member.id:
        turn.say("plan_is_family_seat")
        return None
    if holding.subscription.status not in ("trialing", "active", "past_due"):
        turn.say("plan_not_changeable", status=_status(turn, holding.subscription.status))
        return None
    return holding


async def _options(turn: Turn, current: Plan) -> list[Plan]:
    return [
        p
        for p in await public_plans(turn.session, turn.gym.id)
        if p.id != current.id and p.kind == "membership" and p.interval != "day"
    ]


async def change_plan_start(turn: Turn) -> str:
    holding = await _changeable(turn)
    if holding is None:
        return END
    sub, current = holding.subscription, holding.plan
    options = await _options(turn, current)
    named = match_catalog(turn.message.text, [p.name for p in options] + [current.name])
    if named is None and turn.nlu.entity("plan"):
        named = match_catalog(turn.nlu.entity("plan") or "", [p.name for p in options])
    if named is not None and named.name == current.name:
        turn.say("plan_same", plan=current.name)
        return END
    if named is not None:
        target = next(p for p in options if p.name == named.name)
        return await _propose_plan(turn, sub, current, target)
    pending = ""
    if sub.pending_plan_id:
        nxt = await get_plan(turn.session, turn.gym.id, sub.pending_plan_id)
        pending = turn.text(
            "plan_pending_change", date=_date(turn, sub.current_period_end), plan=nxt.name
        )
    turn.say(
        "plan_current",
        plan=current.name,
        price=fmt.money(current.price_at(turn.now)),
        interval=_interval(turn, current),
        pending=pending,
    )
    if not options:
        turn.say("plan_no_options")
        return END
    lines = []
    for i, plan in enumerate(options, start=1):
        where = await _coverage(turn, plan)
        lines.append(
            turn.text(
                "plan_option_line",
                n=i,
                name=plan.name,
                price=fmt.money(plan.price_at(turn.now)),
                interval=_interval(turn, plan),
                where=f" —{where}" if where else "",
            )
        )
    turn.slots["plan_options"] = [p.id for p in options]
    turn.say("plan_options", options="\n".join(lines))
    return "plan_pick"


async def plan_pick(turn: Turn) -> str:
    ids: list[int] = turn.slots.get("plan_options", [])
    holding = await _own_holding(turn)
    if holding is None:
        return END
    if is_no(turn):
        turn.say("plan_kept", plan=holding.plan.name)
        return END
    plans = [await get_plan(turn.session, turn.gym.id, i) for i in ids]
    chosen: Plan | None = None
    picked = number(turn, len(plans))
    if picked is not None:
        chosen = plans[picked - 1]
    else:
        hit = match_catalog(turn.message.text, [p.name for p in plans])
        chosen = next((p for p in plans if hit and p.name == hit.name), None)
    if chosen is None:
        if turn.intent not in ("change_plan", "plan_info", "out_of_scope") and words(turn) > 2:
            return PASS
        return await retry(turn, "ss_pick_number", n=len(plans))
    turn.slots.pop("tries", None)
    return await _propose_plan(turn, holding.subscription, holding.plan, chosen)


async def _propose_plan(turn: Turn, sub: Subscription, current: Plan, target: Plan) -> str:
    quote = quote_change(turn.gym, sub, current, target, turn.now)
    turn.slots["plan_id"] = target.id
    price = fmt.money(target.price_at(turn.now))
    interval = _interval(turn, target)
    coverage = await _coverage(turn, target)
    if quote.direction == "upgrade":
        if quote.amount_cents > 0:
            turn.say(
                "plan_upgrade_confirm",
                plan=target.name,
                amount=fmt.money(quote.amount_cents),
                days=quote.days_left,
                next=_date(turn, sub.current_period_end),
                price=price,
                interval=interval,
            )
        else:
            turn.say(
                "plan_upgrade_free_confirm",
                plan=target.name,
                next=_date(turn, sub.current_period_end),
                price=price,
                interval=interval,
            )
    elif quote.credit_cents > 0:
        turn.say(
            "plan_downgrade_credit_confirm",
            plan=target.name,
            price=price,
            interval=interval,
            credit=fmt.money(quote.credit_cents),
            coverage=coverage,
        )
    else:
        turn.say(
            "plan_downgrade_confirm",
            plan=target.name,
            price=price,
            interval=interval,
            date=_date(turn, quote.effective_at),
            current=current.name,
            coverage=coverage,
        )
    return "plan_confirm"


async def plan_confirm(turn: Turn) -> str:
    holding = await _own_holding(turn)
    if holding is None:
        return END
    if is_no(turn):
        turn.say("plan_kept", plan=holding.plan.name)
        return END
    if not is_yes(turn):
        if words(turn) > 2 and turn.intent not in ("change_plan", "out_of_scope"):
            return PASS
        return await retry(turn, "ss_yes_no")
    target = await get_plan(turn.session, turn.gym.id, int(turn.slots["plan_id"]))
    sub, current = holding.subscription, holding.plan
    try:
        if target.price_at(turn.now) > current.price_at(turn.now):
            change = await upgrade(
                turn.session, turn.gym, sub, target.id, actor=_actor(turn), now=turn.now
            )
            await _after_upgrade(turn, target, change.invoice)
        else:
            change = await downgrade(
                turn.session, turn.gym, sub, target.id, actor=_actor(turn), now=turn.now
            )
            if change.credit_cents > 0 or change.effective_at <= turn.now:
                turn.say(
                    "plan_downgraded_credit",
                    plan=target.name,
                    credit=fmt.money(change.credit_cents),
                )
            else:
                turn.say(
                    "plan_downgraded",
                    date=_date(turn, change.effective_at),
                    plan=target.name,
                    price=fmt.money(target.price_at(turn.now)),
                    interval=_interval(turn, target),
                    current=current.name,
                )
    except DomainError as exc:
        turn.say("plan_failed", reason=_reason(turn, exc))
    return END


async def _after_upgrade(turn: Turn, plan: Plan, invoice: Invoice | None) -> None:
    if invoice is None:
        turn.say("plan_upgraded_free", plan=plan.name)
        return
    outcome, method = await _charge(turn, invoice)
    amount = fmt.money(invoice.total_cents)
    if outcome == "paid":
        turn.say(
            "plan_upgraded_paid",
            plan=plan.name,
            amount=amount,
            card=_card_label(method),
            number=invoice.number,
        )
    elif outcome == "credit":
        turn.say("plan_upgraded_credit", plan=plan.name)
    elif outcome == "declined":
        turn.say("plan_upgraded_declined", plan=plan.name, amount=amount, number=invoice.number)
    else:
        turn.say("plan_upgraded_invoice", plan=plan.name, amount=amount, number=invoice.number)


# --- freezes ----------------------------------------------------------------------------------

_NUMBER_WORDS = {
    "un": 1, "una": 1, "uno": 1, "a": 1, "an": 1, "one": 1, "dos": 2, "two": 2, "tres": 3,
    "three": 3, "cuatro": 4, "four": 4, "cinco": 5, "five": 5, "seis": 6, "six": 6,
    "siete": 7, "seven": 7, "ocho": 8, "eight": 8, "nueve": 9, "nine": 9, "diez": 10,
    "ten": 10, "once": 11, "doce": 12, "quince": 15, "fifteen": 15, "veinte": 20,
    "twenty": 20, "treinta": 30, "thirty": 30,
}  # fmt: skip
_UNIT = r"(mes(?:es)?|months?|semanas?|weeks?|dias?|days?)"
_AMOUNT = re.compile(
    rf"\b(\d{{1,3}}|{'|'.join(sorted(_NUMBER_WORDS, key=len, reverse=True))})\s+{_UNIT}"
    r"(\s+y\s+medio|\s+and\s+a\s+half)?\b"
)
_HALF_MONTH = re.compile(r"\b(medio mes|half a month|quincena)\b")
_BARE_UNIT = re.compile(r"\b(el|este|the|this|todo el|all)\s+(mes|month)\b")


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise ValueError(day)


def parse_duration(text: str, now_local: datetime) -> int | str | None:
    """Days of a freeze said in words: "un mes", "2 semanas", "mes y medio", "10 días",
    "hasta el 15 de enero". Returns "past" for a date already gone, None if not understood."""
    folded = fold(text)
    today = now_local.date()
    if re.search(r"\b(ayer|antier|anteayer|yesterday)\b", folded):
        return "past"
    found = _AMOUNT.search(folded)
    if found:
        raw, unit, half = found.group(1), found.group(2), found.group(3)
        amount = int(raw) if raw.isdigit() else _NUMBER_WORDS[raw]
        if unit.startswith(("mes", "month")):
            days = (add_months(today, amount) - today).days
            return days + (15 if half else 0)
        if unit.startswith(("semana", "week")):
            return amount * 7 + (3 if half else 0)
        return amount
    if _HALF_MONTH.search(folded):
        return 15
    when = resolve_when(text, now_local)
    if when is not None and re.search(r"\b(hasta|al|until|till|to|regreso|vuelvo)\b", folded):
        if when.date <= today:
            return "past"
        return (when.date - today).days
    if _BARE_UNIT.search(folded) or re.search(r"\b(un mes|a month|one month)\b", folded):
        return (add_months(today, 1) - today).days
    if when is not None and when.date < today:
        return "past"
    return None


async def _freezable(turn: Turn) -> Subscription | None:
    holding = await _own_holding(turn)
    if holding is None or holding.subscription.status in ("canceled", "expired"):
        turn.say("freeze_no_membership")
        return None
    sub = holding.subscription
    if sub.member_id != turn.member.id:
        turn.say("plan_is_family_seat")
        return None
    return sub


async def freeze_start(turn: Turn) -> str:
    sub = await _freezable(turn)
    if sub is None:
        return END
    if sub.status == "paused":
        assert sub.resume_at is not None
        turn.say("freeze_already", end=_date(turn, sub.resume_at))
        return "freeze_resume"
    return await _freeze_ask(turn, sub)


async def _freeze_ask(turn: Turn, sub: Subscription) -> str:
    if sub.status != "active":
        turn.say("freeze_not_active", status=_status(turn, sub.status))
        return END
    allowance = await freeze_allowance(turn.session, turn.gym, turn.member.id, turn.now)
    if allowance.left <= 0:
        turn.say("freeze_none_left", n=allowance.policy.pauses_per_year)
        return END
    days = parse_duration(turn.message.text, turn.now.astimezone(_tz(turn)))
    if isinstance(days, int):
        return await _propose_freeze(turn, sub, days)
    policy = allowance.policy
    turn.say("freeze_ask_days", min=policy.min_pause_days, max=policy.max_pause_days)
    return "freeze_days"


async def _propose_freeze(turn: Turn, sub: Subscription, days: int) -> str:
    allowance = await freeze_allowance(turn.session, turn.gym, turn.member.id, turn.now)
    policy = allowance.policy
    if not policy.min_pause_days <= days <= policy.max_pause_days:
        turn.say(
            "freeze_out_of_range", min=policy.min_pause_days, max=policy.max_pause_days, days=days
        )
        return "freeze_days"
    holding = await _own_holding(turn)
    assert holding is not None
    end = turn.now + timedelta(days=days)
    fee = (
        turn.text("freeze_fee_note", fee=fmt.money(policy.pause_fee_cents))
        if policy.pause_fee_cents
        else ""
    )
    turn.slots["freeze_days"] = days
    turn.say(
        "freeze_confirm",
        plan=holding.plan.name,
        start=_date(turn, turn.now),
        end=_date(turn, end),
        days=days,
        next=_date(turn, sub.current_period_end + timedelta(days=days)),
        fee=fee,
        left=_freezes_left(turn, allowance.left - 1),
    )
    return "freeze_confirm"


def _freezes_left(turn: Turn, n: int) -> str:
    if n <= 0:
        return turn.text("freezes_left_none")
    return turn.text("freezes_left_one") if n == 1 else turn.text("freezes_left_many", n=n)


async def freeze_days(turn: Turn) -> str:
    sub = await _freezable(turn)
    if sub is None:
        return END
    days = parse_duration(turn.message.text, turn.now.astimezone(_tz(turn)))
    if is_no(turn) and days is None:  # "no sé, como un mes" answers the question
        return await _freeze_declined(turn)
    if days == "past":
        return await retry(turn, "freeze_past_date")
    if not isinstance(days, int):
        digits = re.fullmatch(r"\s*(\d{1,3})\s*", turn.message.text)
        if digits:
            days = int(digits.group(1))
    if not isinstance(days, int):
        if words(turn) > 2 and turn.intent not in ("freeze_membership", "out_of_scope"):
            return PASS
        return await retry(turn, "freeze_bad_duration")
    turn.slots.pop("tries", None)
    return await _propose_freeze(turn, sub, days)


async def freeze_confirm(turn: Turn) -> str:
    sub = await _freezable(turn)
    if sub is None:
        return END
    if is_no(turn):
        return await _freeze_declined(turn)
    if not is_yes(turn):
        days = parse_duration(turn.message.text, turn.now.astimezone(_tz(turn)))
        if isinstance(days, int):  # a new duration instead of yes/no
            return await _propose_freeze(turn, sub, days)
        return await retry(turn, "ss_yes_no")
    days = int(turn.slots["freeze_days"])
    try:
        invoice = await freeze(turn.session, turn.gym, sub, days, actor=_actor(turn), now=turn.now)
    except DomainError as exc:
        turn.say("freeze_failed", reason=_reason(turn, exc))
        return END
    assert sub.resume_at is not None
    fee = ""
    if invoice is not None:
        outcome, method = await _charge(turn, invoice)
        amount = fmt.money(invoice.total_cents)
        if outcome == "paid":
            fee = turn.text("freeze_fee_paid", fee=amount, card=_card_label(method))
        elif outcome != "credit":
            fee = turn.text("freeze_fee_invoice", fee=amount, number=invoice.number)
    reason = turn.slots.get("cancel_reason")
    if reason:
        await record_cancel_feedback(
            turn.session,
            sub,
            reason=reason,
            text=turn.slots.get("cancel_text", ""),
            offer="freeze",
            outcome="accepted_offer",
            actor=_actor(turn),
            now=turn.now,
        )
    turn.say(
        "freeze_done",
        end=_date(turn, sub.resume_at),
        next=_date(turn, sub.current_period_end + timedelta(days=days)),
        fee=fee,
    )
    return END


async def _freeze_declined(turn: Turn) -> str:
    if turn.slots.get("cancel_reason"):  # the freeze was the save offer: go on cancelling
        return await _do_cancel(turn)
    turn.say("freeze_not_done")
    return END


async def freeze_resume(turn: Turn) -> str:
    sub = await _freezable(turn)
    if sub is None or sub.status != "paused":
        return END
    assert sub.resume_at is not None
    if is_yes(turn):
        try:
            await resume(turn.session, sub, actor=_actor(turn), now=turn.now)
        except DomainError as exc:
            turn.say("freeze_failed", reason=_reason(turn, exc))
            return END
        turn.say("freeze_resumed", next=_date(turn, sub.current_period_end))
        return END
    if is_no(turn):
        turn.say("freeze_still", end=_date(turn, sub.resume_at))
        return END
    return await retry(turn, "ss_yes_no")


FREEZE_STATES = {
    "freeze_days": freeze_days,
    "freeze_confirm": freeze_confirm,
    "freeze_resume": freeze_resume,
}

# --- cancellation -----------------------------------------------------------------------------

_REGRET = re.compile(
    r"(me arrepenti|arrepenti|mejor no cancel|ya no quiero cancelar|no quiero cancelar|"
    r"no cancel(es|en|ar|o)\b|cambie de opinion|me quedo|changed my mind|don'?t cancel|"
    r"keep my membership|no me (quiero )?ir)"
)
_CANCEL_WORD = re.compile(r"\b(cancela\w*|cancel\w*|dar(me)? de baja|darme de baja)\b")
_REASON_WORDS = {
    "price": r"(car[oa]s?|precio|dinero|pagar|econom|presupuesto|expensive|price|money|afford)",
    "travel": r"(viaj|mud|cambio de casa|otra ciudad|me voy|travel|moving|move)",
    "time": r"(tiempo|trabajo|horario|chamba|ocupad|busy|time|work)",
    "health": r"(salud|lesion|lastim|enferm|embaraz|operacion|cirugia|doctor|injur|health|sick)",
    "service": r"(servicio|sucio|limpi|instalacion|aparato|maquina|instructor|atencion|lleno|"
    r"service|dirty|equipment|crowded)",
}


def says_regret(text: str) -> bool:
    return bool(_REGRET.search(fold(text)))


def reason_from_text(text: str) -> str:
    folded = fold(text)
    for reason, pattern in _REASON_WORDS.items():
        if re.search(pattern, folded):
            return reason
    return "other"


async def _cancellable(turn: Turn) -> Subscription | None:
    holding = await _own_holding(turn)
    if holding is None or holding.subscription.status in ("canceled", "expired"):
        turn.say("cancel_no_membership")
        return None
    if holding.subscription.member_id != turn.member.id:
        turn.say("cancel_is_family_seat")
        return None
    return holding.subscription


async def cancel_start(turn: Turn) -> str:
    if says_regret(turn.message.text):
        return await keep_membership(turn)
    sub = await _cancellable(turn)
    if sub is None:
        return END
    if sub.cancel_at_period_end:
        turn.say("cancel_already", end=_date(turn, sub.current_period_end))
        return "cancel_undo"
    turn.say("cancel_ask_reason")
    return "cancel_reason"


async def cancel_reason(turn: Turn) -> str:
    text = turn.message.text
    # A reason the member gives ("está muy caro", "no, ya no tengo tiempo") answers the
    # question even when it reads as a decline.
    if says_regret(text) or (is_no(turn) and reason_from_text(text) == "other"):
        turn.say("cancel_not_done")
        return END
    if turn.intent == "cancel_membership" or _CANCEL_WORD.search(fold(text)):
        # "cancelar" a second time: no more questions.
        turn.slots["cancel_reason"] = "not_given"
        return await _do_cancel(turn)
    picked = number(turn, len(CANCEL_REASONS))
    reason = CANCEL_REASONS[picked - 1] if picked else reason_from_text(text)
    turn.slots["cancel_reason"] = reason
    turn.slots["cancel_text"] = "" if picked else text[:300]
    return await _offer(turn, reason)


async def _offer(turn: Turn, reason: str) -> str:
    sub = await _cancellable(turn)
    if sub is None:
        return END
    settings = await turn.gym_settings()
    offer = settings.retention_offers.get(reason)
    holding = await _own_holding(turn)
    assert holding is not None
    if offer is not None and await _say_offer(turn, sub, holding.plan, offer):
        turn.slots["cancel_offer"] = offer.model_dump()
        return "cancel_offer"
    return await _do_cancel(turn)


async def _say_offer(turn: Turn, sub: Subscription, plan: Plan, offer: RetentionOffer) -> bool:
    """Say the offer if it applies to this member (False: nothing to offer)."""
    if offer.kind == "freeze":
        allowance = await freeze_allowance(turn.session, turn.gym, turn.member.id, turn.now)
        if sub.status != "active" or allowance.left <= 0:
            return False
        policy = allowance.policy
        turn.say("cancel_offer_freeze", min=policy.min_pause_days, max=policy.max_pause_days)
        return True
    if offer.kind == "downgrade":
        target = await cheaper_plan(turn.session, turn.gym.id, plan, offer, turn.now)
        if target is None or sub.status not in ("trialing", "active", "past_due"):
            return False
        turn.slots["offer_plan_id"] = target.id
        quote = quote_change(turn.gym, sub, plan, target, turn.now)
        turn.say(
            "cancel_offer_downgrade",
            plan=target.name,
            price=fmt.money(target.price_at(turn.now)),
            interval=_interval(turn, target),
            savings=fmt.money(plan.price_at(turn.now) - target.price_at(turn.now)),
            date=_date(turn, quote.effective_at),
            coverage=await _coverage(turn, target),
        )
        return True
    amount = discount_credit(plan, offer, turn.now)
    if amount <= 0 or sub.company_id is not None:
        return False
    turn.say(
        "cancel_offer_discount",
        percent=offer.percent,
        months=offer.months,
        amount=fmt.money(amount),
    )
    return True


async def cancel_offer(turn: Turn) -> str:
    sub = await _cancellable(turn)
    if sub is None:
        return END
    if (
        is_no(turn)
        or turn.intent == "cancel_membership"
        or _CANCEL_WORD.search(fold(turn.message.text))
    ):
        return await _do_cancel(turn)
    if not is_yes(turn):
        if says_regret(turn.message.text):
            turn.say("cancel_not_done")
            return END
        return await retry(turn, "cancel_offer_again")
    turn.slots.pop("tries", None)
    offer = RetentionOffer.model_validate(turn.slots["cancel_offer"])
    holding = await _own_holding(turn)
    assert holding is not None
    if offer.kind == "freeze":
        return await _freeze_ask(turn, sub)
    try:
        if offer.kind == "downgrade":
            target = await get_plan(turn.session, turn.gym.id, int(turn.slots["offer_plan_id"]))
            change = await downgrade(
                turn.session, turn.gym, sub, target.id, actor=_actor(turn), now=turn.now
            )
            if change.credit_cents > 0:
                turn.say(
                    "plan_downgraded_credit",
                    plan=target.name,
                    credit=fmt.money(change.credit_cents),
                )
            else:
                turn.say(
                    "plan_downgraded",
                    date=_date(turn, change.effective_at),
                    plan=target.name,
                    price=fmt.money(target.price_at(turn.now)),
                    interval=_interval(turn, target),
                    current=holding.plan.name,
                )
        else:
            amount = await grant_discount(
                turn.session,
                turn.gym.id,
                sub,
                holding.plan,
                offer,
                actor=_actor(turn),
                now=turn.now,
            )
            turn.say("cancel_offer_discount_done", amount=fmt.money(amount))
    except DomainError as exc:
        turn.say("plan_failed", reason=_reason(turn, exc))
        return END
    await record_cancel_feedback(
        turn.session,
        sub,
        reason=turn.slots.get("cancel_reason", "other"),
        text=turn.slots.get("cancel_text", ""),
        offer=offer.kind,
        outcome="accepted_offer",
        actor=_actor(turn),
        now=turn.now,
    )
    return END


async def _do_cancel(turn: Turn) -> str:
    sub = await _cancellable(turn)
    if sub is None:
        return END
    holding = await _own_holding(turn)
    assert holding is not None
    reason = turn.slots.get("cancel_reason", "not_given")
    text = turn.slots.get("cancel_text", "")
    offer = turn.slots.get("cancel_offer")
    try:
        await cancel(
            turn.session,
            sub,
            actor=_actor(turn),
            now=turn.now,
            reason=f"{reason}: {text}" if text else reason,
        )
    except DomainError as exc:
        turn.say("cancel_failed", reason=_reason(turn, exc))
        return END
    await record_cancel_feedback(
        turn.session,
        sub,
        reason=reason,
        text=text,
        offer=offer["kind"] if isinstance(offer, dict) else None,
        outcome="canceled",
        actor=_actor(turn),
        now=turn.now,
    )
    label = turn.text(f"reason_{reason}")
    if text:
        label = f"{label} ({text[:80]})"
    if sub.status == "canceled":
        turn.say("cancel_done_now", plan=holding.plan.name, reason=label)
    else:
        turn.say(
            "cancel_done",
            plan=holding.plan.name,
            end=_date(turn, sub.current_period_end),
            reason=label,
        )
    return END


async def cancel_undo(turn: Turn) -> str:
    if is_yes(turn) or says_regret(turn.message.text):
        return await keep_membership(turn)
    sub = await _cancellable(turn)
    if sub is None:
        return END
    if is_no(turn) or _CANCEL_WORD.search(fold(turn.message.text)):
        turn.say("cancel_still_scheduled", end=_date(turn, sub.current_period_end))
        return END
    return await retry(turn, "ss_yes_no")


async def keep_membership(turn: Turn) -> str:
    """ "Me arrepentí": undo a cancellation scheduled for the period end."""
    holding = await _own_holding(turn)
    if holding is None or holding.subscription.status in ("canceled", "expired"):
        turn.say("cancel_no_membership")
        return END
    sub = holding.subscription
    if not sub.cancel_at_period_end:
        turn.say("cancel_nothing_pending", plan=holding.plan.name)
        return END
    try:
        await keep(turn.session, sub, actor=_actor(turn), now=turn.now)
    except DomainError as exc:
        turn.say("cancel_failed", reason=_reason(turn, exc))
        return END
    await record_cancel_feedback(
        turn.session,
        sub,
        reason="changed_mind",
        text="",
        offer=None,
        outcome="kept",
        actor=_actor(turn),
        now=turn.now,
    )
    turn.say("cancel_kept", plan=holding.plan.name, next=_date(turn, sub.current_period_end))
    return END


async def has_pending_cancel(turn: Turn) -> bool:
    holding = await _own_holding(turn)
    return holding is not None and holding.subscription.cancel_at_period_end


CHANGE_PLAN = Flow(
    "change_plan", change_plan_start, {"plan_pick": plan_pick, "plan_confirm": plan_confirm}
)
FREEZE = Flow("freeze_membership", freeze_start, FREEZE_STATES)
CANCEL = Flow(
    "cancel_membership",
    cancel_start,
    {
        "cancel_reason": cancel_reason,
        "cancel_offer": cancel_offer,
        "cancel_undo": cancel_undo,
        **FREEZE_STATES,
    },
)
KEEP = Flow("keep_membership", keep_membership)
