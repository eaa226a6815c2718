"""Entities in the parse result: spans on the original text, normalized values."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from dialogs.nlu.classifier import IntentModel

NOW = datetime(2025, 9, 10, 10, 0, tzinfo=ZoneInfo("America/Mexico_City"))


@pytest.mark.parametrize(
    ("text", "entity", "value", "surface"),
    [
        ("pago con tarjeta de débito", "payment_method", "card", "tarjeta de débito"),
        ("mejor en el OXXO", "payment_method", "oxxo", "el OXXO"),
        ("te hago transferencia", "payment_method", "spei", "transferencia"),
        ("pago en efectivo en recepción", "payment_method", "cash", "en efectivo"),
        ("mi código es ANA-4821", "referral_code", "ANA-4821", "ANA-4821"),
        ("vengo con PACO2024", "referral_code", "PACO2024", "PACO2024"),
        ("factura a GODE561231GR8 porfa", "rfc", "GODE561231GR8", "GODE561231GR8"),
        ("ya pagué $1,250.50", "amount", "1250.50", "$1,250.50"),
        ("te deposité 500 pesos", "amount", "500.00", "500 pesos"),
        ("resérvame spining mañana a las 7", "time", "2025-09-11T07:00", "mañana a las 7"),
        ("¿abren el 16 de septiembre?", "time", "2025-09-16", "el 16 de septiembre"),
        ("quiero spining", "class_name", "spinning", "spining"),
        ("me cambio al premium", "plan", "premium", "premium"),
        ("ya llegué a polanco", "location", "polanco", "polanco"),
    ],
)
def test_entities(nlu_model: IntentModel, text: str, entity: str, value: str, surface: str) -> None:
    result = nlu_model.parse(text, now=NOW)
    found = [e for e in result.entities if e.entity == entity]
    assert found, result.entities
    assert (found[0].value, text[found[0].start : found[0].end]) == (value, surface)


def test_the_gyms_own_catalog_wins_over_the_lookups(nlu_model: IntentModel) -> None:
    catalog = {"location": ["Satélite"], "class_name": ["Body Pump"], "plan": ["Oro"]}
    result = nlu_model.parse("body pum en satelite, plan oro", now=NOW, catalog=catalog)
    assert {(e.entity, e.value) for e in result.entities} == {
        ("class_name", "Body Pump"),
        ("location", "Satélite"),
        ("plan", "Oro"),
    }


def test_language_field(nlu_model: IntentModel) -> None:
    assert nlu_model.parse("cuánto debo este mes?").language == "es"
    assert nlu_model.parse("how much do I owe?").language == "en"
    assert nlu_model.parse("ok").language is None
