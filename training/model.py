"""ResNet18 (BasicBlock x [2, 2, 2, 2]) with CBAM in every block, for 48x48 grayscale faces."""

from __future__ import annotations

from pathlib import Path
from typing import List

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

CLASS_NAMES = ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]
INPUT_SIZE = 48
# Pixel statistics of FER-2013 train/ (in [0, 1]); normalisation lives inside the model so
# callers only ever feed raw gray levels scaled to [0, 1].
FER_MEAN = 0.5077
FER_STD = 0.2550


class ChannelAttention(nn.Module):
    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = max(channels // reduction, 8)
        self.mlp = nn.Sequential(
            nn.Conv2d(channels, hidden, 1, bias=False),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels, 1, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        avg = self.mlp(F.adaptive_avg_pool2d(x, 1))
        mx = self.mlp(F.adaptive_max_pool2d(x, 1))
        return x * torch.sigmoid(avg + mx)


class SpatialAttention(nn.Module):
    def __init__(self, kernel_size: int = 7) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        avg = torch.mean(x, dim=1, keepdim=True)
        mx = torch.amax(x, dim=1, keepdim=True)
        return x * torch.sigmoid(self.conv(torch.cat([avg, mx], dim=1)))


class CBAM(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channel = ChannelAttention(channels)
        self.spatial = SpatialAttention()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.spatial(self.channel(x))


class BasicBlock(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.cbam = CBAM(out_ch)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_ch != out_ch:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_ch, out_ch, 1, stride, bias=False), nn.BatchNorm2d(out_ch)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)), inplace=True)
        out = self.bn2(self.conv2(out))
        out = self.cbam(out)
        return F.relu(out + self.shortcut(x), inplace=True)


