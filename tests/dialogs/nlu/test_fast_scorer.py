"""The fast scorer must give exactly the pipeline's probabilities."""

from __future__ import annotations

import numpy as np

from dialogs.nlu.classifier import IntentModel
from dialogs.nlu.normalize import normalize


def test_fast_scorer_matches_sklearn_pipeline(nlu_model: IntentModel) -> None:
    for text in [
        "hola",
        "ya llegué al gym",
        "x",
        "quiero pagar con oxxo porfa",
        "",
        "👍",
        "zzzz qqq",
    ]:
        clean = normalize(text)
        expected = nlu_model.pipeline.predict_proba([clean])[0]
        assert np.allclose(nlu_model.scorer.proba(clean), expected, atol=1e-12)
