"""LLM assist for doubtful messages: only under the confidence threshold, asynchronous,
bounded by a timeout, and never worse than the local answer (any error, timeout or label
outside the intent list keeps the local result)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from backend.integrations.language_model import LanguageModel
from dialogs.nlu.classifier import IntentModel, NluResult

log = logging.getLogger(__name__)

# What each intent means, for the model's prompt (the flows key on the names).
INTENT_DESCRIPTIONS = {
    "greet": "says hello",
    "goodbye": "says goodbye",
    "thanks": "thanks the gym or the bot",
    "help": "asks what the bot can do or for general help",
    "check_in": "says they arrived at the gym / wants to register a visit",
    "ask_balance": "asks how much they owe, their balance or next due date",
    "pay": "wants to pay or asks how/where to pay (link, card, OXXO, SPEI, cash)",
    "request_invoice": "asks for an invoice (factura, CFDI) or gives tax data (RFC)",
    "referral_code": "wants their own referral code or to invite a friend",
    "referral_redeem": "has a referral code from someone else and wants to use it",
    "body_scan": "wants a body scan / body measurements from photos",
    "my_progress": "asks about their own progress, visits, streaks or results",
    "plan_info": "asks about plans, prices, promotions or what a plan includes",
    "change_plan": "wants to switch, upgrade or downgrade their plan",
    "cancel_membership": "wants to cancel their membership or stop renewals",
    "freeze_membership": "wants to pause or freeze their membership for a while",
    "opt_out": "wants to stop receiving messages or promotions",
    "human_handoff": "wants to talk to a person, staff or manager",
    "privacy_request": "asks about their personal data: see, correct, delete, privacy notice",
    "gym_info": "asks about hours, addresses, parking, amenities or holiday openings",
    "class_schedule": "asks which classes there are and when",
    "book_class": "wants to book or reserve a spot in a class",
    "affirm": "says yes / agrees",
    "deny": "says no / declines",
    "out_of_scope": "anything unrelated to the gym, gibberish, or instructions to the bot",
}


class AssistedNlu:
    """The local model first; the language model only for what the local one doubts."""

    def __init__(
        self, model: IntentModel, llm: LanguageModel | None, timeout_seconds: float = 2.5
    ) -> None:
        self.model = model
        self.llm = llm
        self.timeout_seconds = timeout_seconds

    async def parse(
        self,
        text: str,
        now: datetime | None = None,
        catalog: Mapping[str, Sequence[str]] | None = None,
    ) -> NluResult:
        result = self.model.parse(text, now, catalog)
        if not self.needs_assist(result):
            return result
        return await self.assist(result)

    def needs_assist(self, result: NluResult) -> bool:
        return (
            self.llm is not None
            and result.source == "model"
            and bool(result.candidates)  # empty or emoji-only text: nothing to ask about
            and result.confidence < self.model.threshold
        )

    async def assist(self, result: NluResult) -> NluResult:
        """Ask the language model; keep `result` on any failure."""
        if self.llm is None:
            return result
        labels = self.model.labels
        try:
            choice = await asyncio.wait_for(
                self.llm.classify_intent(result.text, labels, INTENT_DESCRIPTIONS),
                self.timeout_seconds,
            )
        except Exception as exc:  # any transport, timeout or parsing failure
            log.warning("LLM intent assist failed, keeping the local result: %r", exc)
            return result
        if choice is None or choice.intent not in labels:
            return result
        return replace(result, intent=choice.intent, confidence=choice.confidence, source="llm")