class ResNet18CBAM(nn.Module):
    """ResNet18 topology adapted to 48x48 gray.

    `stem_stride` and `stem_pool` trade accuracy for compute: stride 1 + pool feeds layer1 at
    24x24, stride 2 + pool at 12x12 (about 2.5x cheaper on CPU).
    """

    def __init__(
        self,
        num_classes: int = 7,
        width: int = 64,
        stem_stride: int = 1,
        stem_pool: bool = True,
        dropout: float = 0.3,
    ) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(1, width, 3, stem_stride, 1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2) if stem_pool else nn.Identity(),
        )
        chans = [width, width * 2, width * 4, width * 8]
        layers = []
        in_ch = width
        for i, ch in enumerate(chans):
            stride = 1 if i == 0 else 2
            layers.append(nn.Sequential(BasicBlock(in_ch, ch, stride), BasicBlock(ch, ch, 1)))
            in_ch = ch
        self.layers = nn.Sequential(*layers)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(in_ch, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        # No zero-init of the last BN in each block: with CBAM gating the residual branch,
        # zero-init stalls learning (measured: 25 % vs 35 % after 3 short epochs).

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layers(self.stem(x))
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return self.fc(self.dropout(x))


def gaussian_kernel(sigma: float) -> torch.Tensor:
    """1-D Gaussian taps (radius 3 sigma), summing to 1; empty for sigma <= 0."""
    if sigma <= 0:
        return torch.zeros(0)
    r = int(3 * sigma + 0.5)
    t = torch.arange(-r, r + 1, dtype=torch.float32)
    k = torch.exp(-(t**2) / (2 * sigma * sigma))
    return k / k.sum()


def normalize(x: torch.Tensor, mean: float = FER_MEAN, std: float = FER_STD) -> torch.Tensor:
    """[0, 1] gray to what the net was trained on (FER-2013 train mean/std). The statistics are
    default arguments because TorchScript cannot read module globals."""
    return (x - mean) / std


def separable_blur(x: torch.Tensor, kernel_x: torch.Tensor, kernel_y: torch.Tensor) -> torch.Tensor:
    """Gaussian blur of N x 1 x H x W with 1 x 1 x 1 x K / 1 x 1 x K x 1 taps, edges replicated.

    The one implementation behind both the exported model's input blur and `data.blur`, so the
    two cannot drift apart (TorchScript compiles it into the export).
    """
    r = (kernel_x.shape[-1] - 1) // 2
    if r <= 0:
        return x
    x = F.conv2d(F.pad(x, [r, r, 0, 0], mode="replicate"), kernel_x.to(x.dtype))
    return F.conv2d(F.pad(x, [0, 0, r, r], mode="replicate"), kernel_y.to(x.dtype))


class ExportedClassifier(nn.Module):
    """What ships: raw [0, 1] gray in, logits out, metadata methods for the Rust loader.

    `blur_sigma` > 0 blurs the input first (separable Gaussian, edge-replicated), so sharp faces
    (webcam, FER-2013 test) match a training set that is itself blurred; see `data.estimate_blur`.
    With `tta_flip`, logits are the mean of the image and its mirror (horizontal-flip TTA).
    With `flip_below` > 0 only faces whose top softmax probability is under it get the mirror
    pass: the shipped file's (`--flip-below 0.6`, models/MODEL_CARD.md); distillation uses
    `tta_flip` for its teachers.
    """

    def __init__(
        self, net: nn.Module, tta_flip: bool, blur_sigma: float = 0.0, flip_below: float = 0.0
    ) -> None:
        super().__init__()
        self.net = net
        self.tta_flip = tta_flip
        self.flip_below = 0.0 if tta_flip else float(flip_below)
        self.sigma = float(blur_sigma)
        k = gaussian_kernel(blur_sigma)
        self.register_buffer("kernel_x", k.view(1, 1, 1, -1).clone())
        self.register_buffer("kernel_y", k.view(1, 1, -1, 1).clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = normalize(separable_blur(x, self.kernel_x, self.kernel_y))
        if self.tta_flip:
            n = x.shape[0]
            both = self.net(torch.cat([x, torch.flip(x, dims=[3])], dim=0))
            return (both[:n] + both[n:]) * 0.5
        logits = self.net(x)
        if self.flip_below > 0.0:
            unsure = torch.nonzero(torch.softmax(logits, dim=1).amax(dim=1) < self.flip_below).flatten()
            if unsure.numel() > 0:
                mirrored = self.net(torch.flip(x.index_select(0, unsure), dims=[3]))
                mean = (logits.index_select(0, unsure) + mirrored) * 0.5
                logits = logits.index_copy(0, unsure, mean)
        return logits

    @torch.jit.export
    def class_names(self) -> List[str]:
        return ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]

    @torch.jit.export
    def input_size(self) -> int:
        return 48

    @torch.jit.export
    def input_blur_sigma(self) -> float:
        return self.sigma

    @torch.jit.export
    def mirror_pass_below(self) -> float:
        """Which faces get the mirror pass: top probability under this; 1.0 all, 0.0 none."""
        return 1.0 if self.tta_flip else self.flip_below


ARCHS = ("s1", "s2", "s2np", "s1w48", "s1w40")
# The net in models/emotion_resnet18_cbam.pt: the default wherever a tool reads or trains it
# (strides are not in an export's weights). The Makefile's SHIPPED_ARCH says the same (tested).
SHIPPED_ARCH = "s1w40"


def build_model(arch: str = "s2", dropout: float = 0.3) -> ResNet18CBAM:
    """`s1`: stride-1 stem + pool (24x24 into layer1); `s2`: stride-2 stem + pool (12x12)."""
    if arch == "s1":
        return ResNet18CBAM(stem_stride=1, stem_pool=True, dropout=dropout)
    if arch == "s2":
        return ResNet18CBAM(stem_stride=2, stem_pool=True, dropout=dropout)
    if arch.startswith("s1w") and arch[3:].isdigit():
        # Narrower stride-1 nets: layer1 at 24x24 as the teachers, convolutions at (w/64)^2 of
        # their cost, to fit the 3 ms per face that the full-width s1 misses.
        return ResNet18CBAM(width=int(arch[3:]), stem_stride=1, stem_pool=True, dropout=dropout)
    if arch == "s2np":
        return ResNet18CBAM(stem_stride=2, stem_pool=False, dropout=dropout)
    raise ValueError(f"unknown arch {arch!r}: use one of {', '.join(ARCHS)}")


def load_weights(model: nn.Module, path: Path, device: torch.device) -> None:
    """A state dict or a {"model": ...} checkpoint; fp16 copies (what comes back from the GPU
    machine) load as fp32."""
    ck = torch.load(path, map_location=device, weights_only=False)
    state = ck["model"] if "model" in ck else ck
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 N x 48 x 48 -> float N x 1 x 48 x 48 in [0, 1] (what the Rust side feeds too)."""
    return torch.from_numpy(images).unsqueeze(1).float().div_(255.0)


def normalised(net: nn.Module, sigma: float) -> nn.Module:
    """The bare net wrapped with the export's blur and normalisation, for raw [0, 1] input."""
    return ExportedClassifier(net, tta_flip=False, blur_sigma=sigma)


@torch.no_grad()
def predict(model: nn.Module, images: np.ndarray, device: torch.device, bs: int = 512) -> np.ndarray:
    """Logits of `model` (raw [0, 1] input: an export, or a net `normalised`) on uint8 images."""
    model.eval()
    out = []
    for i in range(0, len(images), bs):
        x = to_tensor(images[i : i + bs]).to(device)
        out.append(model(x).float().cpu())
    return torch.cat(out).numpy()
