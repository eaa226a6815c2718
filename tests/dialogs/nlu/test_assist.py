"""LLM assist through langchain-openai against a local OpenAI-compatible HTTP server."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from backend.integrations.language_model import FakeLanguageModel
from backend.integrations.openai_llm import OpenAILanguageModel
from backend.settings import Settings
from dialogs.nlu.assist import AssistedNlu
from dialogs.nlu.classifier import FALLBACK_INTENT, IntentModel
from dialogs.nlu.data import TrainingData, load_training_data

DOUBTFUL = "zzkq vvbx pplt"


class FakeOpenAI(ThreadingHTTPServer):
    """Speaks `POST /v1/chat/completions`, answering with a forced tool call."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.mode = "ok"
        self.answer: dict[str, Any] = {"intent": "pay", "confidence": 0.8}
        self.requests: list[dict[str, Any]] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class _Handler(BaseHTTPRequestHandler):
    server: FakeOpenAI

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append(body)
        if self.server.mode == "error":
            self._send(500, {"error": {"message": "boom", "type": "server_error"}})
            return
        if self.server.mode == "slow":
            time.sleep(1.5)
        if self.server.mode == "garbage":
            self._send(200, {"nonsense": True})
            return
        tool = body["tools"][0]["function"]["name"]
        message = {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": tool, "arguments": json.dumps(self.server.answer)},
                }
            ],
        }
        self._send(
            200,
            {
                "id": "chatcmpl-test",
                "object": "chat.completion",
                "created": 1_700_000_000,
                "model": body["model"],
                "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
            },
        )

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        raw = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _assisted(nlu_model: IntentModel, server: FakeOpenAI, timeout: float = 1.0) -> AssistedNlu:
    settings = Settings(
        openai_api_key="sk-test",
        openai_base_url=server.base_url,
        openai_model="test-model",
        openai_timeout_seconds=timeout,
        _env_file=None,  # type: ignore[call-arg]
    )
    llm = OpenAILanguageModel.from_settings(settings)
    assert llm is not None
    strict = IntentModel(nlu_model.pipeline, _data(), threshold=0.99)
    return AssistedNlu(strict, llm, timeout_seconds=timeout)


def _data() -> TrainingData:
    return load_training_data(Path(__file__).resolve().parents[3] / "nlu_data")


def test_no_key_means_no_assist() -> None:
    assert OpenAILanguageModel.from_settings(Settings(_env_file=None)) is None  # type: ignore[call-arg]


async def test_low_confidence_message_is_classified_by_the_model(
    nlu_model: IntentModel, fake_openai: FakeOpenAI
) -> None:
    nlu = _assisted(nlu_model, fake_openai)
    result = await nlu.parse(DOUBTFUL)
    assert (result.intent, result.source, result.confidence) == ("pay", "llm", 0.8)
    [request] = fake_openai.requests
    assert request["model"] == "test-model"
    schema = request["tools"][0]["function"]["parameters"]
    assert set(schema["properties"]["intent"]["enum"]) == set(nlu_model.labels)
    assert request["messages"][-1] == {"role": "user", "content": DOUBTFUL}


async def test_confident_and_rule_results_never_reach_the_model(
    nlu_model: IntentModel, fake_openai: FakeOpenAI
) -> None:
    nlu = AssistedNlu(nlu_model, FakeLanguageModel({}), timeout_seconds=1.0)
    assert (await nlu.parse("hola buenas tardes")).source == "model"
    assert (await nlu.parse("CHECKIN CENTRO 123456")).source == "rule"
    assert (await nlu.parse("")).intent == FALLBACK_INTENT
    assert nlu.llm is not None and nlu.llm.calls == []  # type: ignore[attr-defined]


@pytest.mark.parametrize("mode", ["error", "slow", "garbage", "invalid_intent"])
async def test_any_failure_keeps_the_local_result(
    nlu_model: IntentModel, fake_openai: FakeOpenAI, mode: str
) -> None:
    fake_openai.mode = "ok" if mode == "invalid_intent" else mode
    fake_openai.answer = {"intent": "launch_rockets"}
    nlu = _assisted(nlu_model, fake_openai, timeout=0.5)
    local = nlu.model.parse(DOUBTFUL)
    started = time.monotonic()
    result = await nlu.parse(DOUBTFUL)
    assert time.monotonic() - started < 1.4  # the timeout, not the server, decides
    assert (result.intent, result.source) == (local.intent, "model")
    assert result.intent == FALLBACK_INTENT
