"""Intent classifier: TF-IDF word and character n-grams into logistic regression.

The artifact is versioned by the hash of the training data and the library versions
(trained by `gogym nlu train`, or at first start when none matches) and loaded once.
"""

from __future__ import annotations

import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import sklearn
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

from dialogs.nlu.data import EntitySpan, TrainingData, load_training_data
from dialogs.nlu.entities import CHECKIN_TEXT, EntityExtractor
from dialogs.nlu.language import detect_language
from dialogs.nlu.normalize import normalize

FALLBACK_INTENT = "out_of_scope"
ARTIFACT_VERSION = 1


@dataclass(frozen=True)
class NluResult:
    text: str
    intent: str
    confidence: float
    language: str | None
    entities: tuple[EntitySpan, ...] = ()
    candidates: tuple[tuple[str, float], ...] = field(default=())

    def entity(self, name: str) -> str | None:
        return next((e.value for e in self.entities if e.entity == name), None)

    def as_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "intent": self.intent,
            "confidence": round(self.confidence, 4),
            "language": self.language,
            "entities": [asdict(e) for e in self.entities],
        }


def build_pipeline() -> Pipeline:
    features = FeatureUnion(
        [
            ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)),
            (
                "chars",
                TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True),
            ),
        ]
    )
    return Pipeline([("features", features), ("clf", LogisticRegression(C=20, max_iter=3000))])


def _versions() -> dict[str, str]:
    return {"sklearn": sklearn.__version__, "python": platform.python_version()}


class IntentModel:
    def __init__(self, pipeline: Pipeline, data: TrainingData, threshold: float) -> None:
        self.pipeline = pipeline
        self.extractor = EntityExtractor(data)
        self.threshold = threshold
        self.labels: list[str] = list(pipeline.classes_)

    @classmethod
    def train(cls, data: TrainingData, threshold: float) -> IntentModel:
        pipeline = build_pipeline()
        pipeline.fit([normalize(e.text) for e in data.examples], [e.intent for e in data.examples])
        return cls(pipeline, data, threshold)

    def parse(self, text: str) -> NluResult:
        entities = tuple(self.extractor.extract(text))
        language = detect_language(text)
        if CHECKIN_TEXT.search(text):
            return NluResult(text, "check_in", 1.0, language, entities)
        clean = normalize(text)
        if not clean:
            return NluResult(text, FALLBACK_INTENT, 0.0, language, entities)
        proba = self.pipeline.predict_proba([clean])[0]
        order = np.argsort(proba)[::-1][:3]
        candidates = tuple((self.labels[i], float(proba[i])) for i in order)
        intent, confidence = candidates[0]
        if confidence < self.threshold:
            intent = FALLBACK_INTENT
        return NluResult(text, intent, confidence, language, entities, candidates)


def artifact_path(model_dir: Path, fingerprint: str) -> Path:
    return model_dir / f"nlu-v{ARTIFACT_VERSION}-{fingerprint[:16]}.joblib"


def train_and_save(data_dir: Path, model_dir: Path, threshold: float) -> tuple[IntentModel, Path]:
    data = load_training_data(data_dir)
    model = IntentModel.train(data, threshold)
    model_dir.mkdir(parents=True, exist_ok=True)
    path = artifact_path(model_dir, data.fingerprint)
    tmp = path.with_suffix(".tmp")
    joblib.dump(
        {"pipeline": model.pipeline, "fingerprint": data.fingerprint, "versions": _versions()},
        tmp,
    )
    tmp.replace(path)  # atomic: concurrent workers never load a half-written file
    return model, path


def load_or_train(data_dir: Path, model_dir: Path, threshold: float) -> IntentModel:
    """Load the artifact matching the current data and libraries; train it if missing."""
    data = load_training_data(data_dir)
    path = artifact_path(model_dir, data.fingerprint)
    if path.exists():
        blob = joblib.load(path)
        if blob.get("versions") == _versions():
            return IntentModel(blob["pipeline"], data, threshold)
    return train_and_save(data_dir, model_dir, threshold)[0]
