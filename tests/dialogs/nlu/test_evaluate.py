"""`gogym nlu evaluate`: per-language figures, the confusion PNG and the --min-f1 gate."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from backend.settings import get_settings
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
        assert png.read_bytes()[:4] == b"\x89PNG"
        gated = runner.invoke(app, ["nlu", "evaluate", "--confusion", str(png), "--min-f1", "1.01"])
        assert gated.exit_code == 1
    finally:
        get_settings.cache_clear()
