"""Print the metrics section of models/MODEL_CARD.md from a training run.

    python -m training.card --metrics models/metrics.json --log ~/.cache/emotune/runs/main-s2/log.csv
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from .model import CLASS_NAMES


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.card", description=__doc__.split("\n")[0])
    p.add_argument("--metrics", type=Path, default=Path("models/metrics.json"))
    p.add_argument("--log", type=Path, required=True)
    args = p.parse_args(argv)
    m = json.loads(args.metrics.read_text())
    rows = list(csv.DictReader(args.log.open()))
    best = max(rows, key=lambda r: float(r["val_acc"]))
    secs = sum(float(r["seconds"]) for r in rows)
    out = []
    out.append(f"PrivateTest (n = {m['n']}), flip-TTA {'on' if m.get('tta_flip') else 'off'}:\n")
    out.append("| metric | value |\n|---|---|")
    out.append(f"| accuracy (7 classes) | **{m['accuracy'] * 100:.2f} %** |")
    out.append(f"| macro-F1 | {m['macro_f1'] * 100:.2f} % |")
    out.append(f"| 4-class accuracy (angry/happy/neutral/sad) | {m['accuracy_4class'] * 100:.2f} % |")
    out.append(f"| best PublicTest accuracy (model selection) | {float(best['val_acc']) * 100:.2f} % (epoch {best['epoch']}) |")
    out.append("")
    out.append("| class | precision | recall | F1 | support |\n|---|---|---|---|---|")
    for c in CLASS_NAMES:
        pc = m["per_class"][c]
        out.append(f"| {c} | {pc['precision']:.3f} | {pc['recall']:.3f} | {pc['f1']:.3f} | {pc['support']} |")
    out.append("")
    out.append(f"Training: {len(rows)} epochs, {secs / 60:.0f} min of training loops "
               f"(mean {sum(float(r['img_per_s']) for r in rows) / len(rows):.0f} img/s).")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
