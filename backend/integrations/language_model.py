"""The `LanguageModel` port: a chat model asked to pick one label from a closed list.

The real adapter is `backend.integrations.openai_llm.OpenAILanguageModel`; tests and the
embedded demo use `FakeLanguageModel` (or a local OpenAI-compatible server).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class IntentChoice:
    intent: str
    confidence: float  # the model's own 0–1 estimate; 0.5 when it gives none


class LanguageModel(Protocol):
    async def classify_intent(
        self, text: str, intents: Sequence[str], descriptions: dict[str, str]
    ) -> IntentChoice | None:
        """One of `intents` for `text`, or None when the model cannot say. May raise on
        transport errors and timeouts; callers fall back to their own answer."""
        ...


class FakeLanguageModel:
    """Answers from a fixed table (text → intent); None for anything else."""

    def __init__(self, answers: dict[str, str]) -> None:
        self.answers = answers
        self.calls: list[str] = []

    async def classify_intent(
        self, text: str, intents: Sequence[str], descriptions: dict[str, str]
    ) -> IntentChoice | None:
        self.calls.append(text)
        intent = self.answers.get(text)
        return IntentChoice(intent, 0.9) if intent else None
