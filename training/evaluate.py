"""Evaluate an exported TorchScript model on FER-2013, as `emotune eval` does on the Rust side.

    python -m training.evaluate --model models/emotion_resnet18_cbam.pt --split PrivateTest
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from . import data as fer
from .export import load_exported
from .metrics import report
from .train import predict


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.evaluate", description=__doc__.split("\n")[0])
    p.add_argument("--model", type=Path, default=Path("models/emotion_resnet18_cbam.pt"))
    p.add_argument("--data", type=Path, default=None)
    p.add_argument("--split", default="PrivateTest", choices=["PublicTest", "PrivateTest"])
    p.add_argument("--threads", type=int, default=0)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    root = fer.data_dir(args.data)
    split = fer.load_split(root, args.split)
    model = load_exported(args.model)
    rep = report(split.labels, predict(model, split.images, torch.device("cpu")))
    print(json.dumps(rep))
    return 0


if __name__ == "__main__":
    sys.exit(main())
