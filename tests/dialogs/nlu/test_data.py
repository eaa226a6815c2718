"""Reading Rasa 3.x NLU YAML: annotations, entity spans, regexes, synonyms, fingerprint."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from dialogs.nlu.data import EntitySpan, Example, load_training_data, parse_example
from dialogs.nlu.normalize import normalize

NLU_DATA = Path(__file__).resolve().parents[3] / "nlu_data"
FLOW_INTENTS = {
    "greet", "help", "check_in", "affirm", "deny", "thanks", "goodbye", "out_of_scope",
    "plan_info", "gym_info",
}  # fmt: skip


def test_parse_example_with_entity_name() -> None:
    ex = parse_example("me refirió Ana, su código es [ANA-4821](referral_code)", "referral_redeem")
    assert ex.text == "me refirió Ana, su código es ANA-4821"
    assert ex.intent == "referral_redeem"
    assert ex.entities == (EntitySpan("referral_code", "ANA-4821", 29, 37),)
    assert ex.text[29:37] == "ANA-4821"


def test_parse_example_with_json_annotation() -> None:
    raw = 'quiero pagar en [oxxo]{"entity": "payment_method", "value": "oxxo"} hoy'
    ex = parse_example(raw, "pay")
    assert ex.text == "quiero pagar en oxxo hoy"
    [span] = ex.entities
    assert span == EntitySpan("payment_method", "oxxo", 16, 20)
    assert ex.text[span.start : span.end] == "oxxo"


def test_json_value_may_differ_from_the_surface_text() -> None:
    ex = parse_example('hay [spin]{"entity": "class_name", "value": "spinning"} en la tarde', "x")
    [span] = ex.entities
    assert (span.entity, span.value) == ("class_name", "spinning")
    assert ex.text[span.start : span.end] == "spin"


def test_json_without_value_uses_the_surface_text() -> None:
    ex = parse_example('pago con [spei]{"entity": "payment_method"}', "pay")
    assert ex.entities == (EntitySpan("payment_method", "spei", 9, 13),)


def test_several_annotations_keep_their_spans() -> None:
    raw = 'cambio a [premium](plan) en [norte]{"entity": "location"} y pago [cash](payment_method)'
    ex = parse_example(raw, "change_plan")
    assert ex.text == "cambio a premium en norte y pago cash"
    assert [(s.entity, ex.text[s.start : s.end]) for s in ex.entities] == [
        ("plan", "premium"),
        ("location", "norte"),
        ("payment_method", "cash"),
    ]


def test_plain_example_has_no_entities() -> None:
    ex = parse_example("hola, ¿qué tal? [sin anotación]", "greet")
    assert ex.text == "hola, ¿qué tal? [sin anotación]"
    assert ex.entities == ()


def test_real_data_has_every_intent_the_flows_use() -> None:
    data = load_training_data(NLU_DATA)
    counts: dict[str, int] = {}
    for ex in data.examples:
        counts[ex.intent] = counts.get(ex.intent, 0) + 1
    missing = FLOW_INTENTS - set(counts)
    assert not missing
    thin = {intent: n for intent, n in counts.items() if n < 20}
    assert not thin, f"too few examples: {thin}"


def test_real_data_annotations_are_all_parsed() -> None:
    data = load_training_data(NLU_DATA)
    assert any(ex.entities for ex in data.examples)
    for ex in data.examples:
        assert ex.text and ex.text == ex.text.strip()
        assert not re.search(r"\]\(|\]\{", ex.text), ex.text  # no annotation left unparsed
        for span in ex.entities:
            assert 0 <= span.start < span.end <= len(ex.text), ex


def test_real_data_has_no_twins_once_normalized() -> None:
    # A twin would sit in both the training and the test folds of cross-validation,
    # and a twin with another label is a contradiction the model cannot learn.
    seen: dict[str, Example] = {}
    twins = []
    for ex in load_training_data(NLU_DATA).examples:
        key = normalize(ex.text)
        if key in seen:
            twins.append((seen[key].intent, seen[key].text, ex.intent, ex.text))
        seen.setdefault(key, ex)
    assert not twins, twins


def test_real_data_regexes_lookups_and_synonyms() -> None:
    data = load_training_data(NLU_DATA)
    assert {"referral_code", "rfc"} <= set(data.regexes)
    assert any(re.fullmatch(p, "ANA-4821") for p in data.regexes["referral_code"])
    assert "premium" in data.lookups["plan"]
    assert data.synonyms["oxxo"] == "oxxo"
    assert data.synonyms["tarjeta de débito"] == "card"
    assert data.synonyms["efectivo"] == "cash"


def test_fingerprint_is_stable_and_tracks_the_data(tmp_path: Path) -> None:
    first = load_training_data(NLU_DATA).fingerprint
    assert re.fullmatch(r"[0-9a-f]{64}", first)
    assert load_training_data(NLU_DATA).fingerprint == first

    copy = tmp_path / "nlu"
    shutil.copytree(NLU_DATA, copy)
    assert load_training_data(copy).fingerprint == first  # content, not location

    core = copy / "core.yml"
    core.write_text(core.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert load_training_data(copy).fingerprint != first


def test_missing_training_data_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_training_data(tmp_path)


def test_small_file_in_rasa_format(tmp_path: Path) -> None:
    (tmp_path / "a.yml").write_text(
        'version: "3.1"\n'
        "nlu:\n"
        "- intent: greet\n"
        "  examples: |\n"
        "    - hola\n"
        "    - buenas [tardes](time)\n"
        "- synonym: cash\n"
        "  examples: |\n"
        "    - Efectivo\n"
        "- regex: code\n"
        "  examples: |\n"
        "    - \\d{6}\n",
        encoding="utf-8",
    )
    data = load_training_data(tmp_path)
    assert [(e.text, e.intent) for e in data.examples] == [
        ("hola", "greet"),
        ("buenas tardes", "greet"),
    ]
    assert data.examples[1].entities == (EntitySpan("time", "tardes", 7, 13),)
    assert data.synonyms == {"efectivo": "cash"}
    assert data.regexes == {"code": [r"\d{6}"]}


def test_every_intent_has_enough_spanish_and_english() -> None:
    data = load_training_data(NLU_DATA)
    counts: dict[tuple[str, str], set[str]] = {}
    for ex in data.examples:
        counts.setdefault((ex.intent, ex.language), set()).add(ex.text.lower())
    intents = {ex.intent for ex in data.examples}
    assert len(intents) == 25
    thin = {
        (intent, lang): len(counts.get((intent, lang), ()))
        for intent in intents
        for lang, minimum in (("es", 40), ("en", 15))
        if len(counts.get((intent, lang), ())) < minimum
    }
    assert not thin, thin
