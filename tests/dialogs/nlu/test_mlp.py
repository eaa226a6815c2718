"""The sparse network: learns, is deterministic, and behaves as an sklearn classifier."""

from __future__ import annotations

import numpy as np
from sklearn.base import clone
from sklearn.feature_extraction.text import TfidfVectorizer

from dialogs.nlu.mlp import SparseMLP

TEXTS = [
    "quiero pagar",
    "pagar con tarjeta",
    "link de pago",
    "hola buenas",
    "hola que tal",
    "buenas tardes",
    "a que hora abren",
    "horario del domingo",
    "abren hoy",
] * 4
LABELS = ["pay"] * 3 + ["greet"] * 3 + ["gym_info"] * 3
LABELS = LABELS * 4


def _fit(seed: int = 0) -> tuple[TfidfVectorizer, SparseMLP]:
    vectorizer = TfidfVectorizer()
    model = SparseMLP(hidden=16, epochs=60, random_state=seed)
    return vectorizer, model.fit(vectorizer.fit_transform(TEXTS), LABELS)


def test_learns_and_gives_probabilities() -> None:
    vectorizer, model = _fit()
    x = vectorizer.transform(["pagar hoy con tarjeta", "hola", "horario de hoy domingo"])
    assert list(model.predict(x)) == ["pay", "greet", "gym_info"]
    proba = model.predict_proba(x)
    assert proba.shape == (3, 3)
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert list(model.classes_) == ["greet", "gym_info", "pay"]


def test_same_seed_same_model_and_clone_keeps_parameters() -> None:
    assert np.array_equal(_fit(3)[1].w1_, _fit(3)[1].w1_)
    assert not np.array_equal(_fit(3)[1].w1_, _fit(4)[1].w1_)
    assert clone(SparseMLP(hidden=8, epochs=2)).get_params()["hidden"] == 8


def test_an_empty_text_still_gets_a_distribution() -> None:
    vectorizer, model = _fit()
    proba = model.predict_proba(vectorizer.transform([""]))
    assert proba.shape == (1, 3) and np.isclose(proba.sum(), 1.0)
