"""The recipe on a lent GPU machine, in calls the device tool allows, and its weights brought back.

Infrastructure, not part of the training pipeline (data, model, train, export, evaluate,
recipe): this module only fits the recipe's stages into the GPU machine's limits (one command
of at most 10 minutes per call, what may travel there and back) and joins what returns. Nothing
in the pipeline imports it; `make train` does not use it.

A device call runs one command for at most 10 minutes on a copy of this repository, carries at
most 64 MiB of ignored files with it and returns at most 8 files of at most 16 MiB from $OUT.
The dataset (46 MB) fits; a stride-2 student's weights do not (22 MB even in fp16), so they come
back in parts. Each stage fits one call and returns everything the next one needs:

    here:    python -m training.device pack                        # .device/fer2013.tar.gz
    device:  python3 -m training.device teachers --budget 480      # carry .device
    here:    cp <files_at>/teachers.npz .device/
    device:  python3 -m training.device students --budget 490         # carry .device
             (or, on the same machine while it is still warm, `students --online`: the
             teachers' nets left in /tmp are asked on every batch; no teachers.npz needed)
    here:    python -m training.device join <files_at> --out runs/gpu/student.pt
             python -m training.train --arch s1w40 --export-from runs/gpu/student.pt --run-dir D

Or fine-tune the shipped net instead of training students from scratch: `students
--init-export models/emotion_resnet18_cbam.pt --train-arg=--lr=0.02` (its float weights are
recovered on the device, where the shipped file already is).

Better, in one call (measured: a student taught by a teacher's stored logits on clean images
trails the same student taught by the same teacher asked on each augmented batch,
models/MODEL_CARD.md):

    device:  python3 -m training.device distil --teacher-budget 250 --budget 250 \
                 --init-export models/emotion_resnet18_cbam.pt --train-arg=--lr=0.01

trains the teachers, then the students with the teacher nets run on every batch (`--kd-net`),
and returns the teachers' logits and the best student in parts.

Or bring two teacher nets back with the teachers stage (`--return-teachers 2`: fp16 parts,
joined here with `join <files_at> --stem teacher1 --out t1.pt`) and let them teach a student on
the CPU here, online (`--kd-net s1:t1.pt --kd-net s1:t2.pt`).

Teachers from several calls (other seeds) or from a CPU run (`--dump-logits`) become one
teacher with `merge`, weighted by how many nets each file averages:

    here:    python -m training.device merge a/teachers.npz b/teachers.npz cpu.npz \
                 --weights 3 3 1 --out .device/teachers.npz

Training runs in float on the device's PyTorch; the int8 export runs here with the project's
torch 2.13. Stages write their work under /tmp (kept while the machine stays warm) and copy
results to $OUT.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

import torch

from . import recipe, recover
from .data import shared_tarball, unpack_cached
from .model import ARCHS, SHIPPED_ARCH

REPO = Path(__file__).resolve().parent.parent
CARRY = REPO / ".device"
# What the device tool returns per file, with room for torch.save's own framing.
PART_BYTES = 15 * 2**20
FRAMING_BYTES = 2**20  # more than torch.save adds around a few parts' tensors
MAX_FILES = 8
RETURN_BYTES = 64 * 2**20


def fp16_parts(state: dict[str, torch.Tensor], limit: int = PART_BYTES) -> list[dict[str, torch.Tensor]]:
    """The state dict in fp16 (other dtypes as they are), cut into groups of at most `limit` bytes."""
    parts: list[dict[str, torch.Tensor]] = [{}]
    size = 0
    for k, v in state.items():
        t = v.detach().cpu()
        t = t.half() if t.is_floating_point() else t
        n = t.numel() * t.element_size()
        if n > limit:
            raise SystemExit(f"{k}: {n} bytes, more than one part may hold ({limit})")
        if size + n > limit:
            parts.append({})
            size = 0
        parts[-1][k] = t.clone()
        size += n
    return parts


def save_parts(state: dict[str, torch.Tensor], out: Path, stem: str) -> list[Path]:
    return write_parts(fp16_parts(state), out, stem)


def write_parts(parts: list[dict[str, torch.Tensor]], out: Path, stem: str) -> list[Path]:
    files = []
    for i, part in enumerate(parts):
        f = out / f"{stem}.part{i}.pt"
        torch.save(part, f)
        files.append(f)
    return files


def join_parts(folder: Path, stem: str = "student") -> dict[str, torch.Tensor]:
    files = sorted(folder.glob(f"{stem}.part*.pt"), key=lambda p: int(p.stem.rsplit("part", 1)[1]))
    if not files:
        raise SystemExit(f"no {stem}.part*.pt in {folder}: copy the students stage's files there")
    state: dict[str, torch.Tensor] = {}
    for f in files:
        state.update(torch.load(f, map_location="cpu", weights_only=True))
    return state


def out_dir(args: argparse.Namespace) -> Path:
    out = args.out_dir or os.environ.get("OUT")
    if not out:
        raise SystemExit("no $OUT: give --out-dir (the device tool sets OUT)")
    path = Path(out)
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir(args: argparse.Namespace) -> Path:
    if not args.tarball.is_file():
        raise SystemExit(f"{args.tarball} not found: run `python -m training.device pack` here and "
                         "carry .device")
    return unpack_cached(args.tarball, args.work.parent / "data")


def recipe_args(args: argparse.Namespace, stage: str, data: Path) -> list[str]:
    if stage == "teachers":
        plan = ["--time-budget", str(args.teacher_budget), "--teacher-seeds",
                *map(str, args.teacher_seeds), "--teacher-epochs", str(args.teacher_epochs)]
    else:
        plan = ["--student-arch", args.student_arch,
                "--student-budget", str(args.budget), "--student-seeds", *map(str, args.seeds),
                "--student-epochs", str(args.epochs)]
        if args.online:
            plan += ["--online", "--teacher-seeds", *map(str, args.teacher_seeds)]
    return [stage, "--data", str(data), "--work", str(args.work), *plan,
            *(f"--train-arg={a}" for a in args.train_arg)]


def returnable(files: list[Path], out: Path) -> list[Path]:
    """`files`, if the device tool can bring them all back."""
    if len(files) > MAX_FILES:
        raise SystemExit(f"{len(files)} files in {out}: the device tool returns {MAX_FILES}")
    return files


def teachers(args: argparse.Namespace) -> list[Path]:
    out = out_dir(args)
    recipe.main(recipe_args(args, "teachers", data_dir(args)))
    files = [Path(shutil.copy(args.work / n, out / n)) for n in ("teachers.npz", "teachers.json")]
    # One file for every teacher's log (seed first): the device tool returns 8 files in all.
    rows = []
    for s in args.teacher_seeds:
        lines = (args.work / f"teacher-s1-seed{s}" / "log.csv").read_text().splitlines()
        rows += [f"seed,{lines[0]}"] if not rows else []
        rows += [f"{s},{line}" for line in lines[1:]]
    (out / "log-teachers.csv").write_text("\n".join(rows) + "\n")
    files.append(out / "log-teachers.csv")
    # Teacher nets brought back (fp16, two parts each) can teach online on the CPU here
    # (`--kd-net s1:...`); two fit the tool's 64 MB of returned files, three do not.
    for s in args.teacher_seeds[: args.return_teachers]:
        state = torch.load(args.work / f"teacher-s1-seed{s}" / "best.pt", map_location="cpu",
                           weights_only=True)
        files += save_parts(state, out, f"teacher{s}")
    total = sum(f.stat().st_size for f in files)
    if total > RETURN_BYTES:
        raise SystemExit(f"{total} bytes in {out}: the device tool returns {RETURN_BYTES}; "
                         "ask for fewer --return-teachers")
    return returnable(files, out)


def students(args: argparse.Namespace, taken: list[Path]) -> list[Path]:
    """The students stage; `taken`: files already in $OUT for the same return (distil's teachers)."""
    out = out_dir(args)
    args.work.mkdir(parents=True, exist_ok=True)
    if not args.online:
        teacher = args.teachers
        if not teacher.is_file():
            raise SystemExit(f"{teacher} not found: copy the teachers stage's teachers.npz into .device/")
        if teacher.resolve() != (args.work / "teachers.npz").resolve():
            shutil.copy(teacher, args.work / "teachers.npz")
    data = data_dir(args)
    if args.init_export is not None:
        # The shipped file travels with the repository; its float weights (22 MB in fp16) would
        # not fit beside the dataset in the carry, so they are recovered there.
        init = args.work / "init.pt"
        if recover.main([str(args.init_export), str(init), "--data", str(data),
                         "--arch", args.student_arch]) != 0:
            raise SystemExit(f"{args.init_export}: could not recover its weights (see above)")
        args.train_arg = [f"--init-from={init}", "--freeze-bn", *args.train_arg]
    recipe.main(recipe_args(args, "students", data))
    best = (args.work / "best_student.txt").read_text().strip()
    state = torch.load(args.work / best / "best.pt", map_location="cpu", weights_only=True)
    files = save_parts(state, out, "student")
    files.append(Path(shutil.copy(args.work / best / "log.csv", out / "log-student.csv")))
    (out / "best_student.txt").write_text(best + "\n")
    files.append(out / "best_student.txt")
    # The last epoch too, where the tool can return it: a rule fixed before looking may pick it
    # rather than the best on PublicTest. (Written by this run a moment ago; its args hold paths,
    # which weights_only refuses.)
    last = args.work / best / "last.pt"
    if last.is_file():
        parts = fp16_parts(torch.load(last, map_location="cpu", weights_only=False)["model"])
        size = sum(t.numel() * t.element_size() for part in parts for t in part.values())
        used = taken + files
        if (len(used) + len(parts) <= MAX_FILES
                and sum(f.stat().st_size for f in used) + size + FRAMING_BYTES <= RETURN_BYTES):
            files += write_parts(parts, out, "last")
        else:
            print(f"{best}'s last epoch stays behind: no room in the {MAX_FILES} files returned",
                  file=sys.stderr)
    return returnable(files, out)


def merge(args: argparse.Namespace) -> int:
    if len(args.paths) < 2 or args.out is None:
        raise SystemExit("merge needs two or more logit files and --out TEACHERS.npz")
    if args.weights is not None and len(args.weights) != len(args.paths):
        raise SystemExit(f"--weights: {len(args.weights)} numbers for {len(args.paths)} files")
    names = [f"{i}:{p.name}" for i, p in enumerate(args.paths)]
    for p in args.paths:
        if not p.is_file():
            raise SystemExit(f"{p} not found")
    weights = dict(zip(names, args.weights)) if args.weights else None
    scores = recipe.average_logits(dict(zip(names, args.paths)), args.out, weights)
    print(json.dumps(scores, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.device", description=__doc__.split("\n")[0])
    p.add_argument("stage", choices=["pack", "teachers", "students", "distil", "join", "merge"])
    p.add_argument("paths", type=Path, nargs="*",
                   help="join: the folder of the students stage's files; merge: the logit files")
    p.add_argument("--weights", type=float, nargs="+", default=None,
                   help="merge: one per file, e.g. how many nets each averages (default: equal)")
    p.add_argument("--tarball", type=Path, default=CARRY / "fer2013.tar.gz")
    p.add_argument("--teachers", type=Path, default=CARRY / "teachers.npz")
    p.add_argument("--work", type=Path, default=Path("/tmp/emotune-device/work"))
    p.add_argument("--out-dir", type=Path, default=None, help="default: $OUT")
    p.add_argument("--out", type=Path, default=None, help="join: the checkpoint to write")
    p.add_argument("--budget", type=float, default=None,
                   help="seconds of training in the call (distil: the students'; default 480, "
                   "distil 250)")
    p.add_argument("--seeds", type=int, nargs="+", default=None,
                   help="teachers: theirs (default 1 2 3); students, distil: the students' (11 12)")
    p.add_argument("--epochs", type=int, default=None, help="planned before the budget cuts them")
    p.add_argument("--teacher-budget", type=float, default=250.0, help="distil: the teachers' seconds")
    p.add_argument("--teacher-seeds", type=int, nargs="+", default=[1, 2, 3], help="distil")
    p.add_argument("--teacher-epochs", type=int, default=200, help="distil")
    p.add_argument("--return-teachers", type=int, default=0,
                   help="teachers: bring back the first N teacher nets too (fp16 parts; at most 2 "
                   "fit), to teach students online here; join them with --stem teacherSEED")
    p.add_argument("--stem", default="student", help="join: whose parts (student, teacher1, ...)")
    p.add_argument("--train-arg", action="append", default=[], help="passed on to every run")
    p.add_argument("--student-arch", default=SHIPPED_ARCH, choices=ARCHS,
                   help="students, distil (default: the shipped net's)")
    p.add_argument("--online", action="store_true",
                   help="students: ask the teacher nets (--teacher-seeds) a teachers stage left in "
                   "--work on this still-warm machine, on every batch, instead of teachers.npz")
    p.add_argument("--init-export", type=Path, default=None,
                   help="students: fine-tune from this exported model's recovered weights "
                   "(e.g. models/emotion_resnet18_cbam.pt; BatchNorm statistics kept fixed)")
    args = p.parse_args(argv)
    if args.return_teachers < 0:
        raise SystemExit(f"--return-teachers {args.return_teachers}: give 0, 1 or 2")
    if args.stage == "pack":
        src = shared_tarball()
        if not src.is_file():
            raise SystemExit(f"{src} not found: the shared FER-2013 tarball")
        CARRY.mkdir(exist_ok=True)
        shutil.copyfile(src, args.tarball)
        print(f"{args.tarball}: {args.tarball.stat().st_size / 2**20:.1f} MiB; carry .device")
        return 0
    if args.stage == "merge":
        return merge(args)
    if args.stage == "join":
        if len(args.paths) != 1 or args.out is None:
            raise SystemExit("join needs the folder of returned files and --out CHECKPOINT")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        torch.save(join_parts(args.paths[0], args.stem), args.out)
        print(f"{args.out}: fp16 weights (load as fp32); export with --export-from")
        return 0
    if args.stage == "teachers":
        # The teachers stage alone: its own flags name the teachers' plan.
        args.teacher_seeds = args.seeds or args.teacher_seeds
        args.teacher_epochs = args.epochs or args.teacher_epochs
        args.teacher_budget = args.budget if args.budget is not None else 480.0
        args.online = False
        files = teachers(args)
    else:
        args.seeds = args.seeds or [11, 12]
        args.epochs = args.epochs or 300
        args.budget = args.budget if args.budget is not None else (250.0 if args.stage == "distil" else 480.0)
        # distil: the teachers' weights (45 MB each) can neither come back nor be carried to a
        # later call beside the dataset, so their students are taught in the same call, online.
        args.online = args.stage == "distil" or args.online
        args.return_teachers = 0
        first = teachers(args) if args.stage == "distil" else []
        files = returnable(first + students(args, first), out_dir(args))
    for f in files:
        print(f"{f} ({f.stat().st_size / 2**20:.1f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
