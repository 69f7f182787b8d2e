"""TorchScript export per DESIGN.md's model contract.

Input N x 1 x 48 x 48 float32 gray in [0, 1], output N x 7 logits in FER-2013 order,
`class_names()` and `input_size()` exported. BatchNorm is folded into the convolutions. Then
either the convolutions and the classifier head are quantized to int8 (post-training, calibrated
on training images; the default for shipping: ~4x faster on CPU, 11 MB) or the float weights are
stored as fp16 (half the file). Loaders cast to fp32 after loading; int8 layers are unaffected.
`export_trained` is a training run's export step: on FER+ votes, the temperature fitted on
PublicTest is folded into the last layer first (`fold_temperature`).
"""

from __future__ import annotations

import copy
import sys
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from . import ferplus
from .data import TrainingData
from .model import (
    BasicBlock,
    ChannelAttention,
    ExportedClassifier,
    ResNet18CBAM,
    SpatialAttention,
    normalised,
    normalize,
    predict,
    to_tensor,
)

# Which layers go int8: the residual convolutions, the stem and the classifier. Together they
# are 99 % of the weights, and fp32 streaming of those weights is what makes the net slow at
# batch 1 (the 512-channel 3x3 convs take 2 ms each in oneDNN, 0.08 ms as int8). CBAM's gates
# stay float: quantizing them as well measured slower (3.7 vs 2.4 ms), not more accurate.
INT8_LAYERS = (r"stem\.\d", r"layers\.\d\.\d\.conv[12]", r"layers\.\d\.\d\.shortcut\.0", r"fc")


def fold_batchnorm(net: ResNet18CBAM) -> ResNet18CBAM:
    net = copy.deepcopy(net).eval()
    net.stem[0] = fuse_conv_bn_eval(net.stem[0], net.stem[1])
    net.stem[1] = nn.Identity()
    for m in net.modules():
        if isinstance(m, BasicBlock):
            m.conv1 = fuse_conv_bn_eval(m.conv1, m.bn1)
            m.bn1 = nn.Identity()
            m.conv2 = fuse_conv_bn_eval(m.conv2, m.bn2)
            m.bn2 = nn.Identity()
            if len(m.shortcut) == 2:
                m.shortcut = nn.Sequential(fuse_conv_bn_eval(m.shortcut[0], m.shortcut[1]))
    return net


class InferenceBlock(nn.Module):
    """A BN-folded `BasicBlock` with nothing between conv1 and its ReLU, so quantization fuses
    them (`ConvReLU2d`) and conv1's uint8 output feeds conv2 directly. With the folded BatchNorm
    left in as `Identity`, FX saw no conv-ReLU pattern: every block dequantized conv1's output,
    ran the ReLU in float and quantized it again for conv2."""

    def __init__(self, block: BasicBlock) -> None:
        super().__init__()
        self.conv1 = block.conv1
        self.relu1 = nn.ReLU()
        self.conv2 = block.conv2
        self.cbam = block.cbam
        self.shortcut = block.shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.cbam(self.conv2(self.relu1(self.conv1(x))))
        return torch.relu(out + self.shortcut(x))


def inference_form(folded: ResNet18CBAM) -> ResNet18CBAM:
    """`fold_batchnorm`'s net without its `Identity` placeholders: the stem becomes conv, ReLU,
    pool (fused and kept uint8 through the pool when quantized; the float max-pool with indices
    was the costliest op after the convolutions) and every block an `InferenceBlock`. Same
    function, same module names for the convolutions (`training.recover` reads them)."""
    net = copy.deepcopy(folded).eval()
    conv, pool = net.stem[0], net.stem[3]
    net.stem = nn.Sequential(conv, nn.ReLU(), pool) if isinstance(pool, nn.MaxPool2d) else nn.Sequential(conv, nn.ReLU())
    for layer in net.layers:
        for i, block in enumerate(layer):
            if isinstance(block, BasicBlock):
                layer[i] = InferenceBlock(block)
    return net


