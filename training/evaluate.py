"""Evaluate an exported TorchScript model on FER-2013, as `emotune eval` does on the Rust side.

    python -m training.evaluate --model models/emotion_resnet18_cbam.pt --split PrivateTest

Scored on FER+'s plurality labels by default (calibration against the votes, the folder
labels' accuracy as a second figure); `--labels folder` scores the folder labels alone.
Also the last step of a training run: `report_run`, the exported model's PrivateTest report
beside the run and beside the model.
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
from .metrics import calibration, report
from .model import predict


def ferplus_report(logits: np.ndarray, folder: np.ndarray, fl: ferplus.Labels) -> dict:
    """The FER+ report over the faces with a plurality label, plus the folder accuracy."""
    scored = fl.plurality >= 0
    rep = report(fl.plurality[scored], logits[scored])
    rep.update(calibration(fl.plurality[scored], fl.targets[scored], logits[scored]))
    rep["labels"] = "ferplus"
    rep["unscored"] = int((~scored).sum())
    rep["folder_accuracy"] = float((logits.argmax(1) == folder).mean())
    rep["folder_n"] = int(len(folder))
    return rep


def report_run(out: Path, run_dir: Path, root: Path, labels: str, votes: Path | None, *,
               temperature: float | None, best_acc: float, sigma: float, quantize: str) -> dict:
    """A training run's last step: the model exported to `out` scored on PrivateTest, with the
    run's facts added, written to `run_dir`/private_test.json and beside the model as
    metrics.json (what `emotune eval` is checked against, tests/cli.rs). With FER+ labels the
    neutral anchor goes beside the model too (`training.neutral`)."""
    test = fer.load_split(root, "PrivateTest")
    exported = load_exported(out)
    logits = predict(exported, test.images, torch.device("cpu"))
    if labels == "ferplus":
        votes = votes or ferplus.shared_csv()
        rep = ferplus_report(logits, test.labels, ferplus.align(ferplus.read_votes(votes), test.paths))
        from . import neutral

        neutral.write(out, exported, root, votes)
    else:
        rep = report(test.labels, logits)
    if temperature is not None:
        rep["temperature"] = temperature
    rep["best_val_acc"] = best_acc
    # One pass per face: flip-TTA is not exported (models/MODEL_CARD.md); the keys stay.
    rep["tta_flip"] = False
    rep["mirror_pass_below"] = exported.mirror_pass_below()
    rep["input_blur_sigma"] = sigma
    rep["quantize"] = quantize
    for path in (run_dir / "private_test.json", out.parent / "metrics.json"):
        path.write_text(json.dumps(rep, indent=2))
    print(json.dumps({k: rep[k] for k in ("accuracy", "macro_f1", "accuracy_4class", "n")}))
    return rep


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.evaluate", description=__doc__.split("\n")[0])
    p.add_argument("--model", type=Path, default=Path("models/emotion_resnet18_cbam.pt"))
    p.add_argument("--data", type=Path, default=None)
    p.add_argument("--split", default="PrivateTest", choices=["PublicTest", "PrivateTest"])
    p.add_argument("--labels", default="ferplus", choices=["ferplus", "folder"])
    p.add_argument("--votes", type=Path, default=None, help="ferplus.csv (default: ../shared/datasets/)")
    p.add_argument("--threads", type=int, default=0)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    root = fer.data_dir(args.data)
    split = fer.load_split(root, args.split)
    model = load_exported(args.model)
    logits = predict(model, split.images, torch.device("cpu"))
    if args.labels == "folder":
        rep = report(split.labels, logits)
    else:
        votes = ferplus.read_votes(args.votes or ferplus.shared_csv())
        rep = ferplus_report(logits, split.labels, ferplus.align(votes, split.paths))
    print(json.dumps(rep))
    return 0


if __name__ == "__main__":
    sys.exit(main())
