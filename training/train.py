"""Train ResNet18+CBAM on FER-2013, checkpoint every epoch, export TorchScript.

    python -m training.train --data ~/.cache/emotune/datasets/fer2013 --epochs 40

Validation/model selection on PublicTest_*, final report on PrivateTest_* only.
Runs under `torchrun --nproc-per-node N` too (one process per GPU, DDP).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import pickle
import random
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from . import data as fer
from . import ferplus
from .export import export_torchscript
from .metrics import accuracy, report
from .model import ARCHS, CLASS_NAMES, ExportedClassifier, build_model, normalize


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m training.train", description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=None, help="FER-2013 folder (train/, test/)")
    p.add_argument(
        "--labels", default="folder", choices=["folder", "ferplus"],
        help="ferplus: train on FER+'s vote shares (soft cross-entropy), select on FER+ PublicTest "
        "plurality labels; folder: FER-2013's one-annotator folder labels",
    )
    p.add_argument("--ferplus", type=Path, default=None, help="ferplus.csv (default: ../shared/datasets/)")
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.1, help="peak SGD learning rate (one-cycle)")
    p.add_argument("--weight-decay", type=float, default=5e-4)
    p.add_argument("--label-smoothing", type=float, default=0.1)
    p.add_argument("--arch", default="s2", choices=ARCHS)
    p.add_argument("--dropout", type=float, default=0.3)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0: all cores)")
    p.add_argument(
        "--bf16", default="auto", choices=["auto", "on", "off"],
        help="bf16 autocast in training; auto: on CUDA, and on CPUs with native bf16 (AVX512-BF16/AMX)",
    )
    p.add_argument("--run-dir", type=Path, default=None, help="checkpoints + CSV log")
    p.add_argument("--resume", action="store_true", help="continue from run-dir/last.pt")
    p.add_argument("--out", type=Path, default=Path("models/emotion_resnet18_cbam.pt"))
    p.add_argument("--tta-flip", action="store_true", help="bake flip-TTA into the export")
    p.add_argument(
        "--flip-below",
        type=float,
        default=0.0,
        help="export: mirror pass (flip-TTA) only for faces whose top probability is under this "
        "(0: never). 0.5 gives all of flip-TTA's PublicTest gain for a second pass on 28 %% of "
        "faces; not the default: it measured over the 3 ms budget (models/MODEL_CARD.md)",
    )
    p.add_argument(
        "--input-blur",
        default=None,
        help="explicit only: Gaussian sigma applied to inputs at validation/inference; 'auto': "
        "match the sharpness of PublicTest to train/; 'tune': 'auto', then the export takes the "
        "sigma near it that scores best on PublicTest. Without it, train/ and test/ must be "
        "equally sharp",
    )
    p.add_argument(
        "--quantize",
        default="int8",
        choices=["int8", "none"],
        help="int8: quantize the convolutions for CPU inference (calibrated on train images); "
        "none: float weights stored as fp16",
    )
    p.add_argument("--calibration-images", type=int, default=2000, help="train images for int8 calibration")
    p.add_argument("--export-from", type=Path, default=None, help="skip training: export this checkpoint")
    p.add_argument("--init-from", type=Path, default=None,
                   help="start from these weights (a state dict or checkpoint), fresh schedule")
    p.add_argument(
        "--freeze-bn", action="store_true",
        help="keep BatchNorm statistics fixed (fine-tuning from --init-from, e.g. recovered weights)",
    )
    p.add_argument("--cutmix", type=float, default=0.0, help="probability per batch of CutMix")
    p.add_argument("--kd", type=Path, default=None, help="teacher logits (.npz with train) to distil from")
    p.add_argument(
        "--kd-net", action="append", default=[], metavar="ARCH:WEIGHTS",
        help="a teacher net (e.g. s1:best.pt) run on every augmented batch, CutMix included, so "
        "the student matches it on exactly the images it sees (consistent teaching); repeat it "
        "for an ensemble (logits averaged). Instead of --kd, at the teachers' forward cost",
    )
    p.add_argument("--kd-alpha", type=float, default=0.7, help="weight of the distillation loss")
    p.add_argument("--kd-temp", type=float, default=4.0, help="distillation temperature")
    p.add_argument(
        "--time-budget", type=float, default=0.0,
        help="seconds for the training loop: after two epochs, fewer epochs are planned if needed",
    )
    p.add_argument("--dump-logits", type=Path, default=None,
                   help="write the best float net's flip-averaged logits on every split (.npz)")
    p.add_argument("--no-export", action="store_true", help="train only (no TorchScript export)")
    p.add_argument("--keep-epochs", action="store_true",
                   help="keep every epoch's weights as epochN.pt")
    p.add_argument(
        "--export-epoch", default="best", choices=["best", "last"],
        help="which weights the export takes: the best PublicTest epoch, or the last one (a choice "
        "fixed before training, so the validation split does not pick among noisy epochs)",
    )
    p.add_argument("--limit", type=int, default=0, help="use only N train/val images (tests)")
    p.add_argument("--max-steps", type=int, default=0, help="stop after N steps (tests)")
    return p.parse_args(argv)


def class_weights(labels: np.ndarray) -> torch.Tensor:
    """Inverse-sqrt frequency, mean 1: lifts disgust (436 images) without wrecking accuracy."""
    counts = np.bincount(labels, minlength=len(CLASS_NAMES)).astype(np.float64)
    w = 1.0 / np.sqrt(np.maximum(counts, 1))
    return torch.tensor(w / w.mean(), dtype=torch.float32)


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


@torch.no_grad()
def predict(model: nn.Module, images: np.ndarray, device: torch.device, bs: int = 512) -> np.ndarray:
    model.eval()
    out = []
    for i in range(0, len(images), bs):
        x = fer.to_tensor(images[i : i + bs]).to(device)
        out.append(model(x).float().cpu())
    return torch.cat(out).numpy()


def load_weights(model: nn.Module, path: Path, device: torch.device) -> None:
    """A state dict or a {"model": ...} checkpoint; fp16 copies (what comes back from the GPU
    machine) load as fp32."""
    ck = torch.load(path, map_location=device, weights_only=False)
    state = ck["model"] if "model" in ck else ck
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})


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


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
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
    main_proc = rank == 0

    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)

    root = fer.data_dir(args.data)
    train = fer.load_split(root, "train")
    val = fer.load_split(root, "PublicTest")
    if args.limit:
        # One subset for every seed, so runs of a recipe can be ensembled and distilled.
        rng = np.random.default_rng(0)
        ti = rng.permutation(len(train))[: args.limit]
        vi = rng.permutation(len(val))[: args.limit]
        train = fer.Split(train.images[ti], train.labels[ti], [train.paths[i] for i in ti])
        val = fer.Split(val.images[vi], val.labels[vi], [val.paths[i] for i in vi])

    val_labels = val.labels
    train_targets = val_targets = None
    if args.labels == "ferplus":
        votes = ferplus.read_votes(args.ferplus or ferplus.shared_csv())
        tl = ferplus.align(votes, train.paths)
        keep = np.flatnonzero(tl.keep)
        train = fer.Split(train.images[keep], train.labels[keep], [train.paths[i] for i in keep])
        train_targets = tl.targets[keep]
        vl = ferplus.align(votes, val.paths)
        scored = np.flatnonzero(vl.plurality >= 0)
        val = fer.Split(val.images[scored], val.labels[scored], [val.paths[i] for i in scored])
        val_labels = vl.plurality[scored]
        val_targets = vl.targets[scored]
        if main_proc:
            print(f"FER+ labels: {len(train)} train images, {len(val)} PublicTest scored", file=sys.stderr)
    if args.kd is not None and args.kd_net:
        print("--kd and --kd-net are two kinds of teacher: give one of them", file=sys.stderr)
        return 2
    teacher = load_teacher(args.kd, train) if args.kd is not None else None
    teacher_nets = [load_teacher_net(spec, args.dropout, device) for spec in args.kd_net]
    sharp_train, sharp_val = fer.sharpness(train.images[:4000]), fer.sharpness(val.images[:1000])
    if main_proc:
        print(f"sharpness (mean |Laplacian|): train {sharp_train:.1f}, PublicTest {sharp_val:.1f}", file=sys.stderr)
    if args.input_blur is None:
        if fer.sharpness_mismatch(sharp_train, sharp_val):
            print(fer.mismatch_message(root, sharp_train, sharp_val), file=sys.stderr)
            return 2
        sigma = 0.0
    elif args.input_blur in ("auto", "tune"):
        sigma = fer.estimate_blur(train.images, val.images)
    else:
        sigma = float(args.input_blur)
    if main_proc and sigma > 0:
        print(f"input blur sigma {sigma} (explicit --input-blur {args.input_blur})", file=sys.stderr)
    run_dir = args.run_dir or fer.cache_dir() / "runs" / f"{args.arch}-seed{args.seed}"
    run_dir.mkdir(parents=True, exist_ok=True)
    model = build_model(args.arch, args.dropout).to(device)
    if args.export_from is not None:
        load_weights(model, args.export_from, device)
        torch.save(model.state_dict(), run_dir / "best.pt")
        args.epochs = 0
    elif args.init_from is not None:
        load_weights(model, args.init_from, device)
    # channels_last: faster convolutions in oneDNN (CPU) and cuDNN's bf16 kernels (CUDA).
    model = model.to(memory_format=torch.channels_last)
    ddp_model: nn.Module = model
    if world > 1:
        ddp_model = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )

    decay, no_decay = [], []
    for name, prm in model.named_parameters():
        (no_decay if prm.ndim <= 1 else decay).append(prm)
    opt = torch.optim.SGD(
        [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0}],
        lr=args.lr,
        momentum=0.9,
        nesterov=True,
    )
    per_rank = math.ceil(len(train) / world)
    steps_per_epoch = math.ceil(per_rank / args.batch_size)
    sched = one_cycle(opt, args.lr, args.epochs * steps_per_epoch)
    if train_targets is not None:
        # Vote shares as targets: the net's softmax estimates them (no re-weighting, no smoothing,
        # so the probabilities stay comparable with the votes).
        criterion = nn.CrossEntropyLoss()
    else:
        criterion = nn.CrossEntropyLoss(
            weight=class_weights(train.labels).to(device), label_smoothing=args.label_smoothing
        )

    start_epoch, best_acc = 0, -1.0
    last = run_dir / "last.pt"
    if args.resume and last.is_file():
        ck = torch.load(last, map_location=device, weights_only=False)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        start_epoch, best_acc = ck["epoch"] + 1, ck["best_acc"]
        planned = ck.get("args", {}).get("epochs", args.epochs)
        if planned == args.epochs:
            sched.load_state_dict(ck["sched"])
        else:
            # Re-planned (e.g. less time than hoped): the one-cycle schedule for the new length,
            # fast-forwarded to where training stands.
            fast_forward(sched, start_epoch * steps_per_epoch)
            if main_proc:
                print(f"schedule re-planned from {planned} to {args.epochs} epochs", file=sys.stderr)
        torch.set_rng_state(ck["rng"])
        if main_proc:
            print(f"resumed from {last} at epoch {start_epoch}", file=sys.stderr)

    log_path = run_dir / "log.csv"
    if main_proc and not (args.resume and log_path.is_file()):
        with open(log_path, "w", newline="") as f:
            csv.writer(f).writerow(
                ["epoch", "lr", "train_loss", "train_acc", "val_loss", "val_acc", "seconds", "img_per_s"]
            )

    x_all = fer.to_tensor(train.images)
    y_all = torch.from_numpy(train_targets if train_targets is not None else train.labels)
    t_all = torch.from_numpy(teacher) if teacher is not None else None
    if device.type == "cuda":
        # The whole train set is 265 MB as float: keep it on the GPU, no host copies per step.
        x_all, y_all = x_all.to(device), y_all.to(device)
        t_all = t_all.to(device) if t_all is not None else None
    amp = torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16(args.bf16, device))
    gen = torch.Generator(device=device)
    step = 0
    loop_start = time.time()
    for epoch in range(start_epoch, args.epochs):
        t0 = time.time()
        gen.manual_seed(args.seed * 1000 + epoch)
        order = torch.randperm(len(train), generator=torch.Generator().manual_seed(args.seed + epoch))
        order = order[rank::world].to(x_all.device)
        # CutMix stops for the last tenth: the net ends on clean images, as it will see them.
        mix_p = args.cutmix if epoch < int(args.epochs * 0.9) else 0.0
        # CutMix's per-batch choices come from the host: reading them off the GPU would sync.
        mix_rng = random.Random(args.seed * 1000 + epoch)
        ddp_model.train()
        if args.freeze_bn:
            freeze_batchnorm(model)
        tot_loss = torch.zeros((), device=device)
        tot_ok = torch.zeros((), device=device)
        seen = 0
        bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch + 1}/{args.epochs}", disable=not main_proc, file=sys.stderr)
        for b in bar:
            idx = order[b * args.batch_size : (b + 1) * args.batch_size]
            if len(idx) == 0:
                break
            x = x_all[idx].to(device, non_blocking=True)
            y = y_all[idx].to(device, non_blocking=True)
            soft = t_all[idx].to(device, non_blocking=True) if t_all is not None else None
            x = normalize(fer.augment(x, gen)).contiguous(memory_format=torch.channels_last)
            perm, lam = None, 1.0
            if mix_p > 0 and mix_rng.random() < mix_p:
                x, perm, lam = cutmix(x, mix_rng)
            with amp:
                logits = ddp_model(x)
            logits = logits.float()
            loss = mixed(lambda t: criterion(logits, t), y, perm, lam)
            kd = None
            if soft is not None:
                kd = mixed(lambda t: distill(logits, t, args.kd_temp), soft, perm, lam)
            elif teacher_nets:
                # Asked on the mixed batch itself: its answer needs no mixing by area.
                with amp:
                    online = ensemble_logits(teacher_nets, x)
                kd = distill(logits, online, args.kd_temp)
            if kd is not None:
                loss = (1 - args.kd_alpha) * loss + args.kd_alpha * kd
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            # Accumulated on the device: a .item() per step would stall the GPU queue.
            tot_loss += loss.detach() * len(idx)
            tot_ok += (logits.argmax(1) == (y if y.ndim == 1 else y.argmax(1))).sum()
            seen += len(idx)
            if device.type == "cpu":
                bar.set_postfix(loss=f"{tot_loss.item() / seen:.3f}", acc=f"{tot_ok.item() / seen:.3f}")
            step += 1
            if args.max_steps and step >= args.max_steps:
                break
        secs = time.time() - t0
        if main_proc:
            loss_v, ok_v = tot_loss.item(), tot_ok.item()
            val_logits = predict(normalised(model, sigma), val.images, device)
            val_loss = F.cross_entropy(torch.from_numpy(val_logits), torch.from_numpy(val_labels)).item()
            val_acc = accuracy(val_logits, val_labels)
            with open(log_path, "a", newline="") as f:
                csv.writer(f).writerow(
                    [epoch + 1, f"{sched.get_last_lr()[0]:.5f}", f"{loss_v / max(seen, 1):.4f}",
                     f"{ok_v / max(seen, 1):.4f}", f"{val_loss:.4f}", f"{val_acc:.4f}",
                     f"{secs:.1f}", f"{seen * world / secs:.1f}"]
                )
            print(f"epoch {epoch + 1}: train_acc={ok_v / max(seen, 1):.4f} val_acc={val_acc:.4f} ({secs:.0f}s)", file=sys.stderr)
            if val_acc > best_acc:
                best_acc = val_acc
                torch.save(model.state_dict(), run_dir / "best.pt")
            if args.keep_epochs:
                torch.save(model.state_dict(), run_dir / f"epoch{epoch + 1}.pt")
            tmp = run_dir / "last.pt.tmp"
            torch.save(
                {"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                 "epoch": epoch, "best_acc": best_acc, "rng": torch.get_rng_state(), "args": vars(args)},
                tmp,
            )
            tmp.replace(last)
        if args.max_steps and step >= args.max_steps:
            break
        if args.time_budget and epoch == start_epoch + 1:
            # Epoch 2's full time (training + validation) sets the pace; epoch 1 had warm-up.
            per_epoch = (time.time() - t0) * 1.03
            fit = epoch + 1 + int((args.time_budget - (time.time() - loop_start)) / per_epoch)
            if fit < args.epochs:
                if main_proc:
                    print(f"time budget {args.time_budget:.0f}s: {fit} epochs instead of {args.epochs}", file=sys.stderr)
                args.epochs = fit
                sched = one_cycle(opt, args.lr, args.epochs * steps_per_epoch)
                fast_forward(sched, (epoch + 1) * steps_per_epoch)
        if epoch + 1 >= args.epochs:
            break

    if main_proc and args.dump_logits is not None:
        # A net of its own: `model` keeps the last epoch's weights for `--export-epoch last`.
        best_net = build_model(args.arch, args.dropout).to(device)
        best_net.load_state_dict(torch.load(run_dir / "best.pt", map_location=device))
        dump_logits(best_net, {"train": train, "PublicTest": val}, root, args.dump_logits, device)
        print(f"logits written to {args.dump_logits}", file=sys.stderr)
    if main_proc and args.no_export:
        if world > 1:
            dist.destroy_process_group()
        return 0
    if main_proc:
        # The weights in memory are the last epoch's (trained here, or loaded by --resume).
        if args.export_epoch == "best" or args.export_from is not None:
            model.load_state_dict(torch.load(run_dir / "best.pt", map_location=device))
        model = model.to(memory_format=torch.contiguous_format).cpu()
        temperature = 1.0
        if val_targets is not None:
            temperature = fold_temperature(model, normalised(model, sigma), val.images, val_targets)
        tuning: dict[str, float] = {}
        if args.input_blur == "tune":
            sigma, tuning = tune_blur(model, val, sigma, args.tta_flip)
        calibration = None
        if args.quantize == "int8":
            pick = np.random.default_rng(args.seed).permutation(len(train))[: args.calibration_images]
            calibration = fer.to_tensor(train.images[np.sort(pick)])
        export_torchscript(
            model,
            args.out,
            tta_flip=args.tta_flip,
            blur_sigma=sigma,
            calibration=calibration,
            flip_below=args.flip_below,
        )
        test = fer.load_split(root, "PrivateTest")
        from .export import load_exported

        exported = load_exported(args.out)
        test_logits = predict(exported, test.images, torch.device("cpu"))
        if args.labels == "ferplus":
            from .evaluate import ferplus_report

            votes = ferplus.read_votes(args.ferplus or ferplus.shared_csv())
            rep = ferplus_report(test_logits, test.labels, ferplus.align(votes, test.paths))
            rep["temperature"] = temperature
            # The anchor of the app's neutral calibration, beside the model.
            from . import neutral

            neutral.write(args.out, exported, root, args.ferplus or ferplus.shared_csv())
        else:
            rep = report(test.labels, test_logits)
        rep["best_val_acc"] = best_acc
        rep["tta_flip"] = args.tta_flip
        rep["mirror_pass_below"] = exported.mirror_pass_below()
        rep["input_blur_sigma"] = sigma
        if tuning:
            rep["input_blur_publictest_accuracy"] = tuning
        rep["quantize"] = args.quantize
        (run_dir / "private_test.json").write_text(json.dumps(rep, indent=2))
        # Next to the model: what `emotune eval` is checked against (tests/cli.rs).
        (args.out.parent / "metrics.json").write_text(json.dumps(rep, indent=2))
        print(json.dumps({k: rep[k] for k in ("accuracy", "macro_f1", "accuracy_4class", "n")}))
    if world > 1:
        dist.destroy_process_group()
    return 0


def fold_temperature(model: nn.Module, wrapped: nn.Module, images: np.ndarray, targets: np.ndarray) -> float:
    """Temperature scaling fitted on the validation votes, folded into the last layer (so the
    export and the Rust side need nothing new); returns T."""
    t = ferplus.fit_temperature(predict(wrapped, images, torch.device("cpu")), targets)
    with torch.no_grad():
        model.fc.weight.div_(t)
        model.fc.bias.div_(t)
    print(f"temperature {t:.3f} (fitted on the PublicTest votes) folded into fc", file=sys.stderr)
    return t


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


def distill(student: torch.Tensor, teacher: torch.Tensor, temp: float) -> torch.Tensor:
    """Hinton's soft-target loss (KL at temperature `temp`, scaled by temp^2)."""
    return F.kl_div(
        F.log_softmax(student / temp, 1), F.log_softmax(teacher / temp, 1), log_target=True,
        reduction="batchmean",
    ) * (temp * temp)


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


