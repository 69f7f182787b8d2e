"""Knowledge distillation for `training.train` and the recipe (`training.recipe`): teachers as
stored logits (`--kd`) or as nets asked on every batch (`--kd-net`), the soft-target loss, and the
logit dumps (`--dump-logits`) the recipe averages into one teacher."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import data as fer
from .model import ARCHS, ExportedClassifier, build_model, load_weights, predict


def distill(student: torch.Tensor, teacher: torch.Tensor, temp: float) -> torch.Tensor:
    """Hinton's soft-target loss (KL at temperature `temp`, scaled by temp^2)."""
    return F.kl_div(
        F.log_softmax(student / temp, 1), F.log_softmax(teacher / temp, 1), log_target=True,
        reduction="batchmean",
    ) * (temp * temp)


def load_net_spec(spec: str, dropout: float, device: torch.device) -> nn.Module:
    """`ARCH:WEIGHTS` (a state dict or checkpoint, fp16 or fp32) as an eval-mode net; ValueError
    names what is wrong (the spec, the file, the ARCH)."""
    arch, sep, path = spec.partition(":")
    if not sep or arch not in ARCHS:
        raise ValueError(f"{spec}: expected ARCH:WEIGHTS with ARCH one of {', '.join(ARCHS)}")
    if not Path(path).is_file():
        raise ValueError(f"{spec}: no file {path}; pass the net's best.pt")
    net = build_model(arch, dropout).to(device)
    try:
        load_weights(net, Path(path), device)
    except (RuntimeError, KeyError, pickle.UnpicklingError) as e:
        raise ValueError(f"{spec}: not {arch} weights ({e}); check the ARCH") from e
    return net.eval()


def load_teacher_net(spec: str, dropout: float, device: torch.device) -> nn.Module:
    """`--kd-net ARCH:WEIGHTS` as a frozen eval-mode net."""
    try:
        net = load_net_spec(spec, dropout, device)
    except ValueError as e:
        raise SystemExit(f"--kd-net {e}") from e
    net = net.to(memory_format=torch.channels_last).eval()
    for w in net.parameters():
        w.requires_grad_(False)
    return net


@torch.no_grad()
def ensemble_logits(nets: list[nn.Module], x: torch.Tensor) -> torch.Tensor:
    """The teachers' mean logits on the batch `x` exactly as the student sees it."""
    return torch.stack([net(x).float() for net in nets]).mean(0)


def load_teacher(path: Path, train: fer.Split) -> np.ndarray:
    """Teacher logits for each train/ image, matched by file name."""
    z = np.load(path, allow_pickle=False)
    row = {str(n): i for i, n in enumerate(z["train_names"])}
    missing = [Path(p).name for p in train.paths if Path(p).name not in row]
    if missing:
        raise SystemExit(
            f"{path}: no teacher logits for {len(missing)} train/ images (e.g. {missing[0]}); "
            "dump them again from teachers trained on this copy"
        )
    return z["train"][[row[Path(p).name] for p in train.paths]].astype(np.float32)


@torch.no_grad()
def dump_logits(
    model: nn.Module, loaded: dict[str, fer.Split], root: Path, out: Path, device: torch.device
) -> None:
    """Flip-averaged logits of `model` on every split (those not in `loaded` are read), for
    distillation and ensembling."""
    net = ExportedClassifier(model, tta_flip=True).to(device)
    train = loaded["train"]
    arrays: dict[str, np.ndarray] = {"train_names": np.array([Path(p).name for p in train.paths])}
    for split in fer.SPLITS:
        s = loaded[split] if split in loaded else fer.load_split(root, split)
        arrays[split] = predict(net, s.images, device).astype(np.float32)
        arrays[f"{split}_labels"] = s.labels
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, **arrays)
