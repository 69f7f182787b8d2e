"""Classification metrics shared by training, evaluation and the model card.

The Rust side (`emotune eval`) computes the same numbers with the same definitions.
"""

from __future__ import annotations

import numpy as np

from .model import CLASS_NAMES

FOUR_CLASSES = ("angry", "happy", "neutral", "sad")


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Share of rows whose argmax is the label (validation, ensembles, averages)."""
    return float((logits.argmax(1) == labels).mean())


def confusion(labels: np.ndarray, preds: np.ndarray, k: int = 7) -> np.ndarray:
    m = np.zeros((k, k), dtype=np.int64)
    np.add.at(m, (labels, preds), 1)
    return m


def report(labels: np.ndarray, logits: np.ndarray) -> dict:
    """accuracy, macro_f1, per_class {precision, recall, f1, support}, accuracy_4class, n.

    accuracy_4class: over images whose true class is angry/happy/neutral/sad, the argmax
    restricted to those four logits (what a 4-class model would be asked).
    """
    preds = logits.argmax(1)
    cm = confusion(labels, preds)
    per_class = {}
    f1s = []
    for i, name in enumerate(CLASS_NAMES):
        tp = cm[i, i]
        prec = tp / cm[:, i].sum() if cm[:, i].sum() else 0.0
        rec = tp / cm[i, :].sum() if cm[i, :].sum() else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        f1s.append(f1)
        per_class[name] = {
            "precision": float(prec),
            "recall": float(rec),
            "f1": float(f1),
            "support": int(cm[i, :].sum()),
        }
    four = [CLASS_NAMES.index(c) for c in FOUR_CLASSES]
    sel = np.isin(labels, four)
    sub = logits[sel][:, four].argmax(1)
    truth = np.searchsorted(np.array(four), labels[sel])
    return {
        "accuracy": float((preds == labels).mean()),
        "macro_f1": float(np.mean(f1s)),
        "per_class": per_class,
        "accuracy_4class": float((sub == truth).mean()) if sel.any() else 0.0,
        "n": int(len(labels)),
        "confusion": cm.tolist(),
    }


ECE_BINS = 15


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits.astype(np.float64) - logits.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def calibration(labels: np.ndarray, shares: np.ndarray, logits: np.ndarray) -> dict:
    """ece: top-class confidence against accuracy on `labels`, 15 equal-width bins;
    ece_votes: the same bins against the top class's vote share in `shares` (does 60 % mean six
    people in ten?); kl: mean KL(shares || softmax), nats. As `emotune eval` computes them."""
    p = softmax(logits)
    top = p.argmax(1)
    conf = p[np.arange(len(p)), top]
    ok = (top == labels).astype(np.float64)
    share = shares[np.arange(len(p)), top].astype(np.float64)
    b = np.clip(np.ceil(conf * ECE_BINS).astype(np.int64), 1, ECE_BINS) - 1
    n = max(len(p), 1)
    ece = sum(abs(conf[b == i].sum() - ok[b == i].sum()) for i in range(ECE_BINS)) / n
    ece_votes = sum(abs(conf[b == i].sum() - share[b == i].sum()) for i in range(ECE_BINS)) / n
    q = shares.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(q > 0, q * np.log(q / np.maximum(p, 1e-12)), 0.0)
    return {"ece": float(ece), "ece_votes": float(ece_votes), "kl": float(terms.sum(1).mean())}