def tune_blur(
    net: nn.Module, val: fer.Split, estimate: float, tta_flip: bool
) -> tuple[float, dict[str, float]]:
    """The input blur near the sharpness-matched `estimate` that scores best on the validation
    split (PublicTest; PrivateTest is never looked at). Matching mean sharpness is a proxy: on
    the shipped weights it gave 2.81, and PublicTest peaked at 3.1 (+1.4 points)."""
    if estimate <= 0:
        return 0.0, {}
    scores: dict[str, float] = {}
    for f in (0.85, 0.9, 0.95, 1.0, 1.05, 1.1, 1.15, 1.2, 1.3):
        s = round(estimate * f, 2)
        m = ExportedClassifier(net, tta_flip=tta_flip, blur_sigma=s)
        scores[f"{s:.2f}"] = accuracy(predict(m, val.images, torch.device("cpu")), val.labels)
        print(f"input blur {s:.2f}: PublicTest {scores[f'{s:.2f}'] * 100:.2f} %", file=sys.stderr)
    best = max(scores, key=lambda k: scores[k])
    return float(best), scores


def normalised(net: nn.Module, sigma: float) -> nn.Module:
    """The bare net wrapped with the export's blur and normalisation, for raw [0, 1] input."""
    return ExportedClassifier(net, tta_flip=False, blur_sigma=sigma)


if __name__ == "__main__":
    sys.exit(main())
