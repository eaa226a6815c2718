"""A one-hidden-layer network over the sparse TF-IDF features, trained with numpy.

Averaged with the logistic regression it lowers cross-validated errors by about a tenth:
the hidden layer learns combinations of n-grams ("a qué hora abre" + a place that is not
the gym) a linear model cannot weigh together. sklearn's MLPClassifier updates the whole
input layer on every batch (tens of thousands of n-gram rows), which made it minutes slow;
here each batch updates only the rows of the n-grams it contains ("lazy" Adam), so training
takes seconds.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin

_BETA1, _BETA2, _EPS = 0.9, 0.999, 1e-8


class SparseMLP(ClassifierMixin, BaseEstimator):
    """ReLU hidden layer, dropout, softmax output; cross-entropy with balanced class
    weights; Adam. Seeded, so the same data gives the same model."""

    def __init__(
        self,
        hidden: int = 128,
        epochs: int = 12,
        learning_rate: float = 2e-3,
        batch_size: int = 32,
        dropout: float = 0.3,
        random_state: int = 0,
    ) -> None:
        self.hidden = hidden
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.dropout = dropout
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> SparseMLP:
        rng = np.random.default_rng(self.random_state)
        X = sp.csr_matrix(X, dtype=np.float32)
        self.classes_, target = np.unique(np.asarray(y), return_inverse=True)
        n, features = X.shape
        classes = len(self.classes_)
        class_weight = (n / (classes * np.bincount(target))).astype(np.float32)
        # He initialisation for the input layer, scaled for ~100 active n-grams per text.
        params = {
            "w1": rng.normal(0, np.sqrt(2 / 100), (features, self.hidden)).astype(np.float32),
            "b1": np.zeros(self.hidden, np.float32),
            "w2": rng.normal(0, np.sqrt(1 / self.hidden), (self.hidden, classes)).astype(
                np.float32
            ),
            "b2": np.zeros(classes, np.float32),
        }
        m = {k: np.zeros_like(v) for k, v in params.items()}
        v = {k: np.zeros_like(v) for k, v in params.items()}
        step = 0
        for _ in range(self.epochs):
            order = rng.permutation(n)
            for start in range(0, n, self.batch_size):
                idx = order[start : start + self.batch_size]
                xb, yb = X[idx], target[idx]
                pre = xb @ params["w1"] + params["b1"]
                keep = (rng.random(pre.shape) >= self.dropout) / (1 - self.dropout)
                act = np.maximum(pre, 0) * keep
                grad_out = softmax(act @ params["w2"] + params["b2"])
                grad_out[np.arange(len(yb)), yb] -= 1
                grad_out *= class_weight[yb][:, None] / len(yb)
                grad_act = (grad_out @ params["w2"].T) * keep * (pre > 0)
                rows = np.unique(xb.indices)  # the n-grams this batch contains
                grads = {
                    "w1": np.asarray(xb[:, rows].T @ grad_act),
                    "b1": grad_act.sum(0),
                    "w2": act.T @ grad_out,
                    "b2": grad_out.sum(0),
                }
                step += 1
                lr = self.learning_rate * np.sqrt(1 - _BETA2**step) / (1 - _BETA1**step)
                for name, grad in grads.items():
                    at = rows if name == "w1" else slice(None)
                    m[name][at] = _BETA1 * m[name][at] + (1 - _BETA1) * grad
                    v[name][at] = _BETA2 * v[name][at] + (1 - _BETA2) * grad * grad
                    params[name][at] -= lr * m[name][at] / (np.sqrt(v[name][at]) + _EPS)
        self.w1_, self.b1_, self.w2_, self.b2_ = (
            params["w1"],
            params["b1"],
            params["w2"],
            params["b2"],
        )
        return self

    def predict_proba(self, X: Any) -> Any:
        hidden = np.maximum(sp.csr_matrix(X, dtype=np.float32) @ self.w1_ + self.b1_, 0)
        return softmax(hidden @ self.w2_ + self.b2_)

    def predict(self, X: Any) -> Any:
        return self.classes_[self.predict_proba(X).argmax(1)]


def softmax(scores: Any) -> Any:
    exp = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return exp / exp.sum(axis=-1, keepdims=True)