class FastChannelAttention(nn.Module):
    """`ChannelAttention` with the same weights in as few ops as possible (each op costs a few
    microseconds of dispatch at batch 1, which made CBAM half of the net's time). Both pooled
    vectors go through the MLP as one row [sum | max] against block-diagonal weights: the first
    layer's avg block carries 1/HW (so a sum replaces the mean), and lin2(a) + lin2(b) =
    lin2(a + b) lets one matmul against the stacked second layer give avg + max at once."""

    def __init__(self, ca: ChannelAttention, hw: int) -> None:
        super().__init__()
        first, last = ca.mlp[0], ca.mlp[2]
        w1 = first.weight.detach().flatten(1)  # hidden x C
        w2 = last.weight.detach().flatten(1)  # C x hidden
        hidden, c = w1.shape
        self.channels = c
        big1 = torch.zeros(2 * c, 2 * hidden)
        big1[:c, :hidden] = w1.t() / hw
        big1[c:, hidden:] = w1.t()
        self.w1 = nn.Parameter(big1)
        self.w2 = nn.Parameter(torch.cat([w2.t(), w2.t()], 0).contiguous())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = torch.cat([x.sum((2, 3)), x.amax((2, 3))], 1)
        gate = torch.mm(torch.relu(torch.mm(pooled, self.w1)), self.w2)
        return x * torch.sigmoid(gate).view(-1, self.channels, 1, 1)


