"""Average the weights of checkpoints from one run (stochastic weight averaging, SWA).

    python -m training.average --arch s1w40 --out avg.pt RUN/epoch11.pt RUN/epoch12.pt ...

Epochs late in one fine-tune sit in the same basin, so the mean of their weights is a single net
of the same shape and cost that generalises better than any one of them (Izmailov et al. 2018).
BatchNorm statistics of the mean are not the mean of the statistics: `--bn augmented` measures
them again on augmented train/ batches (as training saw them; clean images measured 0.6 points
worse on PublicTest for one checkpoint alone), `--bn mean` keeps the checkpoints' mean.
Prints PublicTest accuracy of every input and of the average (PrivateTest is never looked at
here); the average is written whatever it scores, for the caller to judge.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import data as fer
from .metrics import accuracy
from .model import ARCHS, SHIPPED_ARCH, build_model, normalize
from .train import load_net_spec, normalised, predict


def average_states(states: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Mean of every floating tensor; integer buffers (BatchNorm's batch count) from the first."""
    if not states:
        raise ValueError("nothing to average")
    keys = states[0].keys()
    for i, s in enumerate(states[1:], 1):
        if s.keys() != keys or any(s[k].shape != states[0][k].shape for k in keys):
            raise ValueError(f"checkpoint {i} has other tensors or shapes than checkpoint 0: not one architecture")
    out = {}
    for k in keys:
        if states[0][k].is_floating_point():
            out[k] = torch.stack([s[k].float() for s in states]).mean(0)
        else:
            out[k] = states[0][k].clone()
    return out


@torch.no_grad()
def recompute_batchnorm(model: nn.Module, images: np.ndarray, bs: int = 256, seed: int = 0) -> None:
    """BatchNorm running statistics measured afresh: a cumulative mean over `images` under the
    training augmentation, everything else in eval mode (dropout off)."""
    gen = torch.Generator().manual_seed(seed)
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    model.eval()
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over all batches
        m.train()
    for i in range(0, len(images), bs):
        model(normalize(fer.augment(fer.to_tensor(images[i : i + bs]), gen)))
    for m in bns:
        m.momentum = 0.1
    model.eval()


def publictest(model: nn.Module, val: fer.Split) -> float:
    return accuracy(predict(normalised(model, 0.0), val.images, torch.device("cpu")), val.labels)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.average", description=__doc__.split("\n")[0])
    p.add_argument("checkpoints", nargs="+", type=Path, help="weights from one run (state dicts or checkpoints)")
    p.add_argument("--arch", default=SHIPPED_ARCH, choices=ARCHS)
    p.add_argument("--out", type=Path, required=True, help="where the averaged state dict goes")
    p.add_argument("--data", type=Path, default=None, help="FER-2013 folder (train/, test/)")
    p.add_argument("--bn", default="augmented", choices=["augmented", "mean"],
                   help="BatchNorm statistics: measured on augmented train/ batches, or averaged")
    p.add_argument("--threads", type=int, default=0)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    # Every input loaded before the data, so a wrong file is named before anything is read.
    try:
        nets = [load_net_spec(f"{args.arch}:{c}", 0.0, torch.device("cpu")) for c in args.checkpoints]
    except ValueError as e:
        print(e, file=sys.stderr)
        return 2
    root = fer.data_dir(args.data)
    val = fer.load_split(root, "PublicTest")

    scores: dict[str, float] = {}
    states = []
    for c, net in zip(args.checkpoints, nets):
        states.append(net.state_dict())
        scores[str(c)] = publictest(net, val)
        print(f"{c}: PublicTest {scores[str(c)] * 100:.2f} %", file=sys.stderr)

    avg = build_model(args.arch)
    avg.load_state_dict(average_states(states))
    if args.bn == "augmented":
        recompute_batchnorm(avg, fer.load_split(root, "train").images)
    scores["average"] = publictest(avg, val)
    print(f"average of {len(states)}: PublicTest {scores['average'] * 100:.2f} %", file=sys.stderr)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(avg.state_dict(), args.out)
    print(json.dumps({"publictest": scores, "out": str(args.out)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
