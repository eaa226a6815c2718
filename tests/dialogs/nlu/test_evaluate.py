"""`gogym nlu evaluate`: per-language figures, the confusion PNG and the --min-f1 gate."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from backend.settings import get_settings
from dialogs.nlu.evaluate import cross_validate
from gogym.cli import app

DATA = """version: "3.1"
nlu:
- intent: greet
  examples: |
{greet_es}
- intent: greet
  metadata:
    language: en
  examples: |
{greet_en}
- intent: pay
  examples: |
{pay_es}
- intent: pay
  metadata:
    language: en
  examples: |
{pay_en}
"""


def _lines(items: list[str]) -> str:
    return "\n".join(f"    - {t}" for t in items)


def test_evaluate_reports_languages_writes_png_and_gates(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "nlu"
    data.mkdir()
    (data / "d.yml").write_text(
        DATA.format(
            greet_es=_lines([f"hola {w}" for w in "buenas amigo gente equipo todos".split()]),
            greet_en=_lines([f"hello {w}" for w in "there friend folks team everyone".split()]),
            pay_es=_lines([f"quiero pagar {w}" for w in "ya hoy luego oxxo tarjeta".split()]),
            pay_en=_lines([f"i want to pay {w}" for w in "now today later cash card".split()]),
        )
    )
    monkeypatch.setenv("NLU_DATA_DIR", str(data))
    get_settings.cache_clear()
    png = tmp_path / "cm.png"
    try:
        runner = CliRunner()
        ok = runner.invoke(app, ["nlu", "evaluate", "--confusion", str(png), "--min-f1", "0.5"])
        assert ok.exit_code == 0, ok.output
        assert "macro-F1 [es]" in ok.output and "macro-F1 [en]" in ok.output
        assert "system decision" in ok.output
        assert png.read_bytes()[:4] == b"\x89PNG"
        gated = runner.invoke(app, ["nlu", "evaluate", "--confusion", str(png), "--min-f1", "1.01"])
        assert gated.exit_code == 1
    finally:
        get_settings.cache_clear()


def _write_data(tmp_path: Path) -> Path:
    data = tmp_path / "nlu"
    data.mkdir()
    (data / "d.yml").write_text(
        DATA.format(
            greet_es=_lines([f"hola {w}" for w in "buenas amigo gente equipo todos".split()]),
            greet_en=_lines([f"hello {w}" for w in "there friend folks team everyone".split()]),
            pay_es=_lines([f"quiero pagar {w}" for w in "ya hoy luego oxxo tarjeta".split()]),
            pay_en=_lines([f"i want to pay {w}" for w in "now today later cash card".split()]),
        )
    )
    return data


def test_decision_line_applies_the_threshold_fallback(tmp_path: Path) -> None:
    data = _write_data(tmp_path)
    lenient = cross_validate(data, threshold=0.0)
    assert lenient.fallbacks == 0
    assert lenient.decision_accuracy == lenient.accuracy
    strict = cross_validate(data, threshold=1.0)  # every answer is doubtful
    assert strict.fallbacks == sum(strict.support)
    assert strict.decision_accuracy == 0.0  # out_of_scope is not among these intents
    assert strict.macro_f1 == lenient.macro_f1  # the primary figure is the plain classifier's
    assert "out_of_scope under 1.00" in strict.render()