class FastSpatialAttention(nn.Module):
    """`SpatialAttention` with the same 7x7 weights as one matmul against the dense matrix of the
    convolution (2HW x HW, zero padding included) on maps up to 16x16, where im2col and the tiny
    convolution cost more than the product. Larger maps (the stride-1 net's 24x24) keep the
    convolution. The channel mean is a sum, its 1/C folded into the weights."""

    def __init__(self, sa: SpatialAttention, channels: int, height: int, width: int) -> None:
        super().__init__()
        k = sa.conv.kernel_size[0]
        weight = sa.conv.weight.detach().clone()  # 1 x 2 x k x k
        weight[:, 0] /= channels
        self.k = k
        self.height, self.width = height, width
        self.dense = height * width <= 256
        if self.dense:
            hw = height * width
            m = torch.zeros(2, height, width, height, width)
            r = k // 2
            for i in range(height):
                for j in range(width):
                    for di in range(-r, r + 1):
                        for dj in range(-r, r + 1):
                            a, b = i + di, j + dj
                            if 0 <= a < height and 0 <= b < width:
                                m[:, a, b, i, j] = weight[0, :, di + r, dj + r]
            self.weight = nn.Parameter(m.view(2 * hw, hw))
        else:
            self.weight = nn.Parameter(weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = torch.cat([x.sum(1, keepdim=True), x.amax(1, keepdim=True)], 1)
        if self.dense:
            n = 2 * self.height * self.width
            gate = torch.mm(s.view(-1, n), self.weight).view(-1, 1, self.height, self.width)
        else:
            gate = nn.functional.conv2d(s, self.weight, padding=self.k // 2)
        return x * torch.sigmoid(gate)


def channel_mlp_weights(w1: torch.Tensor, w2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """`ChannelAttention`'s two 1x1-conv weights (flattened: hidden x C, C x hidden) back out of
    a `FastChannelAttention`'s `w1`, `w2` (for `training.recover`)."""
    c, hidden = w1.shape[0] // 2, w1.shape[1] // 2
    return w1[c:, hidden:].t().float(), w2[:hidden].t().float()


def spatial_kernel(weight: torch.Tensor, channels: int, k: int = 7) -> torch.Tensor:
    """`SpatialAttention`'s 1 x 2 x k x k kernel back out of a `FastSpatialAttention`'s weight,
    dense (2HW x HW, square maps) or a kernel (for `training.recover`)."""
    if weight.dim() == 4:
        kernel = weight.float().clone()
    else:
        hw = weight.shape[1]
        side = int(round(hw**0.5))
        m = weight.float().view(2, side, side, side, side)
        r = k // 2
        kernel = torch.zeros(1, 2, k, k)
        # Each tap from an output pixel that has it inside the map (taps no pixel reaches on
        # maps smaller than the kernel never mattered and stay zero).
        for di in range(-r, r + 1):
            for dj in range(-r, r + 1):
                i, j = min(max(-di, 0), side - 1), min(max(-dj, 0), side - 1)
                a, b = i + di, j + dj
                if 0 <= a < side and 0 <= b < side:
                    kernel[0, :, di + r, dj + r] = m[:, a, b, i, j]
    kernel[:, 0] *= channels
    return kernel


def fast_attention(net: nn.Module, size: int = 48) -> nn.Module:
    """The same net with CBAM's gates in the faster forms above (inference only). One forward at
    `size` finds each gate's map size, which the dense forms are built for."""
    net = copy.deepcopy(net).eval()
    shapes: dict[int, tuple[int, ...]] = {}
    hooks = [
        m.register_forward_pre_hook(lambda mod, inp: shapes.__setitem__(id(mod), tuple(inp[0].shape)))
        for m in net.modules()
        if isinstance(m, (ChannelAttention, SpatialAttention))
    ]
    with torch.no_grad():
        net(torch.zeros(1, 1, size, size))
    for h in hooks:
        h.remove()
    for m in net.modules():
        for name, child in m.named_children():
            if isinstance(child, ChannelAttention):
                _, _, h, w = shapes[id(child)]
                setattr(m, name, FastChannelAttention(child, h * w))
            elif isinstance(child, SpatialAttention):
                _, c, h, w = shapes[id(child)]
                setattr(m, name, FastSpatialAttention(child, c, h, w))
    return net


# What the Rust loader calls besides forward (DESIGN.md's model contract); kept through freezing.
METADATA_METHODS = ("class_names", "input_size", "input_blur_sigma", "mirror_pass_below")


def int8_qconfig():
    """Per-channel symmetric int8 weights and 7-bit (128-level) uint8 activations.

    Without VNNI (AVX2-only CPUs: most laptops before Ice Lake / Zen 4), x86's int8 kernels sum
    pairs of uint8 x int8 products in int16 and saturate; 7-bit activations (torch's
    `reduce_range`) make that impossible. Measured on one such CPU (AMD EPYC, AVX2 only), the
    same v2 weights on FER-2013 PrivateTest: full-range activations 63.53 %, 7-bit 70.66 %,
    float 70.86 %. On a VNNI CPU the lost bit cost 0.7 points once; a file must work everywhere.
    """
    from torch.ao.quantization import QConfig
    from torch.ao.quantization.observer import HistogramObserver, default_per_channel_weight_observer

    return QConfig(
        activation=HistogramObserver.with_args(reduce_range=True),
        weight=default_per_channel_weight_observer,
    )


@torch.no_grad()
def quantize_int8(folded: nn.Module, calibration: torch.Tensor, batch: int = 256) -> torch.jit.ScriptModule:
    """Post-training static int8 quantization (x86 backend, per-channel weights) of `INT8_LAYERS`.

    `calibration` is N x 1 x 48 x 48 in [0, 1], drawn from what the net saw in training; its
    mirror images are fed too because the export averages over flips. Returns the traced net.
    """
    from torch.ao.quantization import QConfigMapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    torch.backends.quantized.engine = "x86"
    qconfig = int8_qconfig()
    mapping = QConfigMapping()
    for pattern in INT8_LAYERS:
        mapping.set_module_name_regex(pattern, qconfig)
    example = (torch.rand(2, 1, 48, 48),)
    with warnings.catch_warnings():
        # torch.ao announces its move to torchao; the FX API still works and is what we test.
        warnings.simplefilter("ignore")
        prepared = prepare_fx(copy.deepcopy(folded).eval(), mapping, example)
        for i in range(0, len(calibration), batch):
            x = normalize(calibration[i : i + batch])
            prepared(x)
            prepared(torch.flip(x, dims=[3]))
        quantized = convert_fx(prepared)
        # Tracing, not scripting: FX's generated code carries type names TorchScript cannot parse,
        # and the net has no data-dependent control flow.
        return torch.jit.trace(quantized, example)


def fold_temperature(net: ResNet18CBAM, val_logits: np.ndarray, val_targets: np.ndarray) -> float:
    """Temperature scaling fitted on the validation votes (`val_logits`: the float net's on the
    validation images), folded into the last layer, so the export and the Rust side need nothing
    new; returns T."""
    t = ferplus.fit_temperature(val_logits, val_targets)
    with torch.no_grad():
        net.fc.weight.div_(t)
        net.fc.bias.div_(t)
    print(f"temperature {t:.3f} (fitted on the PublicTest votes) folded into fc", file=sys.stderr)
    return t


def calibration_images(train_images: np.ndarray, n: int, seed: int) -> torch.Tensor:
    """`n` train images for the int8 calibration, drawn by `seed`, in train/'s order."""
    pick = np.random.default_rng(seed).permutation(len(train_images))[:n]
    return to_tensor(train_images[np.sort(pick)])


def export_trained(net: ResNet18CBAM, out: Path, data: TrainingData, sigma: float, quantize: str,
                   calibration_n: int, seed: int, flip_below: float = 0.0) -> float | None:
    """A training run's export: on FER+ votes, the temperature fitted on PublicTest folded in
    first (returned; None on folder labels); int8 calibrated on `calibration_n` train images
    drawn by `seed` (`quantize` "int8") or fp16; `sigma`: the input blur baked in;
    `flip_below`: the mirror pass for unsure faces (`ExportedClassifier`)."""
    net = net.to(memory_format=torch.contiguous_format).cpu()
    temperature = None
    if data.val_targets is not None:
        val_logits = predict(normalised(net, sigma), data.val.images, torch.device("cpu"))
        temperature = fold_temperature(net, val_logits, data.val_targets)
    calibration = None
    if quantize == "int8":
        calibration = calibration_images(data.train.images, calibration_n, seed)
    export_torchscript(net, out, blur_sigma=sigma, calibration=calibration, flip_below=flip_below)
    return temperature


def export_torchscript(
    net: ResNet18CBAM,
    out: Path,
    tta_flip: bool = False,
    fp16: bool = True,
    blur_sigma: float = 0.0,
    calibration: torch.Tensor | None = None,
    flip_below: float = 0.0,
) -> Path:
    """Writes the shipped model. With `calibration` images the net is int8 (see `quantize_int8`);
    `flip_below`: the mirror pass for unsure faces only (see `ExportedClassifier`)."""
    folded = fast_attention(inference_form(fold_batchnorm(net.cpu())))
    if calibration is not None:
        inner: nn.Module = quantize_int8(folded, calibration)
    else:
        inner = folded
    wrapped = ExportedClassifier(
        inner, tta_flip=tta_flip, blur_sigma=blur_sigma, flip_below=flip_below
    ).eval()
    scripted = torch.jit.script(wrapped)
    if fp16 and calibration is None:
        scripted = scripted.half()
    elif calibration is not None:
        # Frozen: weights, quantization scales and flags become graph constants, so no attribute
        # lookups or `item()` calls per op (measured: 1.64 → 1.33 ms a face, one thread). Only
        # the int8 export: loaders cast float exports to fp32, which a frozen graph's constants
        # would not follow. `training.recover` reads the weights back out of the graph.
        scripted = torch.jit.freeze(scripted, preserved_attrs=list(METADATA_METHODS))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    scripted.save(str(tmp))
    tmp.replace(out)
    return out


def is_int8(module: torch.jit.ScriptModule) -> bool:
    """Whether an exported model runs quantized convolutions."""
    return "quantized::conv2d" in str(module.inlined_graph)


def load_exported(path: Path) -> torch.jit.ScriptModule:
    """Load as the Rust side does: fp32 on CPU, eval mode, metadata checked."""
    m = torch.jit.load(str(path), map_location="cpu").float().eval()
    names = m.class_names()
    if names != ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]:
        raise ValueError(f"{path}: unexpected class_names {names}")
    if m.input_size() != 48:
        raise ValueError(f"{path}: unexpected input_size {m.input_size()}")
    return m
