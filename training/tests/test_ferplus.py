"""FER+ votes: the label rules, calibration, temperature, and a short run trained on votes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from training import ferplus
from training.metrics import calibration
from training.model import CLASS_NAMES
from training.train import main as train_main

from .test_training import tiny_fer  # noqa: F401 - fixture

HEADER = "file,ferplus_image," + ",".join(ferplus.VOTE_COLUMNS) + "\n"


def test_plurality_skips_ties_and_non_emotions_and_shares_drop_them() -> None:
    raw = np.array(
        [
            [0, 10, 0, 0, 0, 0, 0, 0, 0, 0],  # happy
            [4, 0, 0, 0, 6, 0, 0, 0, 0, 0],  # angry
            [5, 5, 0, 0, 0, 0, 0, 0, 0, 0],  # tie: not scored, trained on
            [2, 0, 0, 0, 0, 0, 0, 6, 2, 0],  # contempt wins: not scored, trained on
            [1, 0, 0, 0, 0, 0, 0, 0, 0, 9],  # not a face: neither
            [3, 0, 0, 1, 0, 0, 0, 4, 1, 1],  # contempt wins, shares from neutral/sad
        ]
    )
    fl = ferplus.labels_from_votes(raw)
    idx = CLASS_NAMES.index
    assert fl.plurality.tolist() == [idx("happy"), idx("angry"), -1, -1, -1, -1]
    assert fl.keep.tolist() == [True, True, True, True, False, True]
    assert np.allclose(fl.targets[5][[idx("neutral"), idx("sad")]], [0.75, 0.25])
    assert np.allclose(fl.targets[fl.keep].sum(1), 1.0)


def test_read_votes_names_a_bad_file(tmp_path: Path) -> None:
    good = tmp_path / "v.csv"
    good.write_text(HEADER + "PrivateTest_1.jpg,fer1.png,0,10,0,0,0,0,0,0,0,0\n")
    assert ferplus.read_votes(good)["PrivateTest_1.jpg"].tolist()[1] == 10
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "a.jpg,b.png,1,x,0,0,0,0,0,0,0,0\n")
    with pytest.raises(ValueError, match="bad.csv:2"):
        ferplus.read_votes(bad)
    with pytest.raises(ValueError, match="header"):
        (tmp_path / "h.csv").write_text("file,label\n")
        ferplus.read_votes(tmp_path / "h.csv")


def test_calibration_of_probabilities_equal_to_the_votes() -> None:
    q = np.array([[0, 0, 0, 0.6, 0.4, 0, 0]] * 4)
    logits = np.log(np.maximum(q, 1e-9))
    c = calibration(np.full(4, 3), q, logits)
    assert c["kl"] == pytest.approx(0.0, abs=1e-6)
    assert c["ece_votes"] == pytest.approx(0.0, abs=1e-6)
    assert c["ece"] == pytest.approx(0.4, abs=1e-6)  # always right, 0.6 claimed


def test_temperature_undoes_a_known_sharpening() -> None:
    rng = np.random.default_rng(0)
    true_logits = rng.normal(size=(500, 7))
    q = np.exp(true_logits) / np.exp(true_logits).sum(1, keepdims=True)
    assert ferplus.fit_temperature(true_logits * 2.0, q) == pytest.approx(2.0, rel=0.02)


def test_a_short_run_on_votes_exports_a_ferplus_report(tiny_fer: Path, tmp_path: Path) -> None:  # noqa: F811
    rows = []
    for split in ("train", "test"):
        for p in sorted((tiny_fer / split).glob("*/*.jpg")):
            votes = [0] * 10
            col = ferplus.COLUMN_CLASS.tolist().index(CLASS_NAMES.index(p.parent.name))
            votes[col], votes[(col + 1) % 7] = 7, 3
            rows.append(f"{p.name},x.png," + ",".join(map(str, votes)))
    csv = tmp_path / "ferplus.csv"
    csv.write_text(HEADER + "\n".join(rows) + "\n")
    out = tmp_path / "m" / "model.pt"
    code = train_main(
        ["--data", str(tiny_fer), "--labels", "ferplus", "--ferplus", str(csv), "--epochs", "1",
         "--batch-size", "16", "--arch", "s1w40", "--run-dir", str(tmp_path / "run"), "--out", str(out),
         "--calibration-images", "16", "--bf16", "off"]
    )
    assert code == 0
    rep = json.loads((out.parent / "metrics.json").read_text())
    assert rep["labels"] == "ferplus" and rep["n"] == 21 and rep["folder_n"] == 21
    assert 0.5 <= rep["temperature"] <= 3.0
    for key in ("ece", "ece_votes", "kl", "macro_f1", "accuracy_4class", "folder_accuracy"):
        assert np.isfinite(rep[key]), key
