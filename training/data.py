"""FER-2013 in the Kaggle folder layout, loaded once into uint8 arrays, plus batched augmentation
and what a training run reads (`training_data`: train/ and PublicTest with their labels or FER+
votes; `input_blur`: the sharpness check)."""

from __future__ import annotations

import hashlib
import math
import os
import shutil
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from . import ferplus
from .model import CLASS_NAMES, INPUT_SIZE, gaussian_kernel, separable_blur, to_tensor

SPLITS = ("train", "PublicTest", "PrivateTest")


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "emotune"


def shared_tarball() -> Path:
    return Path(__file__).resolve().parent.parent.parent / "shared" / "datasets" / "fer2013.tar.gz"


def tarball_stamp(tarball: Path) -> str:
    """What identifies one copy of the tarball: size and mtime (the Rust tests write the same)."""
    st = tarball.stat()
    return f"size={st.st_size} mtime_ns={st.st_mtime_ns}\n"


STAMP = ".source"


def unpack_cached(tarball: Path, cache: Path) -> Path:
    """`tarball` unpacked into `cache`/fer2013, re-unpacked whenever the tarball changes.

    The first shared copy had a blurred train/; its replacement keeps the file names, so a cache
    keyed on the path alone would silently keep training on the blurred images.
    """
    unpacked = cache / "fer2013"
    want = tarball_stamp(tarball)
    stamp = unpacked / STAMP
    if (unpacked / "train").is_dir() and stamp.is_file() and stamp.read_text() == want:
        return unpacked
    if unpacked.exists():
        print(f"{unpacked}: stale or unmarked copy of {tarball}, unpacking it again", file=sys.stderr)
    cache.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".fer2013-", dir=cache))
    try:
        with tarfile.open(tarball) as tar:
            tar.extractall(tmp, filter="data")
        if not (tmp / "fer2013" / "train").is_dir():
            raise FileNotFoundError(f"{tarball} has no fer2013/train/: not the FER-2013 tarball")
        (tmp / "fer2013" / STAMP).write_text(want)
        # Moved aside before it is deleted (with tmp, below): a deletion cut short must not
        # leave a half-deleted copy where the next run looks.
        if unpacked.exists():
            unpacked.replace(tmp / "stale")
        (tmp / "fer2013").replace(unpacked)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return unpacked


def default_data_dir() -> Path | None:
    """FER2013_DIR, else ../shared/datasets/fer2013.tar.gz unpacked into the cache (re-unpacked
    when the tarball changes)."""
    env = os.environ.get("FER2013_DIR")
    if env:
        return Path(env)
    tarball = shared_tarball()
    if tarball.is_file():
        return unpack_cached(tarball, cache_dir() / "datasets")
    unpacked = cache_dir() / "datasets" / "fer2013"
    return unpacked if (unpacked / "train").is_dir() else None


def data_dir(given: Path | None) -> Path:
    """`given`, else `default_data_dir()`; every tool's exit (code 2) when there is neither."""
    root = given or default_data_dir()
    if root is None:
        print("no FER-2013 data: pass --data DIR (train/, test/) or set FER2013_DIR", file=sys.stderr)
        raise SystemExit(2)
    return root


@dataclass
class Split:
    images: np.ndarray  # N x 48 x 48 uint8
    labels: np.ndarray  # N int64
    paths: list[str]

    def __len__(self) -> int:
        return len(self.labels)


def subset(split: Split, idx: np.ndarray) -> Split:
    return Split(split.images[idx], split.labels[idx], [split.paths[i] for i in idx])


@dataclass
class TrainingData:
    """What a training run trains and selects on. `val_labels`: what PublicTest is scored on
    (the folder labels, or FER+'s plurality); `train_targets`, `val_targets`: FER+'s vote
    shares (None on folder labels)."""

    train: Split
    val: Split
    val_labels: np.ndarray
    train_targets: np.ndarray | None = None
    val_targets: np.ndarray | None = None


def training_data(root: Path, limit: int, labels: str, votes: Path | None, verbose: bool) -> TrainingData:
    """train/ and PublicTest for a run: `limit` images of each (0: all), on the folder labels or
    (`labels` "ferplus") on FER+'s votes from `votes` (default: the shared ferplus.csv), with
    the images FER+ leaves out dropped from train/ and the unscored ones from PublicTest."""
    train, val = load_split(root, "train"), load_split(root, "PublicTest")
    if limit:
        # One subset for every seed, so runs of a recipe can be ensembled and distilled.
        rng = np.random.default_rng(0)
        ti = rng.permutation(len(train))[:limit]
        vi = rng.permutation(len(val))[:limit]
        train, val = subset(train, ti), subset(val, vi)
    if labels != "ferplus":
        return TrainingData(train, val, val.labels)
    table = ferplus.read_votes(votes or ferplus.shared_csv())
    tl = ferplus.align(table, train.paths)
    keep = np.flatnonzero(tl.keep)
    vl = ferplus.align(table, val.paths)
    scored = np.flatnonzero(vl.plurality >= 0)
    data = TrainingData(subset(train, keep), subset(val, scored), vl.plurality[scored],
                        tl.targets[keep], vl.targets[scored])
    if verbose:
        print(f"FER+ labels: {len(data.train)} train images, {len(data.val)} PublicTest scored", file=sys.stderr)
    return data


