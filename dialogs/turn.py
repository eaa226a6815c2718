"""One turn of a conversation: what flows read (the member, the message, NLU) and write."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from backend.conversations.service import ConversationState
from backend.gyms.models import Gym, Location
from backend.members.models import Member
from backend.payments.provider import PaymentProvider
from backend.settings import Settings
from dialogs.catalog import t
from dialogs.messages import InboundMessage
from dialogs.nlu.classifier import NluResult

END = "__end__"  # the flow is over
PASS = "__pass__"  # not for this flow: end it and route the message by intent


@dataclass
class Turn:
    session: AsyncSession
    settings: Settings
    gym: Gym
    locations: Sequence[Location]
    member: Member
    conversation: ConversationState
    message: InboundMessage
    nlu: NluResult
    lang: str
    now: datetime
    # Outside services flows may call (charging a saved card, creating a payment link).
    payments: PaymentProvider
    slots: dict[str, Any] = field(default_factory=dict)
    replies: list[str] = field(default_factory=list)

    def say(self, key: str, **values: Any) -> None:
        self.replies.append(t(self.lang, key, **values))

    def text(self, key: str, **values: Any) -> str:
        return t(self.lang, key, **values)

    @property
    def intent(self) -> str:
        return self.nlu.intent

    def changed_subject(self, *staying: str) -> bool:
        """The member confidently asked for something else (not yes/no, not unclear, not one
        of the flow's own intents): the flow should let the new request through."""
        return (
            self.intent not in {"affirm", "deny", "out_of_scope", "thanks", *staying}
            and self.nlu.confidence >= self.settings.nlu_confidence_threshold
        )


Handler = Callable[[Turn], Awaitable[str]]


@dataclass(frozen=True)
class Flow:
    """A declarative flow: `start` runs on entry; each state's handler returns the next
    state, END, or PASS. An unanswered flow times out and the next message starts fresh."""

    name: str
    start: Handler
    states: Mapping[str, Handler] = field(default_factory=dict)
    timeout: timedelta = timedelta(minutes=15)
