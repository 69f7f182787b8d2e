"""Train ResNet18+CBAM on FER-2013, checkpoint every epoch, export TorchScript.

    python -m training.train --data ~/.cache/emotune/datasets/fer2013 --epochs 40

This module is the training loop: epochs, optimiser and one-cycle schedule, checkpoints and
`--resume`, CutMix, the loss (on FER+'s vote shares or the folder labels, plus distillation).
The steps around it are in their own modules: options (`training.options`), the run's data
(`training.data`), teachers (`training.distil`), the export (`training.export`) and its report
(`training.evaluate`). Validation/model selection on PublicTest_*, final report on PrivateTest_*
only. Runs under `torchrun --nproc-per-node N` too (one process per GPU, DDP).
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import random
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from . import data as fer
from .distil import distill, dump_logits, ensemble_logits, load_teacher, load_teacher_net
from .evaluate import report_run
from .export import export_trained
from .metrics import accuracy
from .model import CLASS_NAMES, build_model, load_weights, normalised, normalize, predict
from .options import parse_args

LOG_HEADER = ["epoch", "lr", "train_loss", "train_acc", "val_loss", "val_acc", "seconds", "img_per_s"]


@dataclass
class Procs:
    """This process's device and its place among the DDP processes (1 without torchrun)."""

    device: torch.device
    world: int = 1
    rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


@dataclass
class Trainer:
    """Everything the loop works on. `model` is the bare net (what is saved); `net` runs the
    batches (the model, or its DDP wrapper)."""

    args: argparse.Namespace
    procs: Procs
    run_dir: Path
    data: fer.TrainingData
    sigma: float
    model: nn.Module
    net: nn.Module
    opt: torch.optim.Optimizer
    sched: torch.optim.lr_scheduler.LRScheduler
    criterion: nn.Module
    steps_per_epoch: int
    x: torch.Tensor
    y: torch.Tensor
    soft: torch.Tensor | None
    teacher_nets: list[nn.Module]
    amp: torch.autocast
    gen: torch.Generator
    step: int = 0
    best_acc: float = -1.0


def class_weights(labels: np.ndarray) -> torch.Tensor:
    """Inverse-sqrt frequency, mean 1: lifts disgust (436 images) without wrecking accuracy."""
    counts = np.bincount(labels, minlength=len(CLASS_NAMES)).astype(np.float64)
    w = 1.0 / np.sqrt(np.maximum(counts, 1))
    return torch.tensor(w / w.mean(), dtype=torch.float32)


def freeze_batchnorm(model: nn.Module) -> None:
    """BatchNorm layers to eval mode: their running statistics are used and kept, while their
    affine weights still train. For fine-tuning weights recovered from an export, whose train-mode
    function differs from the eval-mode one it was measured in (`training.recover`)."""
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()


def use_bf16(choice: str, device: torch.device) -> bool:
    """bf16 autocast for training. On a CPU only where it is native: emulated bf16 is slower than
    fp32, native bf16 measured 1.6x fp32's img/s for the s2 net (Zen 4, AVX512-BF16, 2 threads)."""
    if choice != "auto":
        return choice == "on"
    if device.type == "cuda":
        return True
    return device.type == "cpu" and (torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())


def one_cycle(opt: torch.optim.Optimizer, lr: float, steps: int) -> torch.optim.lr_scheduler.OneCycleLR:
    return torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=lr, total_steps=max(1, steps), pct_start=0.15, div_factor=20, final_div_factor=200
    )


def fast_forward(sched: torch.optim.lr_scheduler.LRScheduler, steps: int) -> None:
    """A schedule re-planned mid-run, moved on to where training stands."""
    with warnings.catch_warnings():
        # Stepping the schedule alone is the point here, not a misordered loop.
        warnings.filterwarnings("ignore", message="Detected call of `lr_scheduler.step")
        for _ in range(steps):
            sched.step()


