"""One turn of a conversation: what flows read (the member, the message, NLU) and write."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from backend.conversations.service import ConversationState
from backend.gyms.models import Gym, Location
from backend.gyms.service import GymSnapshot, Loader
from backend.members.models import Member
from backend.payments.provider import PaymentProvider
from backend.selfservice.models import GymHoliday
from backend.selfservice.service import GymServiceSettings, holidays_between, settings_of
from backend.settings import Settings
from dialogs.catalog import t
from dialogs.messages import InboundMessage
from dialogs.nlu.classifier import NluResult

END = "__end__"  # the flow is over
PASS = "__pass__"  # not for this flow: end it and route the message by intent
T = TypeVar("T")


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
    snapshot: GymSnapshot  # where `gym` and `locations` come from, with its shared data
    slots: dict[str, Any] = field(default_factory=dict)
    replies: list[str] = field(default_factory=list)

    def say(self, key: str, **values: Any) -> None:
        self.replies.append(t(self.lang, key, **values))

    def text(self, key: str, **values: Any) -> str:
        return t(self.lang, key, **values)

    async def reference(self, key: str, load: Loader[T]) -> T:
        """Gym data the chat only reads, shared by the gym's turns for the snapshot's life
        (`GymDirectory.ttl`): a change shows in the chat within that time."""
        return await self.snapshot.reference(self.session, key, load)

    async def gym_settings(self) -> GymServiceSettings:
        return await self.reference("settings", lambda s: settings_of(s, self.gym.id))

    async def holidays(self, start: date, end: date) -> list[GymHoliday]:
        gym_id = self.gym.id
        return await self.reference(
            f"holidays:{start}:{end}", lambda s: holidays_between(s, gym_id, start, end)
        )

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
