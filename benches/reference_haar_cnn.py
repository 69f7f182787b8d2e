"""The seeds' Python stack on emotune's benchmark sets, for the README's speed ratios.

OpenCV's Haar cascade (haarcascade_frontalface_default, scaleFactor 1.3, minNeighbors 5: the
settings of the emotion-music seed scripts) finds faces on every frame; each face is cropped,
resized to 48x48 and classified by a CNN one face at a time (emotune's own exported model,
one libtorch thread, so the comparison is about the pipeline around the network). Frames are decoded
into memory first, as `emotune bench` does.

    pip install "opencv-python-headless<5"    # once, into the torch venv (5.x dropped the Haar cascades)
    python benches/reference_haar_cnn.py SETS_DIR [--model models/emotion_resnet18_cbam.pt] [--json]

SETS_DIR is what `cargo run --release --example benchsets -- SETS_DIR` writes: one folder per
set with NNNN.jpg frames and truth.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

try:
    import cv2

    cv2.CascadeClassifier  # noqa: B018 - OpenCV 5 moved the Haar cascades out
except (ImportError, AttributeError):  # pragma: no cover - a clear message instead of a traceback
    sys.exit("benches/reference_haar_cnn.py needs OpenCV 4: pip install 'opencv-python-headless<5'")

from boxes import iou  # noqa: E402 - benches/ is on the path when run as a script


def run_set(folder: Path, cascade, model) -> dict:
    truth_file = folder / "truth.json"
    truth = {}
    if truth_file.is_file():
        truth = {f["file"]: f["faces"] for f in json.loads(truth_file.read_text())["frames"]}
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".png"))
    frames = [(p.name, cv2.imread(str(p))) for p in files]
    det_ms, cls_ms, tot_ms = [], [], []
    faces = fp = missed = truth_n = 0
    start = time.perf_counter()
    for name, bgr in frames:
        t0 = time.perf_counter()
        gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        found = cascade.detectMultiScale(gray, scaleFactor=1.3, minNeighbors=5)
        t1 = time.perf_counter()
        with torch.no_grad():
            for x, y, w, h in found:
                crop = cv2.resize(gray[y : y + h, x : x + w], (48, 48), interpolation=cv2.INTER_AREA)
                model(torch.from_numpy(crop).float().div_(255.0).view(1, 1, 48, 48))
        t2 = time.perf_counter()
        det_ms.append((t1 - t0) * 1e3)
        cls_ms.append((t2 - t1) * 1e3)
        tot_ms.append((t2 - t0) * 1e3)
        faces += len(found)
        if name in truth:
            boxes = [tuple(map(float, b)) for b in found]
            t = truth[name]
            truth_n += len(t)
            fp += sum(1 for b in boxes if all(iou(b, g) < 0.3 for g in t))
            missed += sum(1 for g in t if all(iou(b, g) < 0.3 for b in boxes))
    wall = time.perf_counter() - start
    pct = lambda v, q: float(np.percentile(v, q)) if v else 0.0  # noqa: E731
    n = len(frames)
    return {
        "set": folder.name,
        "frames": n,
        "fps": n / wall,
        "detect": {"p50": pct(det_ms, 50), "p95": pct(det_ms, 95)},
        "classify": {"p50": pct(cls_ms, 50), "p95": pct(cls_ms, 95)},
        "total": {"p50": pct(tot_ms, 50), "p95": pct(tot_ms, 95)},
        "faces_per_frame": faces / max(n, 1),
        "truth_faces_per_frame": truth_n / max(n, 1),
        "false_positives": fp,
        "missed": missed,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("sets", type=Path)
    ap.add_argument("--model", type=Path, default=Path("models/emotion_resnet18_cbam.pt"))
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--cv-threads", type=int, default=-1, help="OpenCV threads (-1: its default, all cores)")
    args = ap.parse_args()
    if not args.sets.is_dir():
        print(f"{args.sets}: not a folder; make the sets with `cargo run --release --example benchsets -- DIR`", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    if args.cv_threads >= 0:
        cv2.setNumThreads(args.cv_threads)
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    model = torch.jit.load(str(args.model), map_location="cpu").eval()
    folders = sorted(p for p in args.sets.iterdir() if p.is_dir()) or [args.sets]
    reports = [run_set(f, cascade, model) for f in folders]
    if args.json:
        print(json.dumps({"sets": reports}))
    else:
        for r in reports:
            print(
                f"{r['set']}: {r['frames']} frames: {r['fps']:.1f} FPS, detect p50 {r['detect']['p50']:.1f} ms "
                f"p95 {r['detect']['p95']:.1f} ms, {r['faces_per_frame']:.2f} faces/frame "
                f"(truth {r['truth_faces_per_frame']:.2f}), {r['false_positives']} false positives, {r['missed']} missed"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
