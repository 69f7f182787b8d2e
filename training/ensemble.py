"""Would these teacher nets teach the student anything? PublicTest accuracy of their ensemble.

    python -m training.ensemble s1:RUNS/gpu3/t1.pt s1:RUNS/gpu3/t2.pt --student s1w40:RUNS/cpu-ft15/best.pt

Distillation (`--kd-net`, the polish) moves a student towards its teachers' mean logits, so it
only pays while that mean is more accurate than the student. This prints, for float weights on
PublicTest (PrivateTest is never looked at here): each net alone, the mean logits of all of them,
of all but one (with three or more), each with and without the mirror image averaged in, the
4-class accuracy of the full ensemble, and with `--student` its own and how far the ensemble is
above it.
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
from .metrics import accuracy, report
from .train import load_net_spec, normalised, predict


def load_net(spec: str) -> tuple[str, nn.Module]:
    """`ARCH:WEIGHTS` as (its weights' path, an eval-mode net on raw [0, 1] input)."""
    return spec.partition(":")[2], normalised(load_net_spec(spec, 0.0, torch.device("cpu")), 0.0).eval()


def logits(net: nn.Module, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The net's logits for the images and for their mirror images."""
    cpu = torch.device("cpu")
    return predict(net, images, cpu), predict(net, np.ascontiguousarray(images[:, :, ::-1]), cpu)


def mean_logits(members: list[tuple[np.ndarray, np.ndarray]], mirror: bool) -> np.ndarray:
    """The members' mean logits, with each one's mirror-image logits averaged in when asked."""
    return np.mean([m[0] + m[1] if mirror else m[0] for m in members], axis=0)


def scores(members: list[tuple[np.ndarray, np.ndarray]], labels: np.ndarray) -> dict[str, float]:
    """Accuracy of the members' mean logits, plain and with the mirror averaged in."""
    return {"plain": accuracy(mean_logits(members, False), labels),
            "mirror": accuracy(mean_logits(members, True), labels)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.ensemble", description=__doc__.split("\n")[0])
    p.add_argument("nets", nargs="+", metavar="ARCH:WEIGHTS", help="teacher nets (state dicts or checkpoints)")
    p.add_argument("--student", metavar="ARCH:WEIGHTS", default=None, help="the net they would teach")
    p.add_argument("--data", type=Path, default=None, help="FER-2013 folder (train/, test/)")
    p.add_argument("--threads", type=int, default=0)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        nets = [load_net(s) for s in args.nets]
        student = load_net(args.student) if args.student else None
    except ValueError as e:
        print(e, file=sys.stderr)
        return 2
    val = fer.load_split(fer.data_dir(args.data), "PublicTest")

    out: dict[str, object] = {"nets": {}}
    outs = []
    for name, net in nets:
        outs.append(logits(net, val.images))
        out["nets"][name] = scores([outs[-1]], val.labels)
    out["all"] = scores(outs, val.labels)
    out["all"]["4class_mirror"] = report(val.labels, mean_logits(outs, True))["accuracy_4class"]
    if len(outs) >= 3:
        out["without"] = {name: scores(outs[:i] + outs[i + 1 :], val.labels) for i, (name, _) in enumerate(nets)}
    if student is not None:
        own = logits(student[1], val.images)
        s = scores([own], val.labels)
        out["student"] = {"name": student[0], **s, "4class": report(val.labels, own[0])["accuracy_4class"],
                          "headroom": out["all"]["mirror"] - s["plain"]}

    for name, s in out["nets"].items():
        print(f"{name}: PublicTest {s['plain'] * 100:.2f} % (with the mirror {s['mirror'] * 100:.2f} %)", file=sys.stderr)
    a = out["all"]
    print(f"mean of {len(outs)}: PublicTest {a['plain'] * 100:.2f} % (with the mirror {a['mirror'] * 100:.2f} %, "
          f"4-class {a['4class_mirror'] * 100:.2f} %)", file=sys.stderr)
    for name, s in out.get("without", {}).items():
        print(f"  without {name}: {s['plain'] * 100:.2f} % ({s['mirror'] * 100:.2f} %)", file=sys.stderr)
    if "student" in out:
        st = out["student"]
        print(f"student {st['name']}: PublicTest {st['plain'] * 100:.2f} % (4-class {st['4class'] * 100:.2f} %); "
              f"the ensemble with the mirror is "
              f"{st['headroom'] * 100:+.2f} points from it", file=sys.stderr)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
