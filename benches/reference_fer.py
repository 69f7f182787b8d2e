"""The `fer` package from PyPI against emotune, on the same webcam-like frames of real faces.

`fer` (OpenCV's Haar cascade, then a mini-XCEPTION trained on FER-2013) is what a new user
would try first; issue 10 measured it reading real faces better than emotune did. This scores
it on the frames `emotune eval --through-detector` builds (each PrivateTest face upscaled into a
textured 640x480 room), used as a user would use it (`FER().detect_emotions(frame)`, the
package's defaults), and, in the same run, emotune's own through-detector evaluation of the
same frames, so both numbers come from one command:

    cargo run --release --example fer_frames -- FER2013_DIR FRAMES_DIR 3589   # not in the repo
    python -m venv /tmp/fervenv && /tmp/fervenv/bin/pip install "tensorflow-cpu==2.21.0" \
        "opencv-python-headless<5" "setuptools<81" requests pillow numpy
    /tmp/fervenv/bin/pip install --no-deps fer==25.10.3   # its other deps (facenet-pytorch,
                                                           # moviepy) are for MTCNN and video
    /tmp/fervenv/bin/python benches/reference_fer.py FRAMES_DIR \
        --emotune target/release/emotune --data FER2013_DIR [--json]

A face is found when a box overlaps its true box with IoU >= 0.3 (as in emotune's evaluation);
its emotion is the top one of the best-overlapping box. "All frames" counts a missed face as
wrong, which is what a user sees.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

try:
    import cv2

    try:
        from fer import FER
    except ImportError:  # fer 25.10's __init__ no longer exports what its README imports
        from fer.fer import FER
except ImportError as e:  # pragma: no cover - a clear message instead of a traceback
    sys.exit(f"benches/reference_fer.py needs the `fer` package and OpenCV 4 ({e}); see the docstring")

from boxes import iou  # noqa: E402 - benches/ is on the path when run as a script

CLASSES = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")


def score_fer(frames_dir: Path) -> dict:
    truth = json.loads((frames_dir / "truth.json").read_text())
    rows = truth["frames"]
    if not rows or "label" not in rows[0]:
        raise SystemExit(
            f"{frames_dir / 'truth.json'} has no labels: write the frames again with "
            "`cargo run --release --example fer_frames -- FER2013_DIR FRAMES_DIR N`"
        )
    detector = FER()  # the package's defaults: Haar 1.1 / 5, 10 px offsets, its TFLite model
    found = correct = strays = 0
    confusion = [[0] * len(CLASSES) for _ in CLASSES]
    seconds = []
    for r in rows:
        frame = cv2.imread(str(frames_dir / r["file"]))
        if frame is None:
            raise SystemExit(f"{frames_dir / r['file']}: not an image; write the frames again")
        t0 = time.perf_counter()
        faces = detector.detect_emotions(frame)
        seconds.append(time.perf_counter() - t0)
        true_box = r["faces"][0]
        overlaps = [(iou(tuple(map(float, f["box"])), true_box), f) for f in faces]
        hits = [(o, f) for o, f in overlaps if o >= 0.3]
        strays += len(faces) - len(hits)
        if not hits:
            continue
        found += 1
        emotions = max(hits, key=lambda h: h[0])[1]["emotions"]
        top = max(CLASSES, key=lambda c: emotions.get(c, 0.0))
        confusion[CLASSES.index(r["label"])][CLASSES.index(top)] += 1
        correct += top == r["label"]
    seconds.sort()
    n = len(rows)
    return {
        "frames": n,
        "detection_rate": found / n,
        "false_positives": strays,
        "accuracy_detected": correct / found if found else 0.0,
        "accuracy_all_frames": correct / n,
        "ms_per_frame_p50": seconds[n // 2] * 1e3,
        "confusion": confusion,
    }


def score_emotune(binary: Path, data: Path, n: int) -> dict:
    out = subprocess.run(
        [str(binary), "eval", "--data", str(data), "--split", "PrivateTest",
         "--through-detector", "--limit", str(n), "--json"],
        capture_output=True, text=True, check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"{binary} eval failed ({out.returncode}): {out.stderr.strip()[-400:]}")
    td = json.loads(out.stdout)["through_detector"]
    return {
        "frames": td["frames"],
        "detection_rate": td["detection_rate"],
        "false_positives": td["false_positives"],
        "accuracy_detected": (
            td["accuracy_all_frames"] / td["detection_rate"] if td["detection_rate"] else 0.0
        ),
        "accuracy_all_frames": td["accuracy_all_frames"],
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("frames", type=Path, help="what examples/fer_frames.rs wrote")
    p.add_argument(
        "--emotune", type=Path, default=None, help="the emotune binary, to score it in the same run"
    )
    p.add_argument("--data", type=Path, default=None, help="FER-2013 folder (with --emotune)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    if args.emotune is not None and args.data is None:
        p.error("--emotune needs --data FER2013_DIR (the frames are rebuilt from it)")
    results = {"fer": score_fer(args.frames)}
    if args.emotune is not None:
        results["emotune"] = score_emotune(args.emotune, args.data, results["fer"]["frames"])
    if args.json:
        print(json.dumps(results))
        return 0
    for name, r in results.items():
        print(
            f"{name:8} {r['frames']} frames: found {100 * r['detection_rate']:.2f} % "
            f"({r['false_positives']} stray boxes), right on found {100 * r['accuracy_detected']:.2f} %, "
            f"right on all frames {100 * r['accuracy_all_frames']:.2f} %"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
