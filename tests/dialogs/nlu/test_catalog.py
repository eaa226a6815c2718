"""Catalog names (locations, classes, plans) matched tolerant of typos and accents."""

from __future__ import annotations

import pytest

from dialogs.nlu.catalog import find_catalog, match_catalog

LOCATIONS = ["Centro", "Polanco", "Satélite Norte"]
CLASSES = ["Spinning", "Yoga", "Box", "Funcional", "Pilates Reformer"]


@pytest.mark.parametrize(
    ("text", "names", "expected", "surface"),
    [
        ("estoy en la de polanko", LOCATIONS, "Polanco", "polanko"),
        ("sucursal CENTRO", LOCATIONS, "Centro", "CENTRO"),
        ("ya llegué a satelite norte", LOCATIONS, "Satélite Norte", "satelite norte"),
        ("quiero spining mañana", CLASSES, "Spinning", "spining"),
        ("hay box hoy?", CLASSES, "Box", "box"),
        ("clase de pilates reformer", CLASSES, "Pilates Reformer", "pilates reformer"),
        ("funcinal a las 7", CLASSES, "Funcional", "funcinal"),
    ],
)
def test_matches_with_typos(text: str, names: list[str], expected: str, surface: str) -> None:
    match = match_catalog(text, names)
    assert match is not None and match.name == expected
    assert text[match.start : match.end] == surface


@pytest.mark.parametrize("text", ["el bot no sirve", "hola", "", "yogurt de fresa"])
def test_no_match_under_the_bar(text: str) -> None:
    assert match_catalog(text, CLASSES) is None


def test_several_names_in_text_order() -> None:
    found = find_catalog("yoga en polanco o box en centro", [*CLASSES, *LOCATIONS])
    assert [m.name for m in found] == ["Yoga", "Polanco", "Box", "Centro"]