def input_blur(choice: str | None, root: Path, train: Split, val: Split, verbose: bool) -> float | None:
    """The Gaussian sigma of the inputs at validation and in the export: `choice` (`--input-blur`:
    None, "auto" or a sigma). None when train/ and PublicTest differ in sharpness and no blur
    was asked for: the run is refused, saying why."""
    sharp_train, sharp_val = sharpness(train.images[:4000]), sharpness(val.images[:1000])
    if verbose:
        print(f"sharpness (mean |Laplacian|): train {sharp_train:.1f}, PublicTest {sharp_val:.1f}", file=sys.stderr)
    if choice is None:
        if sharpness_mismatch(sharp_train, sharp_val):
            print(mismatch_message(root, sharp_train, sharp_val), file=sys.stderr)
            return None
        return 0.0
    sigma = estimate_blur(train.images, val.images) if choice == "auto" else float(choice)
    if verbose and sigma > 0:
        print(f"input blur sigma {sigma} (explicit --input-blur {choice})", file=sys.stderr)
    return sigma


def _split_of(path: Path) -> str:
    if path.parts[-3] == "train":
        return "train"
    name = path.name
    if name.startswith("PublicTest"):
        return "PublicTest"
    if name.startswith("PrivateTest"):
        return "PrivateTest"
    raise ValueError(f"{path}: test files must be named PublicTest_* or PrivateTest_*")


def load_split(root: Path, split: str) -> Split:
    """Load one split; `split` is train, PublicTest or PrivateTest. Cached as .npz by path+mtime."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}: use one of {SPLITS}")
    root = Path(root)
    sub = root / ("train" if split == "train" else "test")
    if not sub.is_dir():
        raise FileNotFoundError(
            f"{sub} not found: --data must point at a FER-2013 folder with train/ and test/"
        )
    files = sorted(
        p
        for cls in CLASS_NAMES
        for p in (sub / cls).glob("*")
        if p.suffix.lower() in (".jpg", ".jpeg", ".png") and _split_of(p) == split
    )
    if not files:
        raise FileNotFoundError(f"no {split} images under {sub}/<class>/")
    # Keyed on every file's name, size and mtime: a replaced copy under the same path (the
    # blurred and the sharp train/ share their file names) gets a new key.
    h = hashlib.sha1(f"{root.resolve()}|{split}".encode())
    for p in files:
        st = p.stat()
        h.update(f"|{p.name}|{st.st_size}|{st.st_mtime_ns}".encode())
    key = h.hexdigest()[:16]
    cache = cache_dir() / "npz" / f"fer_{split}_{key}.npz"
    if cache.is_file():
        z = np.load(cache, allow_pickle=False)
        return Split(z["images"], z["labels"], [str(p) for p in files])
    images = np.empty((len(files), INPUT_SIZE, INPUT_SIZE), dtype=np.uint8)
    labels = np.empty(len(files), dtype=np.int64)
    for i, p in enumerate(files):
        with Image.open(p) as im:
            g = im.convert("L")
            if g.size != (INPUT_SIZE, INPUT_SIZE):
                g = g.resize((INPUT_SIZE, INPUT_SIZE), Image.BILINEAR)
            images[i] = np.asarray(g)
        labels[i] = CLASS_NAMES.index(p.parent.name)
    cache.parent.mkdir(parents=True, exist_ok=True)
    # A name of its own per process: the recipe starts several runs at once on one cache, and a
    # shared temp name let one run rename the other's half-written file into place.
    tmp = cache.with_name(f"{cache.stem}.{os.getpid()}.tmp.npz")
    np.savez(tmp, images=images, labels=labels)
    tmp.replace(cache)
    return Split(images, labels, [str(p) for p in files])


def augment(x: torch.Tensor, gen: torch.Generator, strength: float = 1.0) -> torch.Tensor:
    """Batched augmentation on N x 1 x H x W in [0, 1]: flip, rotate/scale/shift, erase.

    One affine_grid/grid_sample call per batch keeps this cheap next to the network.
    """
    n, _, h, w = x.shape
    dev = x.device

    def u(lo: float, hi: float) -> torch.Tensor:
        return torch.rand(n, generator=gen, device=dev) * (hi - lo) + lo

    angle = u(-10, 10) * strength * math.pi / 180
    scale = u(1 - 0.12 * strength, 1 + 0.12 * strength)
    tx = u(-0.12, 0.12) * strength
    ty = u(-0.12, 0.12) * strength
    flip = (torch.rand(n, generator=gen, device=dev) < 0.5).float() * -2 + 1
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [torch.stack([cos * flip, -sin, tx], 1), torch.stack([sin * flip, cos, ty], 1)], 1
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    # Random erasing: one rectangle (2-25 % of the area) on half the images, filled with noise.
    area = u(0.02, 0.25) * h * w
    ratio = torch.exp(u(math.log(0.3), math.log(3.3)))
    eh = torch.sqrt(area * ratio).clamp(1, h - 1)
    ew = torch.sqrt(area / ratio).clamp(1, w - 1)
    y0 = torch.rand(n, generator=gen, device=dev) * (h - eh)
    x0 = torch.rand(n, generator=gen, device=dev) * (w - ew)
    on = torch.rand(n, generator=gen, device=dev) < 0.5 * min(strength, 1.0)
    ys = torch.arange(h, device=dev).view(1, h, 1)
    xs = torch.arange(w, device=dev).view(1, 1, w)
    mask = (
        (ys >= y0.view(n, 1, 1))
        & (ys < (y0 + eh).view(n, 1, 1))
        & (xs >= x0.view(n, 1, 1))
        & (xs < (x0 + ew).view(n, 1, 1))
        & on.view(n, 1, 1)
    ).unsqueeze(1)
    noise = torch.rand(x.shape, generator=gen, device=dev)
    return torch.where(mask, noise, x)


def camera(x: torch.Tensor, gen: torch.Generator, p: float) -> torch.Tensor:
    """What a webcam does to a face, on N x 1 x H x W in [0, 1], each image with probability `p`:
    exposure and contrast (x0.6-1.4, +-0.15), gamma (0.6-1.6), defocus (a blend towards a
    sigma-1 blur) and sensor noise (sigma up to 0.05, ~13 gray levels). FER-2013's web photos are
    mostly well exposed and sharp; a face cropped from a dim room's camera frame is neither."""
    n = x.shape[0]
    dev = x.device

    def u(lo: float, hi: float) -> torch.Tensor:
        return (torch.rand(n, generator=gen, device=dev) * (hi - lo) + lo).view(n, 1, 1, 1)

    mean = x.mean((1, 2, 3), keepdim=True)
    y = ((x - mean) * u(0.6, 1.4) + mean + u(-0.15, 0.15)).clamp(0, 1)
    y = y.pow(torch.exp(u(math.log(0.6), math.log(1.6))))
    k = gaussian_kernel(1.0).to(dev)
    y = y + u(0, 1) * (separable_blur(y, k.view(1, 1, 1, -1), k.view(1, 1, -1, 1)) - y)
    y = (y + torch.randn(x.shape, generator=gen, device=dev) * u(0, 0.05)).clamp(0, 1)
    on = (torch.rand(n, generator=gen, device=dev) < p).view(n, 1, 1, 1)
    return torch.where(on, y, x)


