"""Stratified k-fold cross-validation of the intent classifier on the project's data.

Every example is predicted by a model that never saw it; figures are given overall and
per language (each example's language is its block's `metadata.language`, Spanish by
default). The worst errors are the wrong answers given with the most confidence.

The primary figures are the plain classifier's (argmax). A second line reports what the
product would answer for the same held-out folds: the check-in rule first, then
`out_of_scope` whenever the top probability is under the confidence threshold.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support
from sklearn.model_selection import StratifiedKFold

from backend.settings import get_settings
from dialogs.nlu.classifier import FALLBACK_INTENT, build_pipeline
from dialogs.nlu.data import load_training_data
from dialogs.nlu.entities import CHECKIN_TEXT
from dialogs.nlu.normalize import normalize


@dataclass(frozen=True)
class EvaluationError:
    text: str
    language: str
    expected: str
    predicted: str
    confidence: float


@dataclass
class EvaluationReport:
    labels: list[str]
    precision: list[float]
    recall: list[float]
    f1: list[float]
    support: list[int]
    macro_f1: float
    errors: list[EvaluationError]  # most confident mistakes first
    macro_f1_by_language: dict[str, float] = field(default_factory=dict)
    support_by_language: dict[str, int] = field(default_factory=dict)
    accuracy: float = 0.0
    confusion: list[list[int]] = field(default_factory=list)
    # The system's decision (rule + threshold fallback), not the classifier's argmax.
    threshold: float | None = None
    decision_accuracy: float = 0.0
    decision_macro_f1: float = 0.0
    decision_macro_f1_by_language: dict[str, float] = field(default_factory=dict)
    fallbacks: int = 0  # examples sent to out_of_scope by the threshold

    @property
    def min_macro_f1(self) -> float:
        """The figure a gate checks: the weakest of overall and each language."""
        return min([self.macro_f1, *self.macro_f1_by_language.values()])

    def render(self, worst: int = 20) -> str:
        lines = [f"{'intent':<20}{'precision':>10}{'recall':>8}{'f1':>8}{'n':>6}"]
        for row in zip(
            self.labels, self.precision, self.recall, self.f1, self.support, strict=True
        ):
            lines.append(f"{row[0]:<20}{row[1]:>10.3f}{row[2]:>8.3f}{row[3]:>8.3f}{row[4]:>6}")
        lines.append(f"accuracy: {self.accuracy:.4f}")
        lines.append(f"macro-F1: {self.macro_f1:.4f}")
        for language, value in sorted(self.macro_f1_by_language.items()):
            n = self.support_by_language.get(language, 0)
            lines.append(f"macro-F1 [{language}]: {value:.4f} (n={n})")
        if self.threshold is not None:
            by_language = ", ".join(
                f"{lang} {value:.4f}"
                for lang, value in sorted(self.decision_macro_f1_by_language.items())
            )
            lines.append(
                f"system decision (check-in rule, out_of_scope under {self.threshold:.2f}): "
                f"accuracy {self.decision_accuracy:.4f}, macro-F1 {self.decision_macro_f1:.4f}"
                f" ({by_language}); {self.fallbacks} fell back"
            )
        if self.errors:
            lines.append(f"worst errors ({min(worst, len(self.errors))} of {len(self.errors)}):")
            lines += [
                f"  [{e.language}] {e.text!r}: {e.expected} → {e.predicted} ({e.confidence:.2f})"
                for e in self.errors[:worst]
            ]
        return "\n".join(lines)


def _macro_f1_by_language(
    labels: list[str], predicted: list[str], languages: list[str]
) -> dict[str, float]:
    out: dict[str, float] = {}
    for language in sorted(set(languages)):
        idx = [i for i, lang in enumerate(languages) if lang == language]
        present = sorted({labels[i] for i in idx})
        out[language] = float(
            f1_score(
                [labels[i] for i in idx],
                [predicted[i] for i in idx],
                labels=present,
                average="macro",
                zero_division=0,
            )
        )
    return out


def cross_validate(
    data_dir: Path, folds: int = 5, seed: int = 13, threshold: float | None = None
) -> EvaluationReport:
    """`threshold`: the product's confidence threshold for the decision line; by default
    `NLU_CONFIDENCE_THRESHOLD` from the settings."""
    if threshold is None:
        threshold = get_settings().nlu_confidence_threshold
    data = load_training_data(data_dir)
    texts = [normalize(e.text) for e in data.examples]
    labels = [e.intent for e in data.examples]
    languages = [e.language for e in data.examples]
    predicted = [""] * len(texts)
    confidence = [0.0] * len(texts)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train_idx, test_idx in splitter.split(texts, labels):
        pipeline = build_pipeline()
        pipeline.fit([texts[i] for i in train_idx], [labels[i] for i in train_idx])
        proba = pipeline.predict_proba([texts[i] for i in test_idx])
        classes = pipeline.classes_
        for i, row in zip(test_idx, proba, strict=True):
            best = int(np.argmax(row))
            predicted[i], confidence[i] = str(classes[best]), float(row[best])
    names = sorted(set(labels))
    p, r, f, n = precision_recall_fscore_support(labels, predicted, labels=names, zero_division=0)
    by_language = _macro_f1_by_language(labels, predicted, languages)
    support = {lang: languages.count(lang) for lang in sorted(set(languages))}
    decided = [
        "check_in"
        if CHECKIN_TEXT.search(e.text)
        else (FALLBACK_INTENT if confidence[i] < threshold else predicted[i])
        for i, e in enumerate(data.examples)
    ]
    errors = sorted(
        (
            EvaluationError(
                data.examples[i].text, languages[i], labels[i], predicted[i], confidence[i]
            )
            for i in range(len(labels))
            if labels[i] != predicted[i]
        ),
        key=lambda e: -e.confidence,
    )
    matrix = confusion_matrix(labels, predicted, labels=names)
    return EvaluationReport(
        labels=names,
        precision=[float(x) for x in p],
        recall=[float(x) for x in r],
        f1=[float(x) for x in f],
        support=[int(x) for x in n],
        macro_f1=float(np.mean(f)),
        errors=errors,
        macro_f1_by_language=by_language,
        support_by_language=support,
        accuracy=float(np.mean([a == b for a, b in zip(labels, predicted, strict=True)])),
        confusion=matrix.tolist(),
        threshold=threshold,
        decision_accuracy=float(np.mean([a == b for a, b in zip(labels, decided, strict=True)])),
        decision_macro_f1=float(
            f1_score(labels, decided, labels=names, average="macro", zero_division=0)
        ),
        decision_macro_f1_by_language=_macro_f1_by_language(labels, decided, languages),
        fallbacks=sum(d == FALLBACK_INTENT != p for d, p in zip(decided, predicted, strict=True)),
    )


def write_confusion_png(report: EvaluationReport, path: Path) -> Path:
    """Draw the cross-validated confusion matrix (rows: expected, columns: predicted)."""
    # Imported here, not at the top: matplotlib takes ~1 s to import and only this
    # command draws; the server and `nlu predict` import this module's neighbours.
    import matplotlib

    matplotlib.use("Agg")  # no display on servers
    import matplotlib.pyplot as plt

    matrix = np.asarray(report.confusion)
    size = max(8.0, 0.42 * len(report.labels))
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(np.log1p(matrix), cmap="Blues")
    ax.set_xticks(range(len(report.labels)), report.labels, rotation=90, fontsize=8)
    ax.set_yticks(range(len(report.labels)), report.labels, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("expected")
    ax.set_title(f"NLU cross-validation · macro-F1 {report.macro_f1:.3f}")
    top = matrix.max() or 1
    for (row, col), value in np.ndenumerate(matrix):
        if value:
            color = "white" if np.log1p(value) > np.log1p(top) / 2 else "black"
            ax.text(col, row, str(value), ha="center", va="center", fontsize=6, color=color)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
