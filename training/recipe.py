"""The shipped model's recipe: stride-1 teachers, their ensemble, distilled into a smaller student.

    python -m training.recipe all --data DIR --work RUNS          # everything, then export
    python -m training.recipe teachers --data DIR --work RUNS --time-budget 390 --baseline
    python -m training.recipe students --data DIR --work RUNS --student-budget 465
    python -m training.recipe polish --data DIR --work RUNS --polish-epochs 14   # after students

Why two networks: the app must classify a face in <= 3 ms on one CPU thread, which the
stride-2 ResNet18+CBAM (12x12 maps into layer1) does and the full-width stride-1 one (24x24)
does not; the shipped student (`--student-arch s1w40`) keeps 24x24 at 40/64 of the width.
The stride-1 nets see more and score higher; their averaged soft labels carry that over to the
narrower student (Hinton et al. 2015), and the polish stage lets two of them teach it again on
every augmented batch. Runs of one stage share the GPU in parallel: each is too small to fill
it alone. Selection uses PublicTest only; PrivateTest is for the report.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from .data import SPLITS, data_dir, load_split
from .metrics import accuracy
from .model import ARCHS, SHIPPED_ARCH

REPO = Path(__file__).resolve().parent.parent


def train_cmd(args: argparse.Namespace, name: str, budget: float, arch: str, seed: int, epochs: int,
              extra: tuple[str, ...] = (), lr: float = 0.15) -> list[str]:
    """One run of the recipe: its own folder under --work, float weights and logits, no export.
    Every run shares the batch and CutMix (the peak rate too, but for the polish's fine-tune);
    --train-arg comes last so tests win."""
    run = args.work / name
    cmd = [sys.executable, "-m", "training.train", "--run-dir", str(run), "--no-export",
           "--data", str(args.data), "--arch", arch, "--seed", str(seed), "--epochs", str(epochs),
           "--batch-size", "256", "--lr", str(lr), "--cutmix", "0.5",
           "--dump-logits", str(run / "logits.npz"), *extra]
    if budget:
        cmd += ["--time-budget", str(budget)]
    return cmd + args.train_arg


def run_parallel(jobs: dict[str, list[str]], work: Path) -> None:
    """Start every job at once (one GPU, shared), wait for all, fail if any failed."""
    procs = {}
    for name, cmd in jobs.items():
        (work / name).mkdir(parents=True, exist_ok=True)
        log = open(work / name / "train.out", "w")
        procs[name] = (subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=REPO), log)
        print(f"started {name}: {' '.join(cmd[1:])}", file=sys.stderr)
    failed = []
    for name, (p, log) in procs.items():
        if p.wait() != 0:
            failed.append(name)
        log.close()
    for name in failed:
        tail = (work / name / "train.out").read_text(errors="replace").splitlines()[-15:]
        print(f"--- {name} failed; last lines of its train.out:", *tail, sep="\n", file=sys.stderr)
    if failed:
        raise SystemExit(f"failed: {', '.join(failed)} (see {work}/<run>/train.out)")


def average_logits(files: dict[str, Path], out: Path, weights: dict[str, float] | None = None
                   ) -> dict[str, float]:
    """The (weighted) mean of several logit dumps, saved as one teacher; accuracies per split,
    of the mean and of each input. Every dump must cover the same train/ images in order."""
    zs = {n: np.load(f, allow_pickle=False) for n, f in files.items()}
    first_name, first = next(iter(zs.items()))
    for n, z in zs.items():
        if list(z["train_names"]) != list(first["train_names"]):
            raise SystemExit(f"{files[n]}: logits for other train/ images than {files[first_name]}'s")
    w = np.array([(weights or {}).get(n, 1.0) for n in zs], dtype=np.float64)
    w = w / w.sum()
    arrays = {"train_names": first["train_names"]}
    scores = {}
    for split in ("train", "PublicTest", "PrivateTest"):
        stack = np.stack([z[split] for z in zs.values()])
        arrays[split] = np.tensordot(w, stack, axes=1).astype(np.float32)
        arrays[f"{split}_labels"] = first[f"{split}_labels"]
        scores[split] = accuracy(arrays[split], arrays[f"{split}_labels"])
        for n, z in zs.items():
            scores[f"{split}/{n}"] = accuracy(z[split], z[f"{split}_labels"])
    np.savez_compressed(out, **arrays)
    return scores


def ensemble(work: Path, names: list[str], out: Path) -> dict[str, float]:
    """Mean logits of the named runs' dumps, saved as one teacher; accuracies per split."""
    return average_logits({n: work / n / "logits.npz" for n in names}, out)


def teachers(args: argparse.Namespace) -> None:
    jobs = {
        f"teacher-s1-seed{seed}": train_cmd(
            args, f"teacher-s1-seed{seed}", args.time_budget, "s1", seed, args.teacher_epochs
        )
        for seed in args.teacher_seeds
    }
    if args.baseline:
        # A stride-2 net without a teacher: the fallback, and the measure of what distilling adds.
        jobs["student-s2-nokd"] = train_cmd(
            args, "student-s2-nokd", args.time_budget, "s2", 7, args.student_epochs
        )
    run_parallel(jobs, args.work)
    names = [n for n in jobs if n.startswith("teacher")]
    scores = ensemble(args.work, names, args.work / "teachers.npz")
    (args.work / "teachers.json").write_text(json.dumps(scores, indent=2))
    print(json.dumps(scores, indent=2))


def kd_net_args(nets: list[Path], why: str) -> tuple[str, ...]:
    """`--kd-net s1:PATH` for each teacher net, which must exist (`why`: how to get them)."""
    for n in nets:
        if not n.is_file():
            raise SystemExit(f"{n} not found: {why}")
    return tuple(a for n in nets for a in ("--kd-net", f"s1:{n}"))


def teacher_nets(args: argparse.Namespace, seeds: list[int]) -> list[Path]:
    return [args.work / f"teacher-s1-seed{s}" / "best.pt" for s in seeds]


def students(args: argparse.Namespace) -> None:
    kd: tuple[str, ...] = ("--kd-alpha", str(args.kd_alpha), "--kd-temp", str(args.kd_temp))
    if args.online:
        kd += kd_net_args(teacher_nets(args, args.teacher_seeds),
                          "--online asks the teachers' nets, train them first")
    else:
        teacher = args.work / "teachers.npz"
        if not teacher.is_file():
            raise SystemExit(f"{teacher} not found: run the teachers stage first")
        kd += ("--kd", str(teacher))
    jobs = {
        f"student-{args.student_arch}-kd-seed{seed}": train_cmd(
            args, f"student-{args.student_arch}-kd-seed{seed}", args.student_budget, args.student_arch,
            seed, args.student_epochs, kd
        )
        for seed in args.student_seeds
    }
    # In groups of --student-parallel: the shipped file's students were trained two at a time.
    names = list(jobs)
    group = args.student_parallel or len(names)
    for i in range(0, len(names), group):
        run_parallel({n: jobs[n] for n in names[i : i + group]}, args.work)
    best = pick(args.work, names)
    print(f"best student on PublicTest: {best}", file=sys.stderr)
    (args.work / "best_student.txt").write_text(best + "\n")


def best_val(run: Path) -> float:
    """A run's best PublicTest accuracy (its log's maximum)."""
    rows = (run / "log.csv").read_text().splitlines()[1:]
    return max(float(r.split(",")[5]) for r in rows)


def pick(work: Path, names: list[str]) -> str:
    """The run whose best PublicTest accuracy is highest."""
    return max(names, key=lambda n: best_val(work / n))


def polish(args: argparse.Namespace) -> Path:
    """The best student fine-tuned at a low peak rate with teacher nets asked on every augmented
    batch (`--kd-net`), the step the stored logits cannot take (models/MODEL_CARD.md). Returns
    the weights to export: the polished run's best epoch, or the student's own when no polished
    epoch beats it on PublicTest."""
    picked = args.work / "best_student.txt"
    best = picked.read_text().strip() if picked.is_file() else None
    if args.polish_from is None and best is None:
        raise SystemExit(f"{picked} not found: run the students stage first, or give --polish-from")
    start = Path(args.polish_from or args.work / str(best) / "best.pt")
    if not start.is_file():
        raise SystemExit(f"{start} not found: polish starts from the students stage's best net")
    nets = args.polish_teacher or teacher_nets(args, args.teacher_seeds[: args.polish_teachers])
    run = args.work / "polish"
    extra = ("--init-from", str(start), "--kd-alpha", str(args.kd_alpha), "--kd-temp", str(args.kd_temp),
             *kd_net_args(nets, "polish is taught by the teachers stage's nets (or --polish-teacher)"))
    seed = args.polish_seed
    if seed is None:
        # The student's own seed (its run is named ...-seedN); 0 for weights from elsewhere.
        tail = str(best).rsplit("seed", 1)[-1]
        seed = int(tail) if best is not None and tail.isdigit() else 0
    cmd = train_cmd(args, "polish", args.polish_budget, args.student_arch, seed, args.polish_epochs,
                    extra, lr=args.polish_lr)
    run_parallel({"polish": cmd}, args.work)
    # The student's own best PublicTest, when its run is here (not when it came from elsewhere).
    log = args.work / str(best) / "log.csv"
    before = best_val(log.parent) if args.polish_from is None and log.is_file() else 0.0
    after = best_val(run)
    print(f"polish: PublicTest {before:.4f} -> {after:.4f}", file=sys.stderr)
    return run / "best.pt" if after > before else start


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.recipe", description=__doc__.split("\n")[0])
    p.add_argument("stage", choices=["teachers", "students", "polish", "all"])
    p.add_argument("--data", type=Path, default=None, help="FER-2013 folder (train/, test/)")
    p.add_argument("--work", type=Path, required=True, help="folder for every run of the recipe")
    p.add_argument("--time-budget", type=float, default=0.0, help="seconds per stage's training")
    p.add_argument("--student-budget", type=float, default=None,
                   help="seconds for the stride-2 runs' training (default: --time-budget)")
    p.add_argument("--teacher-seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--student-seeds", type=int, nargs="+", default=[11, 12])
    p.add_argument("--teacher-epochs", type=int, default=200)
    p.add_argument("--student-epochs", type=int, default=300)
    p.add_argument("--student-parallel", type=int, default=0,
                   help="students trained at once (default: all; the rest wait their turn)")
    p.add_argument("--polish-epochs", type=int, default=0, help="polish stage (0: none in all)")
    p.add_argument("--polish-lr", type=float, default=0.006, help="polish: peak learning rate")
    p.add_argument("--polish-budget", type=float, default=0.0, help="polish: seconds of training")
    p.add_argument("--polish-seed", type=int, default=None, help="polish (default: the student's)")
    p.add_argument("--polish-teachers", type=int, default=2,
                   help="polish: how many of --teacher-seeds' nets teach (the device returns two)")
    p.add_argument("--polish-from", type=Path, default=None,
                   help="polish: the student's weights (default: the students stage's best)")
    p.add_argument("--polish-teacher", type=Path, action="append", default=[],
                   help="polish: a teacher net's weights (s1; default: the teachers stage's)")
    p.add_argument("--student-arch", default=SHIPPED_ARCH, choices=ARCHS,
                   help="the students' net (default: the shipped one)")
    p.add_argument("--kd-alpha", type=float, default=0.7)
    p.add_argument("--kd-temp", type=float, default=4.0)
    p.add_argument("--baseline", action="store_true", help="also train a stride-2 net without KD")
    p.add_argument(
        "--online", action="store_true",
        help="students: the teacher nets (--teacher-seeds) are asked on every augmented batch "
        "instead of their stored logits on clean images; with the same teacher, start and "
        "schedule it led by 1.0, 0.8, 0.4 points of PublicTest after each of 3 epochs "
        "(models/MODEL_CARD.md)",
    )
    p.add_argument("--train-arg", action="append", default=[], help="passed on to every run (tests)")
    p.add_argument("--out", type=Path, default=Path("models/emotion_resnet18_cbam.pt"))
    args = p.parse_args(argv)
    if args.student_budget is None:
        args.student_budget = args.time_budget
    args.work.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    # Unpack and cache the data once, here: runs started together would otherwise all unpack
    # and cache it at the same time, on the same folders.
    args.data = data_dir(args.data)
    for split in SPLITS:
        load_split(args.data, split)
    if args.stage in ("teachers", "all"):
        teachers(args)
    if args.stage in ("students", "all"):
        students(args)
    weights = None
    if args.stage == "polish" or (args.stage == "all" and args.polish_epochs > 0):
        weights = polish(args)
    if args.stage == "all":
        best = (args.work / "best_student.txt").read_text().strip()
        weights = weights or args.work / best / "best.pt"
        cmd = [sys.executable, "-m", "training.train", "--arch", args.student_arch, "--out", str(args.out),
               "--run-dir", str(weights.parent), "--export-from", str(weights), "--data", str(args.data)]
        subprocess.run(cmd, check=True, cwd=REPO)
    elif weights is not None:
        print(f"to export: python -m training.train --arch {args.student_arch} --export-from {weights} "
              f"--run-dir {weights.parent} --out OUT", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
