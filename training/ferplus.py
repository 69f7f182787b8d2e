"""FER+ labels (Barsoum et al. 2016): ten crowd votes per FER-2013 file, from `ferplus.csv`.

Two uses, one set of rules (the Rust side, `emotune eval --labels ferplus`, applies the same):
- **targets** for training: the share of the ten votes each of the seven FER-2013 emotions got,
  contempt/unknown/not-a-face votes dropped. A net trained on them with cross-entropy estimates
  "what share of people would name this emotion", so its probabilities can be checked against
  the votes (calibration).
- **plurality labels** for scoring: the column with the most votes; ties, and rows won by
  contempt, unknown or not-a-face, are left out.

Images whose plurality is unknown or not-a-face (or a tie involving them), and files without a
row (FER+ dropped them, mostly not faces), are left out of both.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .model import CLASS_NAMES

# ferplus.csv's vote columns, in its order.
VOTE_COLUMNS = (
    "neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt", "unknown", "NF",
)
# Vote column -> FER-2013 class index (CLASS_NAMES order); contempt/unknown/NF have none.
_TO_CLASS = {
    "neutral": "neutral", "happiness": "happy", "surprise": "surprise", "sadness": "sad",
    "anger": "angry", "disgust": "disgust", "fear": "fear",
}
COLUMN_CLASS = np.array(
    [CLASS_NAMES.index(_TO_CLASS[c]) if c in _TO_CLASS else -1 for c in VOTE_COLUMNS], dtype=np.int64
)
NOT_AN_EMOTION = {VOTE_COLUMNS.index("unknown"), VOTE_COLUMNS.index("NF")}


def shared_csv() -> Path:
    return Path(__file__).resolve().parent.parent.parent / "shared" / "datasets" / "ferplus.csv"


def read_votes(path: Path) -> dict[str, np.ndarray]:
    """file name -> its ten vote counts; ValueError naming the file and row when malformed."""
    votes: dict[str, np.ndarray] = {}
    with open(path, newline="") as f:
        rows = csv.reader(f)
        header = next(rows, None)
        want = ["file", "ferplus_image", *VOTE_COLUMNS]
        if header != want:
            raise ValueError(f"{path}: header {header} is not FER+'s ({','.join(want)})")
        for n, row in enumerate(rows, start=2):
            if len(row) != len(want):
                raise ValueError(f"{path}:{n}: {len(row)} fields, expected {len(want)}")
            try:
                votes[row[0]] = np.array([int(v) for v in row[2:]], dtype=np.int64)
            except ValueError as e:
                raise ValueError(f"{path}:{n}: vote counts must be integers ({e})") from e
    return votes


@dataclass
class Labels:
    """FER+ labels aligned to one split's files."""

    targets: np.ndarray  # N x 7 float32 vote shares over the seven emotions (rows sum to 1 where kept)
    keep: np.ndarray  # N bool: usable for training (has a row, plurality an emotion or contempt)
    plurality: np.ndarray  # N int64: FER-2013 class of the unique plurality; -1 where not scored


def align(votes: dict[str, np.ndarray], files: list[str]) -> Labels:
    raw = np.zeros((len(files), len(VOTE_COLUMNS)), dtype=np.int64)
    has = np.zeros(len(files), dtype=bool)
    for i, f in enumerate(files):
        v = votes.get(Path(f).name)
        if v is not None:
            raw[i], has[i] = v, True
    return labels_from_votes(raw, has)


def labels_from_votes(raw: np.ndarray, has: np.ndarray | None = None) -> Labels:
    if has is None:
        has = raw.sum(1) > 0
    top = raw.max(1, keepdims=True)
    winners = raw == top
    unique = winners.sum(1) == 1
    arg = raw.argmax(1)
    emotion_votes = np.zeros((len(raw), len(CLASS_NAMES)), dtype=np.float64)
    for col, cls in enumerate(COLUMN_CLASS):
        if cls >= 0:
            emotion_votes[:, cls] += raw[:, col]
    total = emotion_votes.sum(1, keepdims=True)
    targets = np.divide(emotion_votes, total, out=np.zeros_like(emotion_votes), where=total > 0)
    not_face = winners[:, sorted(NOT_AN_EMOTION)].any(1)
    keep = has & (top[:, 0] > 0) & ~not_face & (total[:, 0] > 0)
    plurality = np.where(has & unique & (COLUMN_CLASS[arg] >= 0), COLUMN_CLASS[arg], -1)
    return Labels(targets.astype(np.float32), keep, plurality.astype(np.int64))


def fit_temperature(logits: np.ndarray, targets: np.ndarray) -> float:
    """The T that minimises the cross-entropy of softmax(logits / T) against the vote shares
    (so, their KL), searched on a log grid from 0.5 to 3. Fitted on PublicTest; folding 1/T into
    the last layer leaves every argmax as it was."""
    z = logits.astype(np.float64)
    q = targets.astype(np.float64)

    def loss(t: float) -> float:
        s = z / t
        s = s - s.max(1, keepdims=True)
        logp = s - np.log(np.exp(s).sum(1, keepdims=True))
        return float(-(q * logp).sum(1).mean())

    grid = np.exp(np.linspace(np.log(0.5), np.log(3.0), 181))
    return float(min(grid, key=loss))
