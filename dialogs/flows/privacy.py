"""Consents, human handoff and privacy (LFPDPPP/ARCO) in the chat: "STOP"/"ALTA",
"quiero hablar con alguien", "aviso de privacidad", "qué datos tienen de mí",
"borra mis datos", and withdrawing the permission to use one's photos."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

from backend.consents.service import set_consent
from backend.errors import DomainError
from backend.handoff.service import open_ticket
from backend.messaging.service import queue_message
from backend.privacy.export import export_urls
from backend.privacy.service import (
    CodeMismatch,
    cancel_request,
    open_deletion_of,
    record_access,
    start_deletion,
    verify_deletion,
)
from backend.selfservice.service import is_open, next_opening
from dialogs import format as fmt
from dialogs.flows.answers import fold, is_no, number, retry, words
from dialogs.flows.membership import KEEP, has_pending_cancel, says_regret
from dialogs.turn import END, PASS, Flow, Turn

EXPORT_TTL = timedelta(hours=24)

_OPT_IN_WORD = re.compile(r"^\s*(start|alta|unstop|subscribe|suscribir\w*)\s*[.!]*\s*$")
_OPT_IN = re.compile(
    r"(volver a recibir|vuelvan a (mandar|enviar)|si quiero (recibir|las promo|promo)|"
    r"darme de alta|reactiv\w* (las )?promo|send me (promos|offers)|opt.?in\b)"
)
_NEGATION = re.compile(r"\b(no|ya no|dejen|stop|never|don'?t)\b")
_PHOTOS = re.compile(r"(foto|photo|imagen|biometr|escaneo|scan)")
_WITHDRAW = re.compile(
    r"(retir|revoc|no (usen|quiero|autorizo|acepto)|ya no|borr|quit|stop|don'?t|withdraw|"
    r"dejen de|no me)"
)
_NOTICE = re.compile(r"(aviso|privacy (notice|policy)|politica de privacidad)")
_DELETE = re.compile(
    r"(borr|elimin|suprim|cancelacion de (mis )?datos|olvid(en|ar)|delete|erase|remove my data)"
)
_EXPORT = re.compile(
    r"(que datos|mis datos|copia|export|descarg|acceso|what data|my data|download)"
)
_COMPLAINT = re.compile(
    r"(queja|quejar|reclam|pesim|malisim|horrible|inaceptable|mal servicio|molest|enojad|"
    r"complain|terrible|awful|unacceptable)"
)
_CODE = re.compile(r"^\s*(\d{6})\s*$")


def _actor(turn: Turn) -> str:
    return f"member:{turn.member.id}"


# --- consents -----------------------------------------------------------------------------------


def wants_opt_in(text: str) -> bool:
    folded = fold(text)
    if _OPT_IN_WORD.match(folded):
        return True
    return bool(_OPT_IN.search(folded)) and not _NEGATION.search(folded)


def about_photos(text: str) -> bool:
    return bool(_PHOTOS.search(fold(text)))


async def _marketing(turn: Turn, granted: bool) -> str:
    changed = await set_consent(
        turn.session,
        turn.member,
        "marketing",
        granted,
        channel=turn.message.channel,
        actor=_actor(turn),
        now=turn.now,
        source_text=turn.message.text,
    )
    if granted:
        turn.say("optin_done" if changed else "optin_already")
    else:
        turn.say("optout_done" if changed else "optout_already")
    return END


async def _photos(turn: Turn) -> str:
    granted = not _WITHDRAW.search(fold(turn.message.text))
    await set_consent(
        turn.session,
        turn.member,
        "biometrics",
        granted,
        channel=turn.message.channel,
        actor=_actor(turn),
        now=turn.now,
        source_text=turn.message.text,
    )
    turn.say("photos_granted" if granted else "photos_withdrawn")
    return END


async def opt_out_start(turn: Turn) -> str:
    text = turn.message.text
    if wants_opt_in(text):
        return await _marketing(turn, True)
    if about_photos(text):
        return await _photos(turn)
    return await _marketing(turn, False)


async def opt_in_start(turn: Turn) -> str:
    return await _marketing(turn, True)


# --- handoff ------------------------------------------------------------------------------------


async def handoff_start(turn: Turn) -> str:
    text = turn.message.text
    complaint = bool(_COMPLAINT.search(fold(text)))
    await open_ticket(
        turn.session,
        turn.member,
        summary=text,
        kind="complaint" if complaint else "question",
        channel=turn.message.channel,
        now=turn.now,
    )
    prefix = turn.text("handoff_complaint") if complaint else ""
    location = next(
        (loc for loc in turn.locations if loc.id == turn.member.home_location_id),
        turn.locations[0] if turn.locations else None,
    )
    settings = await turn.gym_settings()
    local = turn.now.astimezone(ZoneInfo(turn.gym.timezone))
    if location is None:
        turn.say("handoff_closed_now", when=turn.text("handoff_soon"))
        return END
    holidays = await turn.holidays(local.date(), local.date() + timedelta(days=8))
    if is_open(location, local, holidays):
        reply = turn.text(
            "handoff_open_now", location=location.name, minutes=settings.handoff_reply_minutes
        )
    else:
        opening = next_opening(location, local, holidays)
        when = turn.text("handoff_soon")
        if opening is not None:
            day = opening.date()
            label = (
                turn.text("class_today")
                if day == local.date()
                else turn.text("class_tomorrow")
                if day == local.date() + timedelta(days=1)
                else fmt.day(day, turn.lang)
            )
            when = turn.text("handoff_when", day=label, time=fmt.clock(opening, turn.lang))
        reply = turn.text("handoff_closed_now", when=when)
    turn.replies.append(prefix + reply)
    return END


# --- privacy ------------------------------------------------------------------------------------

_MENU = ("notice", "export", "delete", "opt_out", "photos")


async def privacy_start(turn: Turn) -> str:
    folded = fold(turn.message.text)
    if _NOTICE.search(folded):
        return await _notice(turn)
    if _PHOTOS.search(folded):
        return await _photos(turn)
    if _DELETE.search(folded):
        return await _delete(turn)
    if _EXPORT.search(folded):
        return await _export(turn)
    turn.say("privacy_menu")
    return "privacy_pick"


async def privacy_pick(turn: Turn) -> str:
    if is_no(turn):
        turn.say("deny_no_context")
        return END
    picked = number(turn, len(_MENU))
    if picked is None:
        if words(turn) > 1:
            return PASS
        return await retry(turn, "ss_pick_number", n=len(_MENU))
    choice = _MENU[picked - 1]
    if choice == "notice":
        return await _notice(turn)
    if choice == "export":
        return await _export(turn)
    if choice == "delete":
        return await _delete(turn)
    if choice == "opt_out":
        return await _marketing(turn, False)
    await set_consent(
        turn.session,
        turn.member,
        "biometrics",
        False,
        channel=turn.message.channel,
        actor=_actor(turn),
        now=turn.now,
        source_text=turn.message.text,
    )
    turn.say("photos_withdrawn")
    return END


async def _notice(turn: Turn) -> str:
    settings = await turn.gym_settings()
    if settings.privacy_notice_url:
        turn.say("privacy_notice", url=settings.privacy_notice_url)
    else:
        phone = f" ({turn.gym.phone})" if turn.gym.phone else ""
        turn.say("privacy_notice_missing", phone=phone)
    return END


async def _export(turn: Turn) -> str:
    request = await record_access(
        turn.session, turn.member, channel=turn.message.channel, actor=_actor(turn), now=turn.now
    )
    pdf_url, json_url = export_urls(
        turn.settings.public_base_url, turn.settings.secret_key, request, turn.now, EXPORT_TTL
    )
    hours = int(EXPORT_TTL.total_seconds() // 3600)
    # The file goes through the outbox (WhatsApp media is fetched by the provider).
    await queue_message(
        turn.session,
        gym_id=turn.gym.id,
        member_id=turn.member.id,
        channel=turn.message.channel,
        to=turn.message.sender,
        from_=turn.message.gym,
        body=turn.text("privacy_export_body", gym=turn.gym.name, json_url=json_url, hours=hours),
        now=turn.now,
        media_url=pdf_url,
    )
    turn.say("privacy_export_sent", hours=hours)
    return END


async def _delete(turn: Turn) -> str:
    pending = await open_deletion_of(turn.session, turn.gym.id, turn.member.id)
    if pending is not None and pending.due_at is not None:
        turn.say(
            "privacy_delete_pending",
            folio=f"P-{pending.id}",
            due=fmt.day(pending.due_at.astimezone(ZoneInfo(turn.gym.timezone)).date(), turn.lang),
        )
        return END
    request, code = await start_deletion(
        turn.session, turn.member, channel=turn.message.channel, now=turn.now
    )
    turn.slots["privacy_request_id"] = request.id
    turn.say("privacy_delete_explain", code=code)
    return "privacy_code"


async def privacy_code(turn: Turn) -> str:
    request_id = int(turn.slots["privacy_request_id"])
    if is_no(turn):
        await cancel_request(turn.session, turn.gym.id, request_id, actor=_actor(turn))
        turn.say("privacy_delete_canceled")
        return END
    code = _CODE.match(turn.message.text)
    if code is None:
        if words(turn) > 2 and turn.intent != "privacy_request":
            await cancel_request(turn.session, turn.gym.id, request_id, actor=_actor(turn))
            return PASS
        return await _code_retry(turn, request_id)
    try:
        request = await verify_deletion(
            turn.session, turn.gym.id, request_id, code.group(1), now=turn.now
        )
    except CodeMismatch as exc:
        if exc.details.get("expired"):
            turn.say("privacy_code_expired")
            return END
        return await _code_retry(turn, request_id)
    except DomainError:
        turn.say("privacy_code_expired")
        return END
    assert request.due_at is not None
    turn.say(
        "privacy_delete_registered",
        folio=f"P-{request.id}",
        due=fmt.day(request.due_at.astimezone(ZoneInfo(turn.gym.timezone)).date(), turn.lang),
    )
    return END


async def _code_retry(turn: Turn, request_id: int) -> str:
    outcome = await retry(turn, "privacy_code_wrong")
    if outcome == END:
        await cancel_request(turn.session, turn.gym.id, request_id, actor=_actor(turn))
    return outcome


# --- words the NLU has no intent for ---------------------------------------------------------


def with_selfservice_words(inner: Flow) -> Flow:
    """Catch what the NLU reads as help or out-of-scope: "START"/"ALTA" (opt back in),
    "me arrepentí" with a cancellation pending (keep the membership), and photo consents.
    Anything else goes to `inner`, whose name and states are kept."""

    async def start(turn: Turn) -> str:
        text = turn.message.text
        if wants_opt_in(text):
            return await opt_in_start(turn)
        if says_regret(text) and await has_pending_cancel(turn):
            return await KEEP.start(turn)
        if about_photos(text) and re.search(r"(consent|permiso|autoriz|usen|use)", fold(text)):
            return await _photos(turn)
        return await inner.start(turn)

    return Flow(inner.name, start, inner.states, inner.timeout)


OPT_OUT = Flow("opt_out", opt_out_start)
HANDOFF = Flow("human_handoff", handoff_start)
PRIVACY = Flow(
    "privacy_request", privacy_start, {"privacy_pick": privacy_pick, "privacy_code": privacy_code}
)
