"""The dialogue manager: one inbound message in, replies out, in one transaction.

The turn runs under the conversation's lock: a re-delivered message (same provider id)
returns the replies stored the first time and changes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.conversations.locks import ConversationLocks
from backend.conversations.models import Message
from backend.conversations.service import (
    ConversationState,
    InboundRecord,
    attach_member,
    find_inbound,
    log_message,
    receive,
    replies_to,
    save_turn,
)
from backend.errors import InvalidInput, NotFound
from backend.gyms.models import Gym
from backend.gyms.service import GymDirectory
from backend.integrations.fake_payments import FakePaymentProvider
from backend.integrations.language_model import LanguageModel
from backend.members.service import create_prospect, record_event
from backend.messaging.service import queue_message
from backend.payments.provider import PaymentProvider
from backend.phones import InvalidPhone, normalize_phone, strip_channel
from backend.settings import Settings
from backend.types import utcnow
from dialogs.catalog import t
from dialogs.flows import FLOWS, INTENT_FLOWS
from dialogs.flows.onboarding import ONBOARDING, PROSPECT_GREET, WELCOME_INTENTS
from dialogs.messages import InboundMessage, OutboundMessage, TurnResult
from dialogs.nlu.assist import AssistedNlu
from dialogs.nlu.classifier import IntentModel, NluResult
from dialogs.nlu.language import clear_language
from dialogs.nlu.normalize import normalize
from dialogs.turn import END, PASS, Flow, Turn

# Words that always leave the current flow and show the menu. ("cancelar" is not one: it
# means cancelling the membership.)
ESCAPE_WORDS = frozenset({"menu", "salir", "inicio", "ayuda", "help", "exit"})
# Consent keywords are honoured whatever the member was doing: they end any flow and are
# routed like a fresh message (opt-out must take effect at once).
CONSENT_WORDS = frozenset({"stop", "baja", "start", "alta", "unsubscribe"})
MAX_TEXT_CHARS = 1600
LANGUAGE_SWITCH_WORDS = 3


class DialogueEngine:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        nlu: IntentModel,
        locks: ConversationLocks | None = None,
        clock: Callable[[], datetime] = utcnow,
        *,
        llm: LanguageModel | None = None,
        payments: PaymentProvider | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.settings = settings
        # The local model answers; the language model (when configured) only for doubts.
        self.nlu = AssistedNlu(nlu, llm, settings.openai_timeout_seconds)
        self.payments = payments or FakePaymentProvider()
        self.locks = locks or ConversationLocks()
        self.clock = clock
        self.gyms = GymDirectory()

    async def handle(self, msg: InboundMessage) -> TurnResult:
        started = time.monotonic()
        try:
            phone = normalize_phone(msg.sender)
            gym_number = normalize_phone(strip_channel(msg.gym), default_region="US")
        except InvalidPhone as exc:
            raise InvalidInput("Número de teléfono inválido.", "Invalid phone number.") from exc
        nlu = await self.nlu.parse(msg.text[:MAX_TEXT_CHARS])
        async with self.locks.turn(self.sessionmaker, msg.channel, gym_number, phone) as session:
            return await self._turn(session, msg, nlu, phone, gym_number, started)

    async def _turn(
        self,
        session: AsyncSession,
        msg: InboundMessage,
        nlu: NluResult,
        phone: str,
        gym_number: str,
        started: float,
    ) -> TurnResult:
        snapshot = await self.gyms.by_number(session, gym_number)
        if snapshot is None:
            raise NotFound(
                "Este número no pertenece a ningún gimnasio.",
                "This number does not belong to any gym.",
            )
        gym, now = snapshot.gym, self.clock()
        sender, inbound_id = await receive(session, gym.id, phone, _record(msg, nlu), now)
        member = sender.member
        if inbound_id is None:  # a re-delivery: answer what the first delivery stored
            stored = await find_inbound(session, msg.channel, msg.provider_id)
            assert stored is not None
            return await _stored_result(session, stored)
        # One or two words ("STOP", "ok", "gracias") say little about the language: a known
        # member keeps theirs unless they leave no doubt ("ya llegué"); longer messages
        # decide. What is said switches the member's locale (below).
        if len(msg.text.split()) >= LANGUAGE_SWITCH_WORDS or member is None:
            said = nlu.language
        else:
            said = clear_language(msg.text)
        lang = said or (member.locale if member else "es")
        if member is None:
            if not gym.enrollment_open:
                return self._closed_enrollment(session, gym, msg, lang, now, inbound_id)
            member = await create_prospect(session, gym, phone, msg.sender, lang, now)
            await attach_member(session, inbound_id, member.id)
            event = {"intent": nlu.intent, "channel": msg.channel}
            await record_event(session, gym.id, member.id, "message_in", event, now)
        elif said and said != member.locale:
            member.locale = said
        convo = sender.conversation or ConversationState()
        turn = Turn(
            session=session,
            settings=self.settings,
            gym=gym,
            locations=snapshot.locations,
            member=member,
            conversation=convo,
            message=msg,
            nlu=nlu,
            lang=lang,
            now=now,
            payments=self.payments,
            snapshot=snapshot,
            slots=dict(convo.slots),
        )
        await self._dispatch(turn, silenced=sender.silenced)
        convo.slots = dict(turn.slots)
        convo.last_inbound_at = now
        inline = time.monotonic() - started < self.settings.inline_reply_seconds
        await save_turn(
            session,
            gym_id=gym.id,
            member_id=member.id,
            channel=msg.channel,
            address=msg.sender,
            convo=convo,
            replies=turn.replies if inline else (),
            reply_to_id=inbound_id,
            now=now,
        )
        if inline:
            return TurnResult([OutboundMessage(text) for text in turn.replies])
        for text in turn.replies:  # too late for the webhook's answer: send through the outbox
            await queue_message(
                session,
                gym_id=gym.id,
                member_id=member.id,
                channel=msg.channel,
                to=msg.sender,
                from_=msg.gym,
                body=text,
                now=now,
                reply_to_id=inbound_id,
            )
        return TurnResult(queued=True)

    def _closed_enrollment(
        self,
        session: AsyncSession,
        gym: Gym,
        msg: InboundMessage,
        lang: str,
        now: datetime,
        inbound_id: int,
    ) -> TurnResult:
        """Unknown number, closed enrollment: answer politely and record no member."""
        text = t(lang, "enrollment_closed", gym=gym.name)
        _log_inline_reply(session, gym.id, None, msg, text, now, inbound_id)
        return TurnResult([OutboundMessage(text)])

    async def _dispatch(self, turn: Turn, *, silenced: bool) -> None:
        convo, msg = turn.conversation, turn.message
        if convo.flow and convo.expires_at and convo.expires_at <= turn.now:
            convo.flow, convo.state, turn.slots = None, None, {}
        word = normalize(msg.text)
        if word in CONSENT_WORDS:
            convo.flow, convo.state, turn.slots = None, None, {}
        if word in ESCAPE_WORDS:
            convo.flow, convo.state, turn.slots = None, None, {}
            _move(turn, INTENT_FLOWS["help"], await INTENT_FLOWS["help"].start(turn))
            return
        if silenced:
            return  # a person is answering this member (handoff ticket): the bot keeps quiet
        if len(msg.text) > MAX_TEXT_CHARS:
            turn.say("too_long")
            return
        elif not msg.text.strip() and msg.location is None:
            turn.say("media_unsupported" if msg.media else "fallback")
            return

        if convo.flow and convo.state:
            flow = FLOWS.get(convo.flow)
            handler = flow.states.get(convo.state) if flow else None
            if flow and handler:
                outcome = await handler(turn)
                if outcome != PASS:
                    _move(turn, flow, outcome)
                    return
            convo.flow, convo.state, turn.slots = None, None, {}

        flow = self._route(turn)
        _move(turn, flow, await flow.start(turn))

    def _route(self, turn: Turn) -> Flow:
        member = turn.member
        if member.status == "prospect" and member.name is None and turn.intent in WELCOME_INTENTS:
            return ONBOARDING
        if turn.message.location is not None:
            return INTENT_FLOWS["check_in"]
        if member.status == "prospect" and turn.intent == "greet":
            return PROSPECT_GREET
        return INTENT_FLOWS.get(turn.intent, INTENT_FLOWS["out_of_scope"])


def _move(turn: Turn, flow: Flow, outcome: str) -> None:
    convo = turn.conversation
    if outcome in (END, PASS):
        convo.flow, convo.state, convo.expires_at, turn.slots = None, None, None, {}
    else:
        convo.flow, convo.state = flow.name, outcome
        convo.expires_at = turn.now + flow.timeout


def _log_inline_reply(
    session: AsyncSession,
    gym_id: int,
    member_id: int | None,
    msg: InboundMessage,
    text: str,
    now: datetime,
    inbound_id: int,
) -> None:
    """Log a reply that goes back in the webhook's TwiML answer."""
    log_message(
        session,
        gym_id=gym_id,
        member_id=member_id,
        channel=msg.channel,
        direction="out",
        address=msg.sender,
        body=text,
        now=now,
        reply_to_id=inbound_id,
        status="inline",
    )


def _record(msg: InboundMessage, nlu: NluResult) -> InboundRecord:
    media: list[dict[str, Any]] | None = [
        {"url": m.url, "content_type": m.content_type} for m in msg.media
    ] or None
    if msg.location is not None:
        point = {"latitude": msg.location.latitude, "longitude": msg.location.longitude}
        media = [*(media or []), point]
    return InboundRecord(
        channel=msg.channel,
        provider_id=msg.provider_id,
        address=msg.sender,
        body=msg.text,
        media=media,
        intent=nlu.intent,
        confidence=round(nlu.confidence, 4),
    )


async def _stored_result(session: AsyncSession, inbound: Message) -> TurnResult:
    replies = await replies_to(session, inbound.id)
    inline = [OutboundMessage(r.body) for r in replies if r.status == "inline"]
    return TurnResult(inline, duplicate=True, queued=len(inline) < len(replies))
