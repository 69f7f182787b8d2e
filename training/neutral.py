"""The model's typical neutral face: the anchor of the app's neutral calibration.

    python -m training.neutral --model models/emotion_resnet18_cbam.pt

Writes `<model>.neutral.json` next to the model: the mean centred log-probabilities the model
gives faces that at least 7 of FER+'s 10 taggers call neutral (PublicTest, the selection split).
A person's calibration shifts their resting face onto this vector (src/profile/adjust.rs), so a
relaxed face reads as neutral as a typical neutral face does, not more and not less.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from . import data as fer
from . import ferplus
from .export import load_exported
from .model import predict

NEUTRAL = fer.CLASS_NAMES.index("neutral")
MIN_SHARE = 0.7


def sidecar(model: Path) -> Path:
    return model.with_suffix(".neutral.json")


def prototype(logits: np.ndarray, shares: np.ndarray, min_share: float = MIN_SHARE) -> tuple[np.ndarray, int]:
    """Mean centred log-softmax over the faces whose neutral vote share is at least `min_share`."""
    sel = shares[:, NEUTRAL] >= min_share
    if not sel.any():
        raise ValueError(f"no face has a neutral vote share of {min_share} or more")
    x = torch.from_numpy(logits[sel]).double()
    logp = torch.log_softmax(x, 1)
    logp = logp - logp.mean(1, keepdim=True)
    return logp.mean(0).numpy(), int(sel.sum())


def write(model_path: Path, model: torch.nn.Module, root: Path, votes: Path) -> dict:
    split = fer.load_split(root, "PublicTest")
    labels = ferplus.align(ferplus.read_votes(votes), split.paths)
    logits = predict(model, split.images, torch.device("cpu"))
    proto, n = prototype(logits, labels.targets)
    doc = {
        "neutral_log_probs": [round(float(v), 5) for v in proto],
        "classes": list(fer.CLASS_NAMES),
        "faces": n,
        "selection": f"FER+ PublicTest, neutral vote share >= {MIN_SHARE}",
    }
    sidecar(model_path).write_text(json.dumps(doc, indent=1) + "\n")
    return doc


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.neutral", description=__doc__.split("\n")[0])
    p.add_argument("--model", type=Path, default=Path("models/emotion_resnet18_cbam.pt"))
    p.add_argument("--data", type=Path, default=None)
    p.add_argument("--votes", type=Path, default=None, help="ferplus.csv (default: ../shared/datasets/)")
    args = p.parse_args(argv)
    doc = write(args.model, load_exported(args.model), fer.data_dir(args.data), args.votes or ferplus.shared_csv())
    print(json.dumps(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
