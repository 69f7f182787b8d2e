"""Float weights back out of a shipped TorchScript model, to train on from where it stands.

    python -m training.recover models/emotion_resnet18_cbam.pt OUT.pt [--data DIR] [--arch s1w40]

Training checkpoints live in a cache that need not survive to the next session; the shipped file
always does. Its convolutions are int8 (per-channel weights, dequantized here; the int8 export is
frozen, so they are read from the graph's constants) or fp16 (read from its modules), with
BatchNorm folded into them. A recover + export round trip re-calibrates the activations and
moves accuracy by a few tenths of a point either way (measured: −0.09 / −0.34 on Public /
PrivateTest once), so ship a round trip only after `emotune eval`. Each BatchNorm is rebuilt so that the net computes the same function
in eval mode: its running statistics are the measured mean and variance of its convolution's
output on train/ images, and its affine part maps the normalised output back (gamma = std,
beta = mean + folded bias). Train mode's batch statistics then have the right scale but do not
give the same function (measured 35.7 % against 66.9 % on PublicTest), so fine-tune with
`python -m training.train --init-from OUT --freeze-bn`. OUT is a state dict for `build_model(arch)`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import data as fer
from .export import channel_mlp_weights, spatial_kernel
from .model import ARCHS, SHIPPED_ARCH, BasicBlock, ResNet18CBAM, build_model, normalize


def _dense(t: torch.Tensor) -> torch.Tensor:
    return (t.dequantize() if t.is_quantized else t).detach().float().clone()


def _conv_weight_bias(scripted: torch.jit.ScriptModule) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Weight and bias of a scripted float or int8 convolution/linear layer."""
    names = scripted._c._method_names()
    if "_weight_bias" in names:  # quantized Conv2d
        w, b = scripted._weight_bias()
    elif hasattr(scripted, "_packed_params"):  # quantized Linear
        w, b = scripted._packed_params._weight_bias()
    else:
        w, b = scripted.weight, getattr(scripted, "bias", None)
    return _dense(w), None if b is None else _dense(b)


def _child(module: torch.jit.ScriptModule, dotted: str) -> torch.jit.ScriptModule:
    for part in dotted.split("."):
        module = getattr(module, part)
    return module


def _conv_bn_pairs(net: ResNet18CBAM) -> list[tuple[str, nn.Conv2d, nn.BatchNorm2d]]:
    pairs = [("stem.0", net.stem[0], net.stem[1])]
    for name, m in net.named_modules():
        if isinstance(m, BasicBlock):
            pairs.append((f"{name}.conv1", m.conv1, m.bn1))
            pairs.append((f"{name}.conv2", m.conv2, m.bn2))
            if len(m.shortcut) == 2:
                pairs.append((f"{name}.shortcut.0", m.shortcut[0], m.shortcut[1]))
    return pairs


Weights = tuple[torch.Tensor, torch.Tensor | None]
Gate = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def _module_weights(inner: torch.jit.ScriptModule, net: ResNet18CBAM) -> tuple[dict[str, Weights], Weights, list[Gate]]:
    """Convolutions by name, the head and each block's gate as CBAM's own weights (lin1, lin2,
    7x7 kernel), from an export that kept its module tree: the float export, and every export
    made before 2026-11-24 (unfrozen, two-linear gates)."""
    convs = {name: _conv_weight_bias(_child(inner, name)) for name, _, _ in _conv_bn_pairs(net)}
    gates = []
    for name, m in net.named_modules():
        if isinstance(m, BasicBlock):
            g = _child(inner, f"{name}.cbam")
            if hasattr(g.channel, "lin1"):
                # Exported before 2026-11-24 (the first FER-2013 models, still in git
                # history): two linears and the flattened 7x7 kernel, as they were trained.
                conv = m.cbam.spatial.conv
                gates.append((g.channel.lin1.weight.float(), g.channel.lin2.weight.float(),
                              g.spatial.weight.float().view_as(conv.weight)))
            else:
                gates.append(_decode_gate(m, g.channel.w1, g.channel.w2, g.spatial.weight))
    return convs, _conv_weight_bias(inner.fc), gates


def _decode_gate(block: BasicBlock, w1: torch.Tensor, w2: torch.Tensor, spatial: torch.Tensor) -> Gate:
    """A `FastChannelAttention`'s and `FastSpatialAttention`'s weights as CBAM's own."""
    mlp, conv = block.cbam.channel.mlp, block.cbam.spatial.conv
    lin1, lin2 = channel_mlp_weights(w1, w2)
    return lin1, lin2, spatial_kernel(spatial, mlp[0].in_channels, conv.kernel_size[0])


