"""FER+ accuracy of exported models under camera conditions: the test faces darkened, washed out,
blurred, noisy, JPEG-compressed, shrunk, turned or shifted, as a webcam in a real room delivers
them. FER-2013's test faces are mostly sharp, well-exposed web photos, so the plain figure
flatters a model that only knows those.

    python -m training.shifts [--split PublicTest] MODEL.pt [MORE.pt ...]

Prints one row per condition and one column per model (plurality accuracy, %, as
`emotune eval --labels ferplus` scores it), then the mean over the conditions. Which conditions
`training.data.camera` also trains on is marked, so a gain there is not read as a gain on
unseen conditions.
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageFilter

from . import data as fer
from . import ferplus
from .export import load_exported
from .metrics import accuracy
from .model import predict

# Conditions `training.data.camera` also draws in training (so a gain there is partly by design).
TRAINED = {"blur", "dark", "bright", "low contrast", "gamma 2", "noise"}


def _each(images: np.ndarray, f: Callable[[Image.Image], Image.Image]) -> np.ndarray:
    return np.stack([np.asarray(f(Image.fromarray(a)).convert("L")) for a in images])


def _jpeg(im: Image.Image) -> Image.Image:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=25)
    return Image.open(io.BytesIO(buf.getvalue()))


def conditions(images: np.ndarray, seed: int = 0) -> dict[str, np.ndarray]:
    """Each condition applied to every image (N x 48 x 48 uint8)."""
    x = images.astype(np.float64)
    rng = np.random.default_rng(seed)
    u8 = lambda a: np.clip(a, 0, 255).astype(np.uint8)  # noqa: E731
    return {
        "clean": images,
        "blur": _each(images, lambda im: im.filter(ImageFilter.GaussianBlur(1.0))),
        "dark": u8(x * 0.5),
        "bright": u8(x + 60),
        "low contrast": u8((x - 128) * 0.5 + 128),
        "gamma 2": u8(255 * (x / 255) ** 2),
        "noise": u8(x + rng.normal(0, 12, x.shape)),
        "jpeg 25": _each(images, _jpeg),
        "shrunk to 20 px": _each(images, lambda im: im.resize((20, 20), Image.BILINEAR).resize((48, 48), Image.BILINEAR)),
        "turned 12 deg": _each(images, lambda im: im.rotate(12, resample=Image.BILINEAR)),
        "shifted 4 px": np.roll(np.roll(images, 4, 1), -3, 2),
        "zoomed 1.26x": _each(images, lambda im: im.crop((5, 5, 43, 43)).resize((48, 48), Image.BILINEAR)),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.shifts", description=__doc__.split("\n\n")[0])
    p.add_argument("models", nargs="+", type=Path, help="exported TorchScript models")
    p.add_argument("--split", default="PublicTest", choices=["PublicTest", "PrivateTest"])
    p.add_argument("--data", type=Path, default=None, help="FER-2013 folder (default: the cached copy)")
    p.add_argument("--ferplus", type=Path, default=None, help="ferplus.csv (default: ../shared/datasets/)")
    args = p.parse_args(argv)
    nets = {}
    for path in args.models:
        try:
            nets[path] = load_exported(path)
        except (RuntimeError, ValueError, OSError, AttributeError) as e:
            print(f"{path}: not an exported emotion model ({e}); pass a .pt from training.export",
                  file=sys.stderr)
            return 2
    split = fer.load_split(fer.data_dir(args.data), args.split)
    labels = ferplus.align(ferplus.read_votes(args.ferplus or ferplus.shared_csv()), split.paths)
    scored = labels.plurality >= 0
    rows = conditions(split.images[scored])
    truth = labels.plurality[scored]
    cpu = torch.device("cpu")
    print("condition", *(str(m) for m in args.models), sep="\t")
    table = {m: [] for m in args.models}
    for name, images in rows.items():
        accs = [100 * accuracy(predict(net, images, cpu), truth) for net in nets.values()]
        for m, a in zip(args.models, accs):
            table[m].append(a)
        mark = " (trained)" if name in TRAINED else ""
        print(f"{name}{mark}", *(f"{a:.2f}" for a in accs), sep="\t", flush=True)
    print("mean", *(f"{np.mean(v):.2f}" for v in table.values()), sep="\t")
    return 0


if __name__ == "__main__":
    sys.exit(main())