def cutmix(x: torch.Tensor, rng: random.Random) -> tuple[torch.Tensor, torch.Tensor, float]:
    """CutMix: a box from a shuffled partner pasted in; `lam` is the share of the image kept.
    Box and partners are drawn on the host, so nothing waits on the device."""
    n, _, h, w = x.shape
    cut = math.sqrt(1 - rng.random())
    ch, cw = int(h * cut), int(w * cut)
    cy, cx = rng.randrange(h), rng.randrange(w)
    y0, y1 = max(cy - ch // 2, 0), min(cy + ch // 2, h)
    x0, x1 = max(cx - cw // 2, 0), min(cx + cw // 2, w)
    perm = torch.tensor(rng.sample(range(n), n), device=x.device)
    x = x.clone()
    x[:, :, y0:y1, x0:x1] = x[perm, :, y0:y1, x0:x1]
    return x, perm, 1 - (y1 - y0) * (x1 - x0) / (h * w)


def mixed(loss, target: torch.Tensor, perm: torch.Tensor | None, lam: float) -> torch.Tensor:
    """`loss` against the targets, blended with the partners' targets where CutMix mixed."""
    if perm is None:
        return loss(target)
    return lam * loss(target) + (1 - lam) * loss(target[perm])


def setup(args: argparse.Namespace) -> Procs:
    """The device (`--device auto` resolved in `args`), DDP under torchrun, CPU threads."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    if world > 1:
        dist.init_process_group("nccl" if args.device == "cuda" else "gloo")
    if args.device == "cuda":
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        device = torch.device("cuda", local)
        torch.backends.cudnn.benchmark = True
    else:
        device = torch.device("cpu")
        if args.threads:
            torch.set_num_threads(args.threads)
    return Procs(device, world, rank)


def criterion_for(args: argparse.Namespace, data: fer.TrainingData, device: torch.device) -> nn.Module:
    if data.train_targets is not None:
        # Vote shares as targets: the net's softmax estimates them (no re-weighting, no smoothing,
        # so the probabilities stay comparable with the votes).
        return nn.CrossEntropyLoss()
    return nn.CrossEntropyLoss(
        weight=class_weights(data.train.labels).to(device), label_smoothing=args.label_smoothing
    )


def optimizer_for(model: nn.Module, args: argparse.Namespace) -> torch.optim.Optimizer:
    """SGD with Nesterov momentum; no weight decay on BatchNorm weights and biases."""
    decay, no_decay = [], []
    for _, prm in model.named_parameters():
        (no_decay if prm.ndim <= 1 else decay).append(prm)
    return torch.optim.SGD(
        [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0}],
        lr=args.lr,
        momentum=0.9,
        nesterov=True,
    )


def make_trainer(
    args: argparse.Namespace, procs: Procs, run_dir: Path, data: fer.TrainingData, sigma: float,
    model: nn.Module, teacher: np.ndarray | None, teacher_nets: list[nn.Module],
) -> Trainer:
    device = procs.device
    # channels_last: faster convolutions in oneDNN (CPU) and cuDNN's bf16 kernels (CUDA).
    model = model.to(memory_format=torch.channels_last)
    net: nn.Module = model
    if procs.world > 1:
        net = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    opt = optimizer_for(model, args)
    steps_per_epoch = math.ceil(math.ceil(len(data.train) / procs.world) / args.batch_size)
    sched = one_cycle(opt, args.lr, args.epochs * steps_per_epoch)
    x = fer.to_tensor(data.train.images)
    y = torch.from_numpy(data.train_targets if data.train_targets is not None else data.train.labels)
    soft = torch.from_numpy(teacher) if teacher is not None else None
    if device.type == "cuda":
        # The whole train set is 265 MB as float: keep it on the GPU, no host copies per step.
        x, y = x.to(device), y.to(device)
        soft = soft.to(device) if soft is not None else None
    amp = torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16(args.bf16, device))
    return Trainer(
        args, procs, run_dir, data, sigma, model, net, opt, sched, criterion_for(args, data, device),
        steps_per_epoch, x, y, soft, teacher_nets, amp, torch.Generator(device=device),
    )


def resume(t: Trainer) -> int:
    """With `--resume` and a `last.pt` in the run folder: its weights, optimiser, schedule, best
    score and RNG state; returns the epoch to start at (0 without one)."""
    last = t.run_dir / "last.pt"
    if not (t.args.resume and last.is_file()):
        return 0
    ck = torch.load(last, map_location=t.procs.device, weights_only=False)
    t.model.load_state_dict(ck["model"])
    t.opt.load_state_dict(ck["opt"])
    start_epoch, t.best_acc = ck["epoch"] + 1, ck["best_acc"]
    planned = ck.get("args", {}).get("epochs", t.args.epochs)
    if planned == t.args.epochs:
        t.sched.load_state_dict(ck["sched"])
    else:
        # Re-planned (e.g. less time than hoped): the one-cycle schedule for the new length,
        # fast-forwarded to where training stands.
        fast_forward(t.sched, start_epoch * t.steps_per_epoch)
        if t.procs.main:
            print(f"schedule re-planned from {planned} to {t.args.epochs} epochs", file=sys.stderr)
    torch.set_rng_state(ck["rng"])
    if t.procs.main:
        print(f"resumed from {last} at epoch {start_epoch}", file=sys.stderr)
    return start_epoch


def batch_loss(t: Trainer, logits: torch.Tensor, x: torch.Tensor, y: torch.Tensor,
               soft: torch.Tensor | None, perm: torch.Tensor | None, lam: float) -> torch.Tensor:
    """The loss on the targets (vote shares or labels), blended with distillation from a teacher."""
    loss = mixed(lambda target: t.criterion(logits, target), y, perm, lam)
    kd = None
    if soft is not None:
        kd = mixed(lambda target: distill(logits, target, t.args.kd_temp), soft, perm, lam)
    elif t.teacher_nets:
        # Asked on the mixed batch itself: its answer needs no mixing by area.
        with t.amp:
            online = ensemble_logits(t.teacher_nets, x)
        kd = distill(logits, online, t.args.kd_temp)
    if kd is not None:
        loss = (1 - t.args.kd_alpha) * loss + t.args.kd_alpha * kd
    return loss


def train_step(t: Trainer, idx: torch.Tensor, mix_p: float, mix_rng: random.Random
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One optimiser step on the train images `idx`; returns the loss, logits and targets."""
    device = t.procs.device
    x = t.x[idx].to(device, non_blocking=True)
    y = t.y[idx].to(device, non_blocking=True)
    soft = t.soft[idx].to(device, non_blocking=True) if t.soft is not None else None
    x = fer.augment(x, t.gen)
    if t.args.camera > 0:
        x = fer.camera(x, t.gen, t.args.camera)
    x = normalize(x).contiguous(memory_format=torch.channels_last)
    perm, lam = None, 1.0
    if mix_p > 0 and mix_rng.random() < mix_p:
        x, perm, lam = cutmix(x, mix_rng)
    with t.amp:
        logits = t.net(x)
    logits = logits.float()
    loss = batch_loss(t, logits, x, y, soft, perm, lam)
    t.opt.zero_grad(set_to_none=True)
    loss.backward()
    t.opt.step()
    t.sched.step()
    return loss, logits, y


def train_epoch(t: Trainer, epoch: int) -> tuple[float, float, int]:
    """One epoch's steps (fewer at `--max-steps`); returns summed loss, correct answers, images."""
    args = t.args
    t.gen.manual_seed(args.seed * 1000 + epoch)
    order = torch.randperm(len(t.data.train), generator=torch.Generator().manual_seed(args.seed + epoch))
    order = order[t.procs.rank :: t.procs.world].to(t.x.device)
    # CutMix stops for the last tenth: the net ends on clean images, as it will see them.
    mix_p = args.cutmix if epoch < int(args.epochs * 0.9) else 0.0
    # CutMix's per-batch choices come from the host: reading them off the GPU would sync.
    mix_rng = random.Random(args.seed * 1000 + epoch)
    t.net.train()
    if args.freeze_bn:
        freeze_batchnorm(t.model)
    tot_loss = torch.zeros((), device=t.procs.device)
    tot_ok = torch.zeros((), device=t.procs.device)
    seen = 0
    bar = tqdm(range(t.steps_per_epoch), desc=f"epoch {epoch + 1}/{args.epochs}", disable=not t.procs.main,
               file=sys.stderr)
    for b in bar:
        idx = order[b * args.batch_size : (b + 1) * args.batch_size]
        if len(idx) == 0:
            break
        loss, logits, y = train_step(t, idx, mix_p, mix_rng)
        # Accumulated on the device: a .item() per step would stall the GPU queue.
        tot_loss += loss.detach() * len(idx)
        tot_ok += (logits.argmax(1) == (y if y.ndim == 1 else y.argmax(1))).sum()
        seen += len(idx)
        if t.procs.device.type == "cpu":
            bar.set_postfix(loss=f"{tot_loss.item() / seen:.3f}", acc=f"{tot_ok.item() / seen:.3f}")
        t.step += 1
        if args.max_steps and t.step >= args.max_steps:
            break
    return tot_loss.item(), tot_ok.item(), seen


def end_epoch(t: Trainer, epoch: int, loss: float, ok: float, seen: int, secs: float) -> None:
    """The main process after an epoch: PublicTest, the log row, best.pt, the checkpoint."""
    val = t.data.val
    val_logits = predict(normalised(t.model, t.sigma), val.images, t.procs.device)
    val_loss = F.cross_entropy(torch.from_numpy(val_logits), torch.from_numpy(t.data.val_labels)).item()
    val_acc = accuracy(val_logits, t.data.val_labels)
    with open(t.run_dir / "log.csv", "a", newline="") as f:
        csv.writer(f).writerow(
            [epoch + 1, f"{t.sched.get_last_lr()[0]:.5f}", f"{loss / max(seen, 1):.4f}",
             f"{ok / max(seen, 1):.4f}", f"{val_loss:.4f}", f"{val_acc:.4f}",
             f"{secs:.1f}", f"{seen * t.procs.world / secs:.1f}"]
        )
    print(f"epoch {epoch + 1}: train_acc={ok / max(seen, 1):.4f} val_acc={val_acc:.4f} ({secs:.0f}s)", file=sys.stderr)
    if val_acc > t.best_acc:
        t.best_acc = val_acc
        torch.save(t.model.state_dict(), t.run_dir / "best.pt")
    tmp = t.run_dir / "last.pt.tmp"
    torch.save(
        {"model": t.model.state_dict(), "opt": t.opt.state_dict(), "sched": t.sched.state_dict(),
         "epoch": epoch, "best_acc": t.best_acc, "rng": torch.get_rng_state(), "args": vars(t.args)},
        tmp,
    )
    tmp.replace(t.run_dir / "last.pt")


def replan(t: Trainer, epoch: int, epoch_start: float, loop_start: float) -> None:
    """`--time-budget`: after the second epoch, as many epochs as fit, the schedule re-planned."""
    args = t.args
    # Epoch 2's full time (training + validation) sets the pace; epoch 1 had warm-up.
    per_epoch = (time.time() - epoch_start) * 1.03
    fit = epoch + 1 + int((args.time_budget - (time.time() - loop_start)) / per_epoch)
    if fit < args.epochs:
        if t.procs.main:
            print(f"time budget {args.time_budget:.0f}s: {fit} epochs instead of {args.epochs}", file=sys.stderr)
        args.epochs = fit
        t.sched = one_cycle(t.opt, args.lr, args.epochs * t.steps_per_epoch)
        fast_forward(t.sched, (epoch + 1) * t.steps_per_epoch)


def fit(t: Trainer, start_epoch: int) -> None:
    """The epochs from `start_epoch` to `--epochs` (fewer at `--max-steps` or `--time-budget`)."""
    args = t.args
    log = t.run_dir / "log.csv"
    if t.procs.main and not (args.resume and log.is_file()):
        with open(log, "w", newline="") as f:
            csv.writer(f).writerow(LOG_HEADER)
    loop_start = time.time()
    for epoch in range(start_epoch, args.epochs):
        t0 = time.time()
        loss, ok, seen = train_epoch(t, epoch)
        if t.procs.main:
            end_epoch(t, epoch, loss, ok, seen, time.time() - t0)
        if args.max_steps and t.step >= args.max_steps:
            break
        if args.time_budget and epoch == start_epoch + 1:
            replan(t, epoch, t0, loop_start)
        if epoch + 1 >= args.epochs:
            break


def finish(t: Trainer, root: Path) -> None:
    """After training: the chosen epoch's weights exported (`training.export`) and reported on
    PrivateTest (`training.evaluate`)."""
    args = t.args
    # The weights in memory are the last epoch's (trained here, or loaded by --resume).
    if args.export_epoch == "best" or args.export_from is not None:
        t.model.load_state_dict(torch.load(t.run_dir / "best.pt", map_location=t.procs.device))
    temperature = export_trained(t.model, args.out, t.data, t.sigma, args.quantize,
                                 args.calibration_images, args.seed, args.flip_below)
    report_run(args.out, t.run_dir, root, args.labels, args.ferplus, temperature=temperature,
               best_acc=t.best_acc, sigma=t.sigma, quantize=args.quantize)


def start_model(args: argparse.Namespace, run_dir: Path, device: torch.device) -> nn.Module:
    """A fresh net, or `--init-from`'s weights; `--export-from`'s become the run's best.pt and
    no epoch is trained."""
    model = build_model(args.arch, args.dropout).to(device)
    if args.export_from is not None:
        load_weights(model, args.export_from, device)
        torch.save(model.state_dict(), run_dir / "best.pt")
        args.epochs = 0
    elif args.init_from is not None:
        load_weights(model, args.init_from, device)
    return model


def run(args: argparse.Namespace, procs: Procs) -> int:
    root = fer.data_dir(args.data)
    data = fer.training_data(root, args.limit, args.labels, args.ferplus, verbose=procs.main)
    if args.kd is not None and args.kd_net:
        print("--kd and --kd-net are two kinds of teacher: give one of them", file=sys.stderr)
        return 2
    teacher = load_teacher(args.kd, data.train) if args.kd is not None else None
    teacher_nets = [load_teacher_net(spec, args.dropout, procs.device) for spec in args.kd_net]
    sigma = fer.input_blur(args.input_blur, root, data.train, data.val, verbose=procs.main)
    if sigma is None:
        return 2
    run_dir = args.run_dir or fer.cache_dir() / "runs" / f"{args.arch}-seed{args.seed}"
    run_dir.mkdir(parents=True, exist_ok=True)
    model = start_model(args, run_dir, procs.device)
    t = make_trainer(args, procs, run_dir, data, sigma, model, teacher, teacher_nets)
    fit(t, resume(t))
    if procs.main and args.dump_logits is not None:
        # A net of its own: `t.model` keeps the last epoch's weights for `--export-epoch last`.
        best_net = build_model(args.arch, args.dropout).to(procs.device)
        best_net.load_state_dict(torch.load(run_dir / "best.pt", map_location=procs.device))
        dump_logits(best_net, {"train": data.train, "PublicTest": data.val}, root, args.dump_logits, procs.device)
        print(f"logits written to {args.dump_logits}", file=sys.stderr)
    if procs.main and not args.no_export:
        finish(t, root)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    procs = setup(args)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    try:
        return run(args, procs)
    finally:
        if procs.world > 1:
            dist.destroy_process_group()


if __name__ == "__main__":
    sys.exit(main())