def _frozen_weights(exported: torch.jit.ScriptModule, net: ResNet18CBAM) -> tuple[dict[str, Weights], Weights, list[Gate]]:
    """The same out of a frozen export (the int8 one), whose weights are constants of the graph:
    the packed int8 weights of each `quantized::` op and the float tensors the gates multiply
    by, in the order the forward pass uses them. 3x3 convolutions come stem first, then each
    block's conv1 and conv2; 1x1 ones are the shortcuts in order; every block's gate uses three
    constants (the channel MLP's two, then the spatial matmul's or convolution's), decoded into
    CBAM's own weights."""
    square, shortcuts, constants, head = [], [], [], None
    for node in exported.inlined_graph.nodes():
        kind = node.kind()
        args = list(node.inputs())
        if kind.startswith("quantized::conv2d"):
            w, b = args[1].toIValue().unpack()
            (square if w.shape[-1] == 3 else shortcuts).append((_dense(w), None if b is None else _dense(b)))
        elif kind == "quantized::linear":
            w, b = args[1].toIValue().unpack()
            head = (_dense(w), None if b is None else _dense(b))
            break  # the head ends the net's first (and, at top level, only) pass
        elif kind in ("aten::mm", "aten::conv2d", "aten::_convolution") and args[1].node().kind() == "prim::Constant":
            constants.append(args[1].toIValue().detach().float())
    names = [name for name, _, _ in _conv_bn_pairs(net)]
    square_names = [n for n in names if not n.endswith("shortcut.0")]
    short_names = [n for n in names if n.endswith("shortcut.0")]
    blocks = [m for m in net.modules() if isinstance(m, BasicBlock)]
    if (len(square), len(shortcuts), len(constants), head is None) != (len(square_names), len(short_names), 3 * len(blocks), False):
        raise ValueError(
            f"the graph holds {len(square)} 3x3 and {len(shortcuts)} 1x1 int8 convolutions and "
            f"{len(constants)} gate weights, not what an emotune export of this net has"
        )
    convs = dict(zip(square_names, square)) | dict(zip(short_names, shortcuts))
    gates = [_decode_gate(b, *constants[3 * i : 3 * i + 3]) for i, b in enumerate(blocks)]
    return convs, head, gates


@torch.no_grad()
def recover(exported: torch.jit.ScriptModule, arch: str, images: torch.Tensor) -> ResNet18CBAM:
    """The float net behind `exported` (an `ExportedClassifier`). `images`: N x 1 x 48 x 48 in
    [0, 1] on which the BatchNorm statistics are measured."""
    net = build_model(arch).eval()
    pairs = _conv_bn_pairs(net)
    if hasattr(exported, "net"):
        convs, head, gates = _module_weights(exported.net, net)
    else:
        convs, head, gates = _frozen_weights(exported, net)
    for name, conv, bn in pairs:
        w, b = convs[name]
        if w.shape != conv.weight.shape:
            raise ValueError(f"{name}: exported weight {tuple(w.shape)}, {arch} wants {tuple(conv.weight.shape)}")
        conv.weight.copy_(w)
        # Exact in eval mode: BN(y) = y + b.
        bn.running_mean.zero_()
        bn.running_var.fill_(1.0 - bn.eps)
        bn.weight.fill_(1.0)
        bn.bias.copy_(b if b is not None else torch.zeros_like(bn.bias))
    w, b = head
    net.fc.weight.copy_(w)
    if b is not None:
        net.fc.bias.copy_(b)
    # CBAM's gates are float in the export (decoded above into CBAM's own weights).
    blocks = [m for m in net.modules() if isinstance(m, BasicBlock)]
    for m, (w1, w2, kernel) in zip(blocks, gates):
        mlp = m.cbam.channel.mlp
        conv = m.cbam.spatial.conv
        mlp[0].weight.copy_(w1.view_as(mlp[0].weight))
        mlp[2].weight.copy_(w2.view_as(mlp[2].weight))
        conv.weight.copy_(kernel.view_as(conv.weight))

    # Measure each convolution's output statistics with the (exact) eval-mode net, then move
    # them into the BatchNorms: real running statistics, for runs that let them update again.
    sums: dict[str, list[torch.Tensor]] = {}
    hooks = []
    for name, conv, _ in pairs:
        def hook(_m, _inp, out, name=name):
            y = out.float()
            s = sums.setdefault(name, [torch.zeros(y.shape[1], dtype=torch.float64)] * 2 + [0])
            s[0] = s[0] + y.sum((0, 2, 3)).double()
            s[1] = s[1] + (y.double() ** 2).sum((0, 2, 3))
            s[2] += y.numel() // y.shape[1]
        hooks.append(conv.register_forward_hook(hook))
    for i in range(0, len(images), 256):
        net(normalize(images[i : i + 256]))
    for h in hooks:
        h.remove()
    for name, conv, bn in pairs:
        total, sq, n = sums[name]
        mean = total / n
        var = (sq / n - mean**2).clamp_min(1e-8)
        bias = bn.bias.clone()
        bn.running_mean.copy_(mean.float())
        bn.running_var.copy_(var.float())
        bn.weight.copy_(torch.sqrt(var + bn.eps).float())
        bn.bias.copy_(mean.float() + bias)
    return net


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.recover", description=__doc__.split("\n")[0])
    p.add_argument("model", type=Path, help="an exported model (e.g. models/emotion_resnet18_cbam.pt)")
    p.add_argument("out", type=Path, help="where to write the state dict")
    p.add_argument("--arch", default=SHIPPED_ARCH, choices=ARCHS,
                   help="the exported net's (strides are not in the weights; default: the shipped "
                   "net's; the files before 2026-11-24 are s2)")
    p.add_argument("--data", type=Path, default=None, help="FER-2013 folder (train/, test/)")
    p.add_argument("--images", type=int, default=4000, help="train/ images for BatchNorm statistics")
    args = p.parse_args(argv)
    root = fer.data_dir(args.data)
    try:
        exported = torch.jit.load(str(args.model), map_location="cpu").eval()
    except (RuntimeError, ValueError) as e:
        print(f"{args.model}: not a TorchScript model ({e}); pass an exported .pt", file=sys.stderr)
        return 2
    train = fer.load_split(root, "train")
    pick = np.random.default_rng(0).permutation(len(train))[: args.images]
    try:
        net = recover(exported, args.arch, fer.to_tensor(train.images[pick]))
    except (AttributeError, RuntimeError, ValueError) as e:
        print(f"{args.model}: not an emotune export with {args.arch} weights ({e})", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), args.out)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
