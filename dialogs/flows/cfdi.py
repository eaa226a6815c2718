"""Invoices in the chat: "necesito factura" captures the member's fiscal data once (RFC,
name as in the Constancia, régimen, CP, uso CFDI — each checked the way SAT checks it),
confirms, saves, and has this month's payments stamped and sent here. "cambiar mis datos
fiscales" goes through the same capture."""

from __future__ import annotations

import re
from datetime import timedelta

from backend.cfdi.catalogs import (
    OFFERED_REGIMENES,
    FiscalDataError,
    PersonKind,
    check_postal_code,
    check_regimen,
    check_rfc,
    check_uso,
    normalize_name,
    regimen_name,
    uso_name,
    usos_for,
)
from backend.cfdi.globals import period_label
from backend.cfdi.receptor import FiscalData, member_profile, save_member_profile
from backend.cfdi.service import nominative_request
from backend.payments.models import Payment
from dialogs import format as fmt
from dialogs.flows.answers import is_no, is_yes
from dialogs.nlu.normalize import strip_accents
from dialogs.turn import END, PASS, Flow, Turn

_CHANGE = re.compile(
    r"\b(cambi\w*|actualiz\w*|correg\w*|corrig\w*|modific\w*|change|update|correct)\b"
)
_DATA = re.compile(r"\b(datos?|rfc|fiscal\w*|razon social|regimen|codigo postal|cp|tax|details)\b")
_NUMBER = re.compile(r"^\s*(?:opcion\s+|la\s+|el\s+|#)?(\d{1,3})\s*[.)]?\s*$")
MAX_TRIES = 3


def _fold(text: str) -> str:
    return strip_accents(text.lower()).strip(" .!¡?¿")


def wants_change(text: str) -> bool:
    folded = _fold(text)
    return bool(_CHANGE.search(folded) and _DATA.search(folded))


async def start(turn: Turn) -> str:
    profile = await member_profile(turn.session, turn.gym.id, turn.member.id)
    if profile is None or wants_change(turn.message.text):
        turn.slots.clear()
        said = turn.nlu.entity("rfc")
        if said:
            return await ask_rfc(turn, said)
        turn.say("cfdi_ask_rfc" if profile is None else "cfdi_ask_rfc_update")
        return "rfc"
    await honor(turn, profile.rfc)
    return END


async def _retry(turn: Turn, key: str, **values: object) -> str:
    """Explain what to fix and ask again; a different request ("aviso de privacidad" while
    an RFC is expected) leaves the flow and is answered instead."""
    if turn.changed_subject("request_invoice"):
        return PASS
    tries = int(turn.slots.get("tries", 0)) + 1
    if tries >= MAX_TRIES:
        turn.say("cfdi_give_up")
        return END
    turn.slots["tries"] = tries
    turn.say(key, **values)
    return turn.conversation.state or END


async def ask_rfc(turn: Turn, text: str | None = None) -> str:
    raw = text or turn.nlu.entity("rfc") or turn.message.text
    try:
        checked = check_rfc(raw)
    except FiscalDataError as exc:
        turn.conversation.state = "rfc"
        return await _retry(turn, f"cfdi_rfc_{exc.reason}")
    turn.slots.update(rfc=checked.rfc, person=checked.person, tries=0)
    turn.say(f"cfdi_ask_name_{checked.person}")
    return "name"


async def rfc_state(turn: Turn) -> str:
    return await ask_rfc(turn)


async def name_state(turn: Turn) -> str:
    person: PersonKind = turn.slots["person"]
    try:
        name = normalize_name(turn.message.text, person)
    except FiscalDataError:
        return await _retry(turn, "cfdi_name_bad")
    turn.slots.update(name=name, tries=0)
    turn.say("cfdi_ask_regimen", options=_regimen_options(turn))
    return "regimen"


def _regimen_options(turn: Turn) -> str:
    codes = OFFERED_REGIMENES[turn.slots["person"]]
    return "\n".join(f"{i}. {regimen_name(c)} ({c})" for i, c in enumerate(codes, start=1))


def _pick(text: str, options: tuple[str, ...]) -> str:
    """A number from the list (1…n) or the SAT code itself ("612", "G03")."""
    folded = _fold(text)
    number = _NUMBER.match(folded)
    if number and len(number.group(1)) <= 2:
        index = int(number.group(1)) - 1
        if 0 <= index < len(options):
            return options[index]
    code = re.search(r"\b(\d{3}|[a-z]{1,2}\d{2})\b", folded)
    return code.group(1).upper() if code else ""


async def regimen_state(turn: Turn) -> str:
    person: PersonKind = turn.slots["person"]
    code = _pick(turn.message.text, OFFERED_REGIMENES[person])
    try:
        regimen = check_regimen(code, person)
    except FiscalDataError as exc:
        if exc.reason == "person":
            return await _retry(
                turn,
                "cfdi_regimen_person",
                code=code,
                person=turn.text(f"cfdi_person_{person}"),
                options=_regimen_options(turn),
            )
        return await _retry(turn, "cfdi_regimen_unknown", options=_regimen_options(turn))
    turn.slots.update(regimen=regimen, tries=0)
    turn.say("cfdi_ask_cp")
    return "cp"


