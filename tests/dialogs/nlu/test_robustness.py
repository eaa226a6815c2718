"""Any text gets a result, never an exception (property test over arbitrary Unicode)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dialogs.nlu.classifier import FALLBACK_INTENT, IntentModel
from dialogs.nlu.dates import resolve_when

NOW = datetime(2025, 9, 10, 10, 0, tzinfo=ZoneInfo("America/Mexico_City"))


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(max_size=300))
def test_parse_never_raises(nlu_model: IntentModel, text: str) -> None:
    result = nlu_model.parse(text, now=NOW)
    assert result.intent in {*nlu_model.labels, FALLBACK_INTENT}
    assert 0.0 <= result.confidence <= 1.0
    for e in result.entities:
        assert 0 <= e.start < e.end <= len(text)


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(alphabet=st.sampled_from(list("0123456789 /:.apmdelasyhoymañnjuev")), max_size=60)
)
def test_resolve_when_never_raises(text: str) -> None:
    when = resolve_when(text, NOW)
    if when is not None:
        assert text[when.start : when.end] == when.text