def sharpness(images: np.ndarray) -> float:
    """Mean absolute 4-neighbour Laplacian (gray levels): high for sharp images, low for blurred."""
    x = images.astype(np.float32)
    lap = 4 * x[:, 1:-1, 1:-1] - x[:, :-2, 1:-1] - x[:, 2:, 1:-1] - x[:, 1:-1, :-2] - x[:, 1:-1, 2:]
    return float(np.abs(lap).mean())


def sharpness_mismatch(train: float, test: float, ratio: float = 1.5) -> bool:
    """True when train/ and test/ differ in sharpness by more than `ratio` either way."""
    lo, hi = sorted((max(train, 1e-6), max(test, 1e-6)))
    return hi / lo > ratio


def mismatch_message(root: Path, train: float, test: float) -> str:
    return (
        f"{root}: train/ and test/ are not equally sharp (mean |Laplacian| {train:.1f} vs "
        f"{test:.1f}), so a model trained on train/ would be judged on different images. This is "
        "the blurred first copy of FER-2013: use version 2 of ../shared/datasets/fer2013.tar.gz "
        "(delete a stale unpacked copy, or pass --data to a sharp one), or pass --input-blur "
        "auto|SIGMA to train on it knowingly."
    )


def blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of N x 1 x H x W, edges replicated (as the exported model does)."""
    from .model import gaussian_kernel, separable_blur

    k = gaussian_kernel(sigma)
    return separable_blur(images, k.view(1, 1, 1, -1), k.view(1, 1, -1, 1))


def estimate_blur(train: np.ndarray, val: np.ndarray, max_sigma: float = 5.0) -> float:
    """The Gaussian sigma that makes `val` as (un)sharp as `train`; 0 when they already match.

    Some copies of FER-2013 ship a blurred train/ next to a sharp test/ (seen: Laplacian energy
    1.9 vs 29.4). A model trained on such data must see its inputs blurred the same way.
    """
    target = sharpness(train[:4000])
    sample = val[:1000]
    sharp = sharpness(sample)
    if sharp <= target or not sharpness_mismatch(target, sharp):
        return 0.0
    lo, hi = 0.0, max_sigma
    x = to_tensor(sample) * 255.0
    for _ in range(20):
        mid = (lo + hi) / 2
        if sharpness(blur(x, mid).squeeze(1).numpy()) > target:
            lo = mid
        else:
            hi = mid
    return round((lo + hi) / 2, 2)
