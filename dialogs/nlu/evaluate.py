"""Stratified k-fold cross-validation of the intent classifier on the project's data."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sklearn.metrics import precision_recall_fscore_support
from sklearn.model_selection import StratifiedKFold

from dialogs.nlu.classifier import build_pipeline
from dialogs.nlu.data import load_training_data
from dialogs.nlu.normalize import normalize


@dataclass
class EvaluationReport:
    labels: list[str]
    precision: list[float]
    recall: list[float]
    f1: list[float]
    support: list[int]
    macro_f1: float
    errors: list[tuple[str, str, str]]  # text, expected, predicted

    def render(self, worst: int = 15) -> str:
        lines = [f"{'intent':<20}{'precision':>10}{'recall':>8}{'f1':>8}{'n':>6}"]
        for row in zip(
            self.labels, self.precision, self.recall, self.f1, self.support, strict=True
        ):
            lines.append(f"{row[0]:<20}{row[1]:>10.3f}{row[2]:>8.3f}{row[3]:>8.3f}{row[4]:>6}")
        lines.append(f"macro-F1: {self.macro_f1:.4f}")
        if self.errors:
            lines.append("errors:")
            lines += [f"  {e!r}: {x} → {p}" for e, x, p in self.errors[:worst]]
        return "\n".join(lines)


def cross_validate(data_dir: Path, folds: int = 5, seed: int = 13) -> EvaluationReport:
    data = load_training_data(data_dir)
    texts = [normalize(e.text) for e in data.examples]
    labels = [e.intent for e in data.examples]
    predicted = [""] * len(texts)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train_idx, test_idx in splitter.split(texts, labels):
        pipeline = build_pipeline()
        pipeline.fit([texts[i] for i in train_idx], [labels[i] for i in train_idx])
        for i, guess in zip(test_idx, pipeline.predict([texts[i] for i in test_idx]), strict=True):
            predicted[i] = str(guess)
    names = sorted(set(labels))
    p, r, f, n = precision_recall_fscore_support(labels, predicted, labels=names, zero_division=0)
    errors = [
        (data.examples[i].text, labels[i], predicted[i])
        for i in range(len(labels))
        if labels[i] != predicted[i]
    ]
    return EvaluationReport(
        names, list(p), list(r), list(f), [int(x) for x in n], float(sum(f) / len(f)), errors
    )
