"""The command line of `python -m training.train`: every option of a training run, in one place."""

from __future__ import annotations

import argparse
from pathlib import Path

from .model import ARCHS

DESCRIPTION = "Train ResNet18+CBAM on FER-2013, checkpoint every epoch, export TorchScript."


def blur_choice(value: str) -> str:
    """`--input-blur`: 'auto' or a sigma (kept as given: the report names it)."""
    if value != "auto":
        try:
            float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r}: give 'auto' or a sigma") from None
    return value


def probability(value: str) -> float:
    """`--flip-below`: a top-class probability in [0, 1]."""
    try:
        v = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r}: give a number from 0 to 1") from None
    if not 0.0 <= v <= 1.0:
        raise argparse.ArgumentTypeError(f"{value}: give a number from 0 to 1")
    return v


def _data(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", type=Path, default=None, help="FER-2013 folder (train/, test/)")
    p.add_argument(
        "--labels", default="folder", choices=["folder", "ferplus"],
        help="ferplus: train on FER+'s vote shares (soft cross-entropy), select on FER+ PublicTest "
        "plurality labels; folder: FER-2013's one-annotator folder labels",
    )
    p.add_argument("--ferplus", type=Path, default=None, help="ferplus.csv (default: ../shared/datasets/)")
    p.add_argument(
        "--input-blur", default=None, type=blur_choice,
        help="explicit only: Gaussian sigma applied to inputs at validation/inference; 'auto': "
        "match the sharpness of PublicTest to train/. Without it, train/ and test/ must be "
        "equally sharp",
    )
    p.add_argument("--limit", type=int, default=0, help="use only N train/val images (tests)")


def _schedule(p: argparse.ArgumentParser) -> None:
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.1, help="peak SGD learning rate (one-cycle)")
    p.add_argument("--weight-decay", type=float, default=5e-4)
    p.add_argument("--label-smoothing", type=float, default=0.1)
    p.add_argument("--arch", default="s2", choices=ARCHS)
    p.add_argument("--dropout", type=float, default=0.3)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--init-from", type=Path, default=None,
                   help="start from these weights (a state dict or checkpoint), fresh schedule")
    p.add_argument(
        "--freeze-bn", action="store_true",
        help="keep BatchNorm statistics fixed (fine-tuning from --init-from, e.g. recovered weights)",
    )
    p.add_argument("--cutmix", type=float, default=0.0, help="probability per batch of CutMix")
    p.add_argument(
        "--camera", type=float, default=0.0,
        help="probability per image of webcam conditions: exposure, contrast, gamma, blur, noise",
    )
    p.add_argument(
        "--time-budget", type=float, default=0.0,
        help="seconds for the training loop: after two epochs, fewer epochs are planned if needed",
    )
    p.add_argument("--max-steps", type=int, default=0, help="stop after N steps (tests)")


def _machine(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0: all cores)")
    p.add_argument(
        "--bf16", default="auto", choices=["auto", "on", "off"],
        help="bf16 autocast in training; auto: on CUDA, and on CPUs with native bf16 (AVX512-BF16/AMX)",
    )
    p.add_argument("--run-dir", type=Path, default=None, help="checkpoints + CSV log")
    p.add_argument("--resume", action="store_true", help="continue from run-dir/last.pt")


def _distillation(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kd", type=Path, default=None, help="teacher logits (.npz with train) to distil from")
    p.add_argument(
        "--kd-net", action="append", default=[], metavar="ARCH:WEIGHTS",
        help="a teacher net (e.g. s1:best.pt) run on every augmented batch, CutMix included, so "
        "the student matches it on exactly the images it sees (consistent teaching); repeat it "
        "for an ensemble (logits averaged). Instead of --kd, at the teachers' forward cost",
    )
    p.add_argument("--kd-alpha", type=float, default=0.7, help="weight of the distillation loss")
    p.add_argument("--kd-temp", type=float, default=4.0, help="distillation temperature")
    p.add_argument("--dump-logits", type=Path, default=None,
                   help="write the best float net's flip-averaged logits on every split (.npz)")


def _export(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, default=Path("models/emotion_resnet18_cbam.pt"))
    p.add_argument(
        "--quantize", default="int8", choices=["int8", "none"],
        help="int8: quantize the convolutions for CPU inference (calibrated on train images); "
        "none: float weights stored as fp16",
    )
    p.add_argument("--calibration-images", type=int, default=2000, help="train images for int8 calibration")
    p.add_argument(
        "--flip-below", type=probability, default=0.0,
        help="a second pass on the mirror image, averaged in, for faces whose top probability is "
        "under this (unsure faces only, so the usual face costs one pass); 0: never",
    )
    p.add_argument("--export-from", type=Path, default=None, help="skip training: export this checkpoint")
    p.add_argument("--no-export", action="store_true", help="train only (no TorchScript export)")
    p.add_argument(
        "--export-epoch", default="best", choices=["best", "last"],
        help="which weights the export takes: the best PublicTest epoch, or the last one (a choice "
        "fixed before training, so the validation split does not pick among noisy epochs)",
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m training.train", description=DESCRIPTION)
    for group in (_data, _schedule, _machine, _distillation, _export):
        group(p)
    return p.parse_args(argv)
