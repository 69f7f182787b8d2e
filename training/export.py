"""TorchScript export per DESIGN.md's model contract.

Input N x 1 x 48 x 48 float32 gray in [0, 1], output N x 7 logits in FER-2013 order,
`class_names()` and `input_size()` exported. BatchNorm is folded into the convolutions (faster
inference) and weights are stored as fp16 (half the file); loaders cast to fp32 after loading.
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from .model import BasicBlock, ExportedClassifier, ResNet18CBAM


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


def export_torchscript(
    net: ResNet18CBAM, out: Path, tta_flip: bool = False, fp16: bool = True, blur_sigma: float = 0.0
) -> Path:
    wrapped = ExportedClassifier(fold_batchnorm(net.cpu()), tta_flip=tta_flip, blur_sigma=blur_sigma).eval()
    scripted = torch.jit.script(wrapped)
    if fp16:
        scripted = scripted.half()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    scripted.save(str(tmp))
    tmp.replace(out)
    return out


def load_exported(path: Path) -> torch.jit.ScriptModule:
    """Load as the Rust side does: fp32 on CPU, eval mode, metadata checked."""
    m = torch.jit.load(str(path), map_location="cpu").float().eval()
    names = m.class_names()
    if names != ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]:
        raise ValueError(f"{path}: unexpected class_names {names}")
    if m.input_size() != 48:
        raise ValueError(f"{path}: unexpected input_size {m.input_size()}")
    return m