async def cp_state(turn: Turn) -> str:
    digits = re.sub(r"[^\d]", "", turn.message.text)
    try:
        cp = check_postal_code(digits)
    except FiscalDataError as exc:
        if exc.reason == "unknown":
            return await _retry(turn, "cfdi_cp_unknown", cp=digits)
        return await _retry(turn, "cfdi_cp_format")
    turn.slots.update(cp=cp, tries=0)
    usos = usos_for(turn.slots["regimen"])
    if len(usos) == 1:  # nothing to choose (e.g. sueldos y salarios: only S01)
        turn.slots["uso"] = usos[0]
        return _confirm(turn)
    turn.say("cfdi_ask_uso", options=_uso_options(turn))
    return "uso"


def _uso_options(turn: Turn) -> str:
    usos = usos_for(turn.slots["regimen"])
    return "\n".join(f"{i}. {uso_name(u)}" for i, u in enumerate(usos, start=1))


async def uso_state(turn: Turn) -> str:
    regimen = turn.slots["regimen"]
    code = _pick(turn.message.text, usos_for(regimen))
    try:
        uso = check_uso(code, regimen) if code else ""
    except FiscalDataError as exc:
        if exc.reason == "regimen":
            return await _retry(
                turn, "cfdi_uso_regimen", regimen=regimen, options=_uso_options(turn)
            )
        uso = ""
    if not uso:
        return await _retry(turn, "cfdi_uso_unknown", options=_uso_options(turn))
    turn.slots.update(uso=uso, tries=0)
    return _confirm(turn)


def _confirm(turn: Turn) -> str:
    s = turn.slots
    turn.say(
        "cfdi_confirm",
        rfc=s["rfc"],
        name=s["name"],
        regimen=f"{s['regimen']} {regimen_name(s['regimen'])}",
        cp=s["cp"],
        uso=f"{s['uso']} {uso_name(s['uso'])}",
    )
    return "confirm"


async def confirm_state(turn: Turn) -> str:
    if is_no(turn):
        turn.say("cfdi_not_saved")
        return END
    if not is_yes(turn):
        return await _retry(turn, "cfdi_confirm_again")
    s = turn.slots
    data = FiscalData(s["rfc"], s["name"], s["regimen"], s["cp"], s["uso"])
    try:
        await save_member_profile(
            turn.session,
            turn.gym.id,
            turn.member.id,
            data,
            actor=f"member:{turn.member.id}",
            now=turn.now,
        )
    except FiscalDataError:
        turn.say("cfdi_not_saved")
        return END
    turn.say("cfdi_saved")
    await honor(turn, data.rfc)
    return END


def _payments_text(turn: Turn, payments: list[Payment]) -> str:
    return fmt.join_list([fmt.money(p.amount_cents) for p in payments], turn.text("and"))


async def honor(turn: Turn, rfc: str) -> None:
    """Invoice this month's payments now (or say why not)."""
    outcome = await nominative_request(turn.session, turn.settings, turn.gym, turn.member, turn.now)
    if not outcome.gym_ready:
        phone = f" ({turn.gym.phone})" if turn.gym.phone else ""
        turn.say("cfdi_gym_not_ready", phone=phone)
        return
    said = False
    if outcome.queued:
        turn.say("cfdi_queued", payments=_payments_text(turn, outcome.queued))
        said = True
    if outcome.in_progress:
        amounts = fmt.join_list(
            [fmt.money(d.total_cents) for d in outcome.in_progress], turn.text("and")
        )
        turn.say("cfdi_in_progress", payments=amounts)
        said = True
    if outcome.resent:
        amounts = fmt.join_list(
            [fmt.money(d.total_cents) for d in outcome.resent], turn.text("and")
        )
        turn.say("cfdi_resent", payments=amounts)
        said = True
    for payment, general in outcome.in_global:
        turn.say(
            "cfdi_in_global",
            payment=fmt.money(payment.amount_cents),
            period=period_label(general, turn.lang),
        )
        said = True
    if not said:
        turn.say("cfdi_nothing", rfc=rfc)
    turn.say("cfdi_change_hint")


REQUEST_INVOICE = Flow(
    "request_invoice",
    start,
    {
        "rfc": rfc_state,
        "name": name_state,
        "regimen": regimen_state,
        "cp": cp_state,
        "uso": uso_state,
        "confirm": confirm_state,
    },
    timeout=timedelta(minutes=30),
)


_FISCAL = re.compile(r"\b(fiscal\w*|rfc|factur\w*|cfdi|razon social|constancia|tax details)\b")


def mentions_fiscal_data(text: str) -> bool:
    return bool(_FISCAL.search(_fold(text)))


def with_fiscal_words(inner: Flow) -> Flow:
    """ "cambiar mis datos fiscales" reads as a privacy request (or nothing) to the NLU: a
    message about fiscal data goes to the invoice flow; anything else to `inner`."""

    async def route(turn: Turn) -> str:
        if mentions_fiscal_data(turn.message.text):
            return await start(turn)
        return await inner.start(turn)

    return Flow(
        f"{inner.name}+cfdi", route, {**inner.states, **REQUEST_INVOICE.states}, inner.timeout
    )
