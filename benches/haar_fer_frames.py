"""OpenCV's Haar cascade on the through-detector frames, beside emotune's rustface.

How many FER-2013 faces in a room can a frontal cascade find at all? The `fer` package (and
the seed scripts) use haarcascade_frontalface_default with scaleFactor 1.3, minNeighbors 5;
finer settings are tried too. A face counts when a box overlaps it by IoU >= 0.3, as in
`emotune eval --through-detector`.

    cargo run --release --example fer_frames -- FER2013_DIR /tmp/fer-frames 800
    python benches/haar_fer_frames.py /tmp/fer-frames
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

# The same OpenCV check and IoU as the speed reference beside this script.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference_haar_cnn import cv2, iou  # noqa: E402


def main() -> int:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    root = Path(sys.argv[1])
    rows = json.loads((root / "truth.json").read_text())["frames"]
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    ours = sum(r["emotune_found"] for r in rows)
    print(f"{len(rows)} frames; emotune (rustface) finds {100 * ours / len(rows):.1f} %")
    for scale, neighbours in ((1.3, 5), (1.1, 5), (1.05, 3)):
        found = either = 0
        for r in rows:
            gray = cv2.imread(str(root / r["file"]), cv2.IMREAD_GRAYSCALE)
            if gray is None:
                sys.exit(f"{root / r['file']}: unreadable frame")
            boxes = cascade.detectMultiScale(gray, scaleFactor=scale, minNeighbors=neighbours)
            hit = any(iou(tuple(map(float, b)), r["faces"][0]) >= 0.3 for b in boxes)
            found += hit
            either += hit or r["emotune_found"]
        print(f"Haar scaleFactor {scale}, minNeighbors {neighbours}: {100 * found / len(rows):.1f} % "
              f"(either detector: {100 * either / len(rows):.1f} %)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
