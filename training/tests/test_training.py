"""Fast checks of the training package: data loading, augmentation, a few steps, export."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from training import data as fer
from training.export import export_torchscript, fold_batchnorm, int8_qconfig, is_int8, load_exported
from training.metrics import report
from training.model import CLASS_NAMES, SHIPPED_ARCH, ExportedClassifier, build_model
from training.train import main as train_main, use_bf16


@pytest.fixture()
def tiny_fer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A synthetic dataset in the Kaggle layout: each class a different brightness pattern."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    rng = np.random.default_rng(0)
    root = tmp_path / "fer"
    for ci, cls in enumerate(CLASS_NAMES):
        for split, prefix, n in (("train", "Training", 12), ("test", "PublicTest", 3), ("test", "PrivateTest", 3)):
            d = root / split / cls
            d.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                img = (rng.random((48, 48)) * 60 + ci * 25).astype(np.uint8)
                Image.fromarray(img, "L").save(d / f"{prefix}_{ci}{i:03d}.jpg")
    return root


def test_load_split_separates_public_and_private(tiny_fer: Path) -> None:
    train = fer.load_split(tiny_fer, "train")
    pub = fer.load_split(tiny_fer, "PublicTest")
    priv = fer.load_split(tiny_fer, "PrivateTest")
    assert (len(train), len(pub), len(priv)) == (84, 21, 21)
    assert train.images.shape == (84, 48, 48) and train.images.dtype == np.uint8
    assert all("PrivateTest_" in p for p in priv.paths)
    assert sorted(set(train.labels.tolist())) == list(range(7))
    # Second load comes from the .npz cache and is identical.
    again = fer.load_split(tiny_fer, "train")
    assert np.array_equal(again.images, train.images)


def _load_after(barrier, root: Path, cache: str, q) -> None:
    import os

    os.environ["XDG_CACHE_HOME"] = cache
    barrier.wait()
    try:
        q.put(int(fer.load_split(root, "train").images.sum()))
    except Exception as e:  # noqa: BLE001 - reported to the test
        q.put(repr(e))


def test_runs_filling_the_cache_at_once_all_load_the_same_split(tiny_fer: Path, tmp_path: Path) -> None:
    # The recipe starts its runs together; each used to write the cache through one shared
    # temp name, and one run could rename another's half-written file into place.
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    want = int(fer.load_split(tiny_fer, "train").images.sum())
    for round_ in range(5):
        n, q = 8, ctx.Queue()
        barrier = ctx.Barrier(n)
        cache = str(tmp_path / f"cache{round_}")
        procs = [ctx.Process(target=_load_after, args=(barrier, tiny_fer, cache, q)) for _ in range(n)]
        for p in procs:
            p.start()
        got = [q.get(timeout=60) for _ in procs]
        for p in procs:
            p.join(timeout=60)
        assert got == [want] * n


def test_missing_data_dir_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="train/ and test/"):
        fer.load_split(tmp_path / "nowhere", "train")


def test_no_data_anywhere_is_one_clear_exit_for_every_tool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from training.evaluate import main as evaluate_main

    assert fer.data_dir(tmp_path) == tmp_path
    monkeypatch.setattr(fer, "default_data_dir", lambda: None)
    for run in (lambda: train_main(["--epochs", "1"]), lambda: evaluate_main([])):
        with pytest.raises(SystemExit) as e:
            run()
        assert e.value.code == 2
        assert "pass --data DIR" in capsys.readouterr().err


def test_augment_keeps_shape_range_and_varies() -> None:
    x = torch.rand(16, 1, 48, 48)
    g = torch.Generator().manual_seed(0)
    a = fer.augment(x, g)
    assert a.shape == x.shape
    assert float(a.min()) >= 0.0 and float(a.max()) <= 1.0
    assert not torch.allclose(a, x)
    # Deterministic for a given seed.
    b = fer.augment(x, torch.Generator().manual_seed(0))
    assert torch.equal(a, b)


def test_camera_conditions_apply_with_their_probability() -> None:
    x = torch.rand(64, 1, 48, 48) * 0.5 + 0.25
    assert torch.equal(fer.camera(x, torch.Generator().manual_seed(0), 0.0), x)
    a = fer.camera(x, torch.Generator().manual_seed(0), 1.0)
    assert a.shape == x.shape
    assert float(a.min()) >= 0.0 and float(a.max()) <= 1.0
    changed = (a - x).abs().flatten(1).amax(1) > 1e-3
    assert bool(changed.all())
    half = fer.camera(x, torch.Generator().manual_seed(1), 0.5)
    kept = (half == x).flatten(1).all(1)
    assert 10 < int(kept.sum()) < 54
    assert torch.equal(a, fer.camera(x, torch.Generator().manual_seed(0), 1.0))


def test_model_shapes_for_each_arch() -> None:
    for arch in ("s1", "s2", "s2np"):
        m = build_model(arch).eval()
        assert m(torch.rand(2, 1, 48, 48)).shape == (2, 7)


def net_with_batchnorm_statistics(seed: int = 0, arch: str = "s2") -> torch.nn.Module:
    """A net whose BN layers hold non-trivial running statistics (so folding and
    quantization have something real to work on), in eval mode."""
    torch.manual_seed(seed)
    net = build_model(arch).train()
    with torch.no_grad():
        for _ in range(3):
            net(torch.rand(16, 1, 48, 48))
    return net.eval()


def test_batchnorm_folding_and_fp16_export_round_trip(tmp_path: Path) -> None:
    net = net_with_batchnorm_statistics()
    x = torch.rand(4, 1, 48, 48)
    with torch.no_grad():
        ref = ExportedClassifier(net, tta_flip=False)(x)
        folded = ExportedClassifier(fold_batchnorm(net), tta_flip=False)(x)
    assert torch.allclose(ref, folded, atol=1e-4)
    out = export_torchscript(net, tmp_path / "m.pt", tta_flip=True)
    m = load_exported(out)
    assert m.class_names() == CLASS_NAMES and m.input_size() == 48
    assert next(m.parameters()).dtype == torch.float32
    with torch.no_grad():
        y = m(x)
        flipped = ExportedClassifier(net, tta_flip=True)(x)
    assert y.shape == (4, 7)
    # fp16 storage costs a little precision, not the prediction.
    assert torch.allclose(y, flipped, atol=5e-2)
    assert torch.equal(y.argmax(1), flipped.argmax(1))
    # Stored weights really are half precision (that is what keeps the file small).
    raw = torch.jit.load(str(out))
    assert next(raw.parameters()).dtype == torch.float16


def test_int8_export_tracks_the_float_model(tmp_path: Path) -> None:
    net = net_with_batchnorm_statistics()
    calibration = torch.rand(64, 1, 48, 48)
    fp16 = export_torchscript(net, tmp_path / "f.pt", tta_flip=True, blur_sigma=2.0)
    int8 = export_torchscript(net, tmp_path / "q.pt", tta_flip=True, blur_sigma=2.0, calibration=calibration)
    f, q = load_exported(fp16), load_exported(int8)
    assert not is_int8(f) and is_int8(q)
    assert q.class_names() == CLASS_NAMES and q.input_size() == 48
    assert abs(q.input_blur_sigma() - 2.0) < 1e-6
    # int8 weights: about half the fp16 file.
    assert int8.stat().st_size < 0.6 * fp16.stat().st_size
    x = torch.rand(32, 1, 48, 48)
    with torch.no_grad():
        want, got = f(x), q(x)
    assert got.shape == (32, 7) and got.dtype == torch.float32
    # Quantization error is small next to the spread of the logits (same predictions mostly).
    err = (got - want).abs().mean() / want.std()
    assert err < 0.1, err
    assert (got.argmax(1) == want.argmax(1)).float().mean() >= 0.9


def test_mirror_pass_only_for_unsure_faces(tmp_path: Path) -> None:
    net = net_with_batchnorm_statistics()
    x = torch.rand(16, 1, 48, 48)
    with torch.no_grad():
        plain = ExportedClassifier(net, tta_flip=False)(x)
        full = ExportedClassifier(net, tta_flip=True)(x)
        conf = plain.softmax(1).amax(1)
        cut = float(conf.median())
        out = export_torchscript(net, tmp_path / "g.pt", fp16=False, flip_below=cut)
        m = load_exported(out)
        got = m(x)
    assert abs(m.mirror_pass_below() - cut) < 1e-6
    unsure = conf < cut
    assert 0 < int(unsure.sum()) < len(x)
    # Unsure faces get the flip mean, sure ones stay as they are (BN folding: equal to 1e-4).
    assert torch.allclose(got[unsure], full[unsure], atol=1e-4)
    assert torch.allclose(got[~unsure], plain[~unsure], atol=1e-4)
    assert (full[~unsure] - plain[~unsure]).abs().max() > 1e-3
    # A batch where no face is unsure runs no mirror pass and keeps the plain logits.
    with torch.no_grad():
        none = ExportedClassifier(net, tta_flip=False, flip_below=1e-6)(x)
    assert torch.equal(none, plain)


def test_int8_export_with_the_mirror_pass_for_unsure_faces(tmp_path: Path) -> None:
    # What ships: the frozen int8 net, a second pass on the mirror image for unsure faces only.
    from training.recover import recover

    net = net_with_batchnorm_statistics(arch="s1w40")
    calibration = torch.rand(64, 1, 48, 48)
    plain = load_exported(export_torchscript(net, tmp_path / "p.pt", calibration=calibration))
    x = torch.rand(16, 1, 48, 48)
    with torch.no_grad():
        once, mirrored = plain(x), plain(torch.flip(x, dims=[3]))
    cut = float(once.softmax(1).amax(1).median())
    m = load_exported(export_torchscript(net, tmp_path / "f.pt", calibration=calibration, flip_below=cut))
    assert is_int8(m) and abs(m.mirror_pass_below() - cut) < 1e-6
    with torch.no_grad():
        got = m(x)
    unsure = once.softmax(1).amax(1) < cut
    assert 0 < int(unsure.sum()) < len(x)
    assert torch.allclose(got[unsure], (once[unsure] + mirrored[unsure]) / 2, atol=1e-5)
    assert torch.equal(got[~unsure], once[~unsure])
    # `training.recover` reads the net's first pass, as from a file without the mirror pass.
    images = torch.rand(64, 1, 48, 48)
    a, b = recover(plain, "s1w40", images), recover(m, "s1w40", images)
    for (name, va), vb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(va, vb), name


def test_int8_activations_keep_to_7_bits_so_avx2_kernels_cannot_saturate() -> None:
    # 128 levels over 0..2.55 is a scale of 0.02; full range (0.01) lost 7 points on AVX2.
    obs = int8_qconfig().activation()
    obs(torch.linspace(0.0, 2.55, 10_000))
    scale, zero_point = obs.calculate_qparams()
    assert abs(float(scale) - 0.02) < 2e-3 and int(zero_point) == 0
    weights = int8_qconfig().weight()
    weights(torch.randn(8, 4, 3, 3))
    assert weights.qscheme == torch.per_channel_symmetric and weights.dtype == torch.qint8


def test_metrics_definitions() -> None:
    labels = np.array([0, 0, 3, 5, 1])
    logits = np.eye(7)[[0, 3, 3, 5, 0]]
    r = report(labels, logits)
    assert r["n"] == 5 and abs(r["accuracy"] - 0.6) < 1e-9
    assert abs(r["per_class"]["angry"]["precision"] - 0.5) < 1e-9
    assert abs(r["macro_f1"] - (0.5 + 2 / 3 + 1) / 7) < 1e-9
    assert abs(r["accuracy_4class"] - 0.75) < 1e-9


def test_a_few_training_steps_then_export_and_resume(tiny_fer: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    out = tmp_path / "model.pt"
    args = ["--data", str(tiny_fer), "--epochs", "2", "--batch-size", "16", "--arch", "s2",
            "--run-dir", str(run), "--out", str(out), "--device", "cpu", "--max-steps", "3"]
    assert train_main(args) == 0
    log = (run / "log.csv").read_text().splitlines()
    assert log[0].startswith("epoch,") and len(log) == 2
    rep = json.loads((run / "private_test.json").read_text())
    assert rep["n"] == 21 and 0.0 <= rep["accuracy"] <= 1.0
    m = load_exported(out)
    assert m(torch.rand(1, 1, 48, 48)).shape == (1, 7)
    # --resume picks up after the last finished epoch.
    assert train_main(args[:-2] + ["--resume"]) == 0
    assert len((run / "log.csv").read_text().splitlines()) == 3


def test_export_epoch_last_takes_the_last_weights_not_the_best(tiny_fer: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    out = tmp_path / "model.pt"
    args = ["--data", str(tiny_fer), "--batch-size", "16", "--arch", "s2", "--run-dir", str(run),
            "--device", "cpu", "--max-steps", "1", "--quantize", "none"]
    assert train_main(args + ["--epochs", "1", "--no-export"]) == 0
    # A "best" epoch that is clearly not the last one: other weights, and a score epoch 2 cannot beat.
    torch.manual_seed(123)
    other = build_model("s2").eval()
    torch.save(other.state_dict(), run / "best.pt")
    ck = torch.load(run / "last.pt", weights_only=False)
    ck["best_acc"] = 2.0
    torch.save(ck, run / "last.pt")
    # Dumping the best epoch's logits on the way must not swap the best weights into the export.
    assert train_main(args + ["--epochs", "2", "--resume", "--export-epoch", "last", "--out", str(out),
                              "--dump-logits", str(tmp_path / "logits.npz")]) == 0
    assert (tmp_path / "logits.npz").is_file()
    last = build_model("s2")
    last.load_state_dict(torch.load(run / "last.pt", weights_only=False)["model"])
    x = torch.rand(4, 1, 48, 48)
    with torch.no_grad():
        got = load_exported(out)(x)
        want = ExportedClassifier(last.eval(), tta_flip=False)(x)
        best = ExportedClassifier(other, tta_flip=False)(x)
    assert torch.allclose(got, want, atol=1e-3)
    assert not torch.allclose(got, best, atol=1e-2)


def test_bf16_choice_and_a_bf16_step_on_the_cpu(tiny_fer: Path, tmp_path: Path) -> None:
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert use_bf16("on", cpu) and not use_bf16("off", cuda)
    assert use_bf16("auto", cuda)
    assert use_bf16("auto", cpu) == (torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    # Autocast only: the weights the run saves stay fp32, and the step logs a real loss.
    run = tmp_path / "run"
    args = ["--data", str(tiny_fer), "--epochs", "1", "--batch-size", "16", "--arch", "s2",
            "--run-dir", str(run), "--device", "cpu", "--max-steps", "2", "--no-export", "--bf16", "on"]
    assert train_main(args) == 0
    saved = torch.load(run / "best.pt")
    assert all(v.dtype == torch.float32 for v in saved.values() if v.is_floating_point())
    assert torch.isfinite(saved["fc.weight"]).all()
    rows = (run / "log.csv").read_text().splitlines()
    assert len(rows) == 2 and float(rows[1].split(",")[2]) > 0


def test_init_from_starts_at_the_given_fp16_weights(tiny_fer: Path, tmp_path: Path) -> None:
    # What comes back from the GPU machine is an fp16 state dict; training continues from it.
    torch.manual_seed(3)
    start = build_model("s2").eval()
    half = tmp_path / "start.pt"
    torch.save({k: v.half() if v.is_floating_point() else v for k, v in start.state_dict().items()}, half)
    run = tmp_path / "run"
    args = ["--data", str(tiny_fer), "--epochs", "1", "--batch-size", "16", "--arch", "s2",
            "--run-dir", str(run), "--device", "cpu", "--max-steps", "1", "--no-export",
            "--init-from", str(half), "--lr", "1e-9"]
    assert train_main(args) == 0
    trained = torch.load(run / "best.pt")
    w = "stem.0.weight"
    assert trained[w].dtype == torch.float32
    # One step at a negligible rate: still the given weights, not a fresh initialisation.
    assert torch.allclose(trained[w], start.state_dict()[w].half().float(), atol=1e-3)
    fresh = build_model("s2").state_dict()[w]
    assert not torch.allclose(trained[w], fresh, atol=1e-3)


def test_blur_estimate_recovers_a_known_blur() -> None:
    rng = np.random.default_rng(0)
    # Sharp synthetic "faces": smooth gradients plus edges.
    sharp = (rng.random((300, 48, 48)) * 255).astype(np.uint8)
    blurred = (fer.blur(fer.to_tensor(sharp), 2.0).squeeze(1).numpy() * 255).round().astype(np.uint8)
    assert fer.sharpness(blurred) < fer.sharpness(sharp) / 3
    sigma = fer.estimate_blur(blurred, sharp)
    assert 1.6 <= sigma <= 2.4, sigma
    # Train and validation alike: no blur.
    assert fer.estimate_blur(sharp, sharp) == 0.0


def test_exported_blur_matches_the_training_blur(tmp_path: Path) -> None:
    net = build_model("s2").eval()
    x = torch.rand(3, 1, 48, 48)
    with torch.no_grad():
        want = ExportedClassifier(net, tta_flip=False)(fer.blur(x, 3.0))
        got = ExportedClassifier(net, tta_flip=False, blur_sigma=3.0)(x)
    assert torch.allclose(want, got, atol=1e-5)
    m = load_exported(export_torchscript(net, tmp_path / "b.pt", blur_sigma=3.0))
    assert abs(m.input_blur_sigma() - 3.0) < 1e-6
    with torch.no_grad():
        assert torch.allclose(m(x), got, atol=5e-2)


def _tarball(path: Path, value: int, mtime: int) -> None:
    """A FER-shaped tarball whose one train image is flat `value` grey."""
    import os
    import tarfile

    src = path.parent / f"src{value}"
    img_dir = src / "fer2013" / "train" / "angry"
    img_dir.mkdir(parents=True)
    Image.fromarray(np.full((48, 48), value, np.uint8), "L").save(img_dir / "Training_1.png")
    (src / "fer2013" / "test").mkdir()
    with tarfile.open(path, "w:gz") as tar:
        tar.add(src / "fer2013", arcname="fer2013")
    os.utime(path, (mtime, mtime))


def test_a_replaced_tarball_is_unpacked_again(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    tarball = tmp_path / "fer2013.tar.gz"
    _tarball(tarball, 10, 1_000_000)
    first = fer.unpack_cached(tarball, cache)
    img = first / "train" / "angry" / "Training_1.png"
    assert np.asarray(Image.open(img)).max() == 10
    assert fer.unpack_cached(tarball, cache) == first  # unchanged: reused
    # Version 2 under the same file names: the cache must notice, not keep the old images.
    tarball.unlink()
    _tarball(tarball, 200, 2_000_000)
    second = fer.unpack_cached(tarball, cache)
    assert second == first
    assert np.asarray(Image.open(img)).max() == 200
    assert not [p for p in cache.iterdir() if p.name.startswith(".fer2013-")], "no temp left"


def test_npz_cache_notices_new_images_under_the_same_names(tiny_fer: Path) -> None:
    before = fer.load_split(tiny_fer, "PublicTest")
    p = Path(before.paths[0])
    Image.fromarray(np.full((48, 48), 255, np.uint8), "L").save(p, quality=100)
    after = fer.load_split(tiny_fer, "PublicTest")
    assert after.images[0].min() > 240
    assert not np.array_equal(after.images[0], before.images[0])


def test_a_blurred_train_set_is_refused_unless_blur_is_asked_for(
    tiny_fer: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from PIL import ImageFilter

    for p in (tiny_fer / "train").rglob("*.jpg"):
        Image.open(p).filter(ImageFilter.GaussianBlur(3)).save(p)
    args = ["--data", str(tiny_fer), "--epochs", "1", "--batch-size", "16", "--run-dir",
            str(tmp_path / "run"), "--out", str(tmp_path / "m.pt"), "--device", "cpu",
            "--max-steps", "1", "--quantize", "none"]
    assert train_main(args) == 2
    err = capsys.readouterr().err
    assert "not equally sharp" in err and "--input-blur" in err
    # Asked for explicitly, it trains (and bakes the matching blur into the export).
    assert train_main(args + ["--input-blur", "auto"]) == 0
    assert load_exported(tmp_path / "m.pt").input_blur_sigma() > 0


def test_fast_attention_computes_the_same_net() -> None:
    from training.export import FastChannelAttention, FastSpatialAttention, fast_attention

    torch.manual_seed(0)
    net = build_model("s2").eval()
    fast = fast_attention(net)
    kinds = {type(m) for m in fast.modules()}
    assert FastChannelAttention in kinds and FastSpatialAttention in kinds
    x = torch.rand(3, 1, 48, 48)
    with torch.no_grad():
        assert torch.allclose(net(x), fast(x), atol=1e-4)
    # Scripted inside the export as well.
    scripted = torch.jit.script(ExportedClassifier(fast, tta_flip=True))
    with torch.no_grad():
        assert torch.allclose(scripted(x), ExportedClassifier(net, tta_flip=True)(x), atol=1e-4)


@pytest.mark.parametrize("channels,side", [(64, 24), (64, 12), (128, 6), (256, 3), (512, 2)])
def test_fast_gates_match_cbam_and_give_their_weights_back(channels: int, side: int) -> None:
    from training.export import (
        FastChannelAttention,
        FastSpatialAttention,
        channel_mlp_weights,
        spatial_kernel,
    )
    from training.model import ChannelAttention, SpatialAttention

    torch.manual_seed(side)
    ca, sa = ChannelAttention(channels), SpatialAttention()
    for p in list(ca.parameters()) + list(sa.parameters()):
        torch.nn.init.normal_(p, std=0.2)
    fast_ca = FastChannelAttention(ca, side * side)
    fast_sa = FastSpatialAttention(sa, channels, side, side)
    assert fast_sa.dense == (side <= 16)
    x = torch.randn(3, channels, side, side)
    with torch.no_grad():
        assert torch.allclose(fast_ca(x), ca(x), atol=1e-5)
        assert torch.allclose(fast_sa(x), sa(x), atol=1e-5)
    w1, w2 = channel_mlp_weights(fast_ca.w1, fast_ca.w2)
    assert torch.allclose(w1, ca.mlp[0].weight.flatten(1), atol=1e-6)
    assert torch.allclose(w2, ca.mlp[2].weight.flatten(1), atol=1e-6)
    # Every tap the map is big enough to reach comes back (the rest never mattered).
    r = min(3, side - 1)
    reach = (..., slice(3 - r, 4 + r), slice(3 - r, 4 + r))
    assert torch.allclose(spatial_kernel(fast_sa.weight, channels)[reach], sa.conv.weight[reach], atol=1e-5)


def test_int8_export_keeps_conv1_to_conv2_and_the_pool_in_uint8(tmp_path: Path) -> None:
    net = net_with_batchnorm_statistics()
    m = load_exported(export_torchscript(net, tmp_path / "m.pt", calibration=torch.rand(64, 1, 48, 48)))
    graph = str(m.inlined_graph)
    # The stem and every block's conv1 carry their ReLU (9 fused convs); float is left only
    # for CBAM and the residual sums: 8 block ends, 3 shortcut convs, the pooled stem, the head.
    assert graph.count("quantized::conv2d_relu") == 9
    assert graph.count("aten::dequantize") == 13
    assert "aten::max_pool2d_with_indices" not in graph


def test_distillation_loss_and_cutmix() -> None:
    from training.distil import distill
    from training.train import cutmix

    logits = torch.randn(8, 7)
    assert distill(logits, logits, 4.0).abs().item() < 1e-5
    assert distill(logits, torch.randn(8, 7), 4.0).item() > 0
    x = torch.arange(2 * 48 * 48, dtype=torch.float32).view(2, 1, 48, 48)
    mixed, perm, lam = cutmix(x, random.Random(3))
    assert perm.sort().values.tolist() == [0, 1]
    swapped = [i for i in range(2) if perm[i] != i]
    assert swapped, "this seed pairs the two images"
    for i in swapped:
        # `lam` is exactly the share of the image that stayed its own; the rest is the partner's.
        kept = (mixed[i] == x[i]).float().mean().item()
        assert abs(kept - lam) < 1e-6 and 0.0 < lam < 1.0
        assert torch.equal(mixed[i][mixed[i] != x[i]], x[perm[i]][mixed[i] != x[i]])


def test_teacher_logits_must_cover_the_train_images(tiny_fer: Path, tmp_path: Path) -> None:
    from training.distil import load_teacher

    train = fer.load_split(tiny_fer, "train")
    names = np.array([Path(p).name for p in train.paths])
    good = tmp_path / "good.npz"
    rows = np.random.default_rng(0).standard_normal((len(train), 7)).astype(np.float32)
    # Stored in another order: matched by name, not by position.
    np.savez(good, train_names=names[::-1], train=rows[::-1])
    assert np.allclose(load_teacher(good, train), rows)
    short = tmp_path / "short.npz"
    np.savez(short, train_names=names[1:], train=rows[1:])
    with pytest.raises(SystemExit, match="no teacher logits for 1 train/ images"):
        load_teacher(short, train)


def test_the_recipe_runs_teachers_ensemble_student_and_export(
    tiny_fer: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from training.recipe import main as recipe_main

    work, out = tmp_path / "work", tmp_path / "model.pt"
    args = ["all", "--data", str(tiny_fer), "--work", str(work), "--out", str(out),
            "--teacher-seeds", "1", "2", "--student-seeds", "5", "6", "--student-parallel", "1",
            "--teacher-epochs", "1", "--student-epochs", "1", "--polish-epochs", "1",
            "--train-arg=--batch-size", "--train-arg=16",
            "--train-arg=--device", "--train-arg=cpu", "--train-arg=--threads", "--train-arg=1"]
    assert recipe_main(args) == 0
    for seed in (5, 6):
        assert (work / f"student-{SHIPPED_ARCH}-kd-seed{seed}" / "log.csv").is_file()
    # Polish: the best student, taught online by both teachers' nets, at its own peak rate.
    best = (work / "best_student.txt").read_text().strip()
    started = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("started polish:")]
    assert len(started) == 1
    cmd = started[0].split()
    assert cmd[cmd.index("--init-from") + 1] == str(work / best / "best.pt")
    assert cmd[cmd.index("--lr") + 1] == "0.006" and cmd[cmd.index("--seed") + 1] == best[-1]
    teachers = [a for a in cmd if a.startswith("s1:")]
    assert teachers == [f"s1:{work / f'teacher-s1-seed{s}' / 'best.pt'}" for s in (1, 2)]
    assert (work / "polish" / "log.csv").is_file()
    z = np.load(work / "teachers.npz")
    t1, t2 = (np.load(work / f"teacher-s1-seed{s}" / "logits.npz") for s in (1, 2))
    assert np.allclose(z["train"], (t1["train"] + t2["train"]) / 2, atol=1e-6)
    assert z["train"].shape == (84, 7) and z["PrivateTest"].shape == (21, 7)
    scores = json.loads((work / "teachers.json").read_text())
    assert 0.0 <= scores["PublicTest"] <= 1.0
    assert best in (f"student-{SHIPPED_ARCH}-kd-seed5", f"student-{SHIPPED_ARCH}-kd-seed6")
    assert load_exported(out)(torch.rand(2, 1, 48, 48)).shape == (2, 7)
    assert json.loads((tmp_path / "metrics.json").read_text())["n"] == 21


@pytest.mark.parametrize(
    "arch,int8", [("s2", False), ("s2", True), ("s1", True), ("s1w48", True), ("s1w40", True)]
)
def test_recovered_weights_compute_the_exported_net(tmp_path: Path, arch: str, int8: bool) -> None:
    from training.recover import recover

    net = net_with_batchnorm_statistics(arch=arch)
    calibration = torch.rand(64, 1, 48, 48) if int8 else None
    exported = load_exported(export_torchscript(net, tmp_path / "m.pt", calibration=calibration))
    # The int8 export is frozen (weights are graph constants), the float one keeps its modules.
    assert hasattr(exported, "net") != int8
    back = recover(exported, arch, torch.rand(64, 1, 48, 48)).eval()
    x = torch.rand(32, 1, 48, 48)
    with torch.no_grad():
        want = ExportedClassifier(net, tta_flip=False)(x)
        got = ExportedClassifier(back, tta_flip=False)(x)
    # fp16 storage: the same function; int8: the dequantized weights, within the int8 error.
    err = (got - want).abs().mean() / want.std()
    assert err < (0.1 if int8 else 0.01), err
    # Train mode's batch statistics land near the same function (BN rebuilt from measurements).
    bn = back.layers[1][0].bn1
    assert not torch.allclose(bn.running_var, torch.ones_like(bn.running_var))
    assert torch.allclose(bn.weight, torch.sqrt(bn.running_var + bn.eps))


def test_recover_still_reads_exports_made_before_the_faster_gates(tmp_path: Path) -> None:
    """The first FER-2013 models (still in git history) have the gates of their day: two
    linears and the flattened 7x7 kernel, unfrozen. Rebuilt here as they were exported."""
    from torch import nn

    from training.export import fold_batchnorm
    from training.model import ChannelAttention, SpatialAttention
    from training.recover import recover

    class OldChannel(nn.Module):
        def __init__(self, ca: ChannelAttention) -> None:
            super().__init__()
            first, last = ca.mlp[0], ca.mlp[2]
            self.lin1 = nn.Linear(first.in_channels, first.out_channels, bias=False)
            self.lin2 = nn.Linear(last.in_channels, last.out_channels, bias=False)
            self.lin1.weight = nn.Parameter(first.weight.detach().flatten(1).clone())
            self.lin2.weight = nn.Parameter(last.weight.detach().flatten(1).clone())

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            pooled = torch.cat([x.mean((2, 3)), x.amax((2, 3))], 0)
            avg, mx = torch.chunk(self.lin2(torch.relu(self.lin1(pooled))), 2, 0)
            return x * torch.sigmoid(avg + mx).unsqueeze(-1).unsqueeze(-1)

    class OldSpatial(nn.Module):
        def __init__(self, sa: SpatialAttention) -> None:
            super().__init__()
            self.weight = nn.Parameter(sa.conv.weight.detach().flatten(1).clone())

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            s = torch.cat([x.mean(1, keepdim=True), x.amax(1, keepdim=True)], 1)
            cols = nn.functional.unfold(s, 7, padding=3)
            return x * torch.sigmoid(torch.matmul(self.weight, cols).view_as(s[:, :1]))

    net = net_with_batchnorm_statistics()
    for p in net.parameters():
        if p.dim() > 1:
            p.data.normal_(0, 0.05)  # weights the gates visibly depend on
    old = fold_batchnorm(net)
    for m in old.modules():
        for name, child in m.named_children():
            if isinstance(child, ChannelAttention):
                setattr(m, name, OldChannel(child))
            elif isinstance(child, SpatialAttention):
                setattr(m, name, OldSpatial(child))
    torch.jit.script(ExportedClassifier(old, tta_flip=False).eval()).save(str(tmp_path / "old.pt"))
    exported = load_exported(tmp_path / "old.pt")
    back = recover(exported, "s2", torch.rand(64, 1, 48, 48)).eval()
    for (name, a), b in zip(net.state_dict().items(), back.state_dict().values()):
        if "cbam" in name:
            assert torch.allclose(a, b, atol=1e-6), name
    x = torch.rand(8, 1, 48, 48)
    with torch.no_grad():
        assert torch.allclose(ExportedClassifier(back, tta_flip=False)(x), exported(x), atol=1e-4)


def test_freeze_bn_keeps_the_statistics(tiny_fer: Path, tmp_path: Path) -> None:
    torch.manual_seed(5)
    start = tmp_path / "start.pt"
    torch.save(build_model("s2").state_dict(), start)
    run = tmp_path / "run"
    args = ["--data", str(tiny_fer), "--epochs", "1", "--batch-size", "16", "--arch", "s2",
            "--run-dir", str(run), "--device", "cpu", "--max-steps", "2", "--no-export",
            "--init-from", str(start), "--lr", "0.05"]
    assert train_main(args + ["--freeze-bn"]) == 0
    before, after = torch.load(start), torch.load(run / "best.pt")
    key = "layers.0.0.bn1.running_mean"
    assert torch.equal(after[key], before[key])
    # The weights did train.
    assert not torch.allclose(after["stem.0.weight"], before["stem.0.weight"])
    assert train_main(args + ["--run-dir", str(tmp_path / "run2")]) == 0
    assert not torch.equal(torch.load(tmp_path / "run2" / "best.pt")[key], before[key])


def test_online_teachers_are_asked_on_the_student_s_own_batch(tiny_fer: Path, tmp_path: Path) -> None:
    from training.distil import ensemble_logits, load_teacher_net

    torch.manual_seed(5)
    a, b = build_model("s2").eval(), build_model("s1").eval()
    pa, pb = tmp_path / "a.pt", tmp_path / "b.pt"
    torch.save({k: v.half() if v.is_floating_point() else v for k, v in a.state_dict().items()}, pa)
    torch.save({"model": b.state_dict()}, pb)
    nets = [load_teacher_net(f"s2:{pa}", 0.3, torch.device("cpu")),
            load_teacher_net(f"s1:{pb}", 0.3, torch.device("cpu"))]
    assert all(not w.requires_grad for n in nets for w in n.parameters())
    x = torch.rand(4, 1, 48, 48)
    with torch.no_grad():
        want = (a(x) + b(x)) / 2
    assert torch.allclose(ensemble_logits(nets, x), want, atol=2e-2)
    # Not weights, unknown arch, missing file: each named, no traceback. (s1 and s2 weights have
    # the same shapes, strides are not stored: the ARCH is the caller's word.)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(SystemExit, match="not s1 weights"):
        load_teacher_net(f"s1:{junk}", 0.3, torch.device("cpu"))
    torch.save({"fc.weight": torch.zeros(7, 512)}, junk)
    with pytest.raises(SystemExit, match="not s2 weights"):
        load_teacher_net(f"s2:{junk}", 0.3, torch.device("cpu"))
    with pytest.raises(SystemExit, match="ARCH one of s1, s2, s2np"):
        load_teacher_net(f"vgg:{pa}", 0.3, torch.device("cpu"))
    with pytest.raises(SystemExit, match="no file"):
        load_teacher_net(f"s2:{tmp_path / 'none.pt'}", 0.3, torch.device("cpu"))
    # A short run distils from them; --kd and --kd-net together are refused.
    run = tmp_path / "run"
    args = ["--data", str(tiny_fer), "--epochs", "1", "--batch-size", "16", "--arch", "s2",
            "--run-dir", str(run), "--device", "cpu", "--max-steps", "2", "--no-export",
            "--cutmix", "1", "--kd-net", f"s2:{pa}", "--kd-net", f"s1:{pb}"]
    assert train_main(args) == 0
    rows = (run / "log.csv").read_text().splitlines()
    assert len(rows) == 2 and float(rows[1].split(",")[2]) > 0
    assert train_main(args + ["--kd", str(tmp_path / "t.npz")]) == 2


def test_the_makefile_trains_and_recovers_the_net_that_ships() -> None:
    # `make train` passes --arch itself; it must name the net that ships.
    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text()
    assert f"SHIPPED_ARCH = {SHIPPED_ARCH}\n" in makefile


def _makefile_train_commands() -> list[list[str]]:
    """`make train`'s `python -m training.train` command lines, with the Makefile's variables
    filled in (paths made up; DATA and ARGS empty)."""
    import shlex

    text = (Path(__file__).resolve().parents[2] / "Makefile").read_text().replace("\\\n", " ")
    common = next(ln for ln in text.splitlines() if ln.startswith("TRAIN_COMMON =")).split("=", 1)[1]
    cmds = []
    for line in text.splitlines():
        if "-m training.train " not in line:
            continue
        cmd = line.split("-m training.train ", 1)[1].replace("$(TRAIN_COMMON)", common)
        for var, value in (("$(if $(DATA),--data $(DATA))", ""), ("$(ARGS)", ""),
                           ("$(SHIPPED_ARCH)", SHIPPED_ARCH), ("$(TRAIN_RUN)", "/run")):
            cmd = cmd.replace(var, value)
        assert "$(" not in cmd, cmd
        cmds.append(shlex.split(cmd))
    return cmds


def test_the_makefile_s_training_commands_still_parse() -> None:
    # The split moved the options to training.options: `make train`'s flags must mean the same.
    from training.options import parse_args

    cmds = _makefile_train_commands()
    # One cycle from the previous file (recovered), BatchNorm's statistics trained, the mirror
    # pass for unsure faces in the export (models/MODEL_CARD.md).
    assert len(cmds) == 1
    a = parse_args(cmds[0])
    assert (a.arch, a.labels, a.freeze_bn, a.cutmix, a.bf16, a.threads, a.resume) == (
        SHIPPED_ARCH, "ferplus", False, 0.5, "auto", 0, True)
    assert (a.lr, a.epochs, a.seed, a.quantize, a.export_epoch, a.flip_below) == (
        0.01, 10, 71, "int8", "best", 0.6)
    assert a.init_from is not None and a.run_dir is not None and a.out is not None


def test_python_m_training_train_runs_a_few_steps_and_keeps_the_checkpoint_format(
    tiny_fer: Path, tmp_path: Path
) -> None:
    # The command line itself (as `make train` and the recipe start it), in a process of its own.
    import os
    import subprocess
    import sys

    run = tmp_path / "run"
    repo = Path(__file__).resolve().parents[2]
    cmd = [sys.executable, "-m", "training.train", "--data", str(tiny_fer), "--limit", "64",
           "--max-steps", "2", "--no-export", "--epochs", "1", "--batch-size", "16", "--arch", "s2",
           "--device", "cpu", "--threads", "1", "--run-dir", str(run)]
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"))
    done = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    rows = (run / "log.csv").read_text().splitlines()
    assert rows[0] == "epoch,lr,train_loss,train_acc,val_loss,val_acc,seconds,img_per_s" and len(rows) == 2
    # last.pt keeps the keys it had before the split, so --resume continues older runs.
    ck = torch.load(run / "last.pt", weights_only=False)
    assert set(ck) == {"model", "opt", "sched", "epoch", "best_acc", "rng", "args"}
    assert ck["epoch"] == 0 and ck["args"]["epochs"] == 1
    assert ck["model"].keys() == torch.load(run / "best.pt").keys()
    assert not (run / "private_test.json").exists()


def test_temperature_folds_into_the_last_layer_and_calibration_images_are_fixed() -> None:
    from training.export import calibration_images, fold_temperature

    net = net_with_batchnorm_statistics()
    x = torch.rand(32, 1, 48, 48)
    with torch.no_grad():
        before = ExportedClassifier(net, tta_flip=False)(x)
    # Votes that are the softmax of half the logits: T = 2 undoes it.
    targets = torch.softmax(before / 2, 1).numpy()
    t = fold_temperature(net, before.numpy(), targets)
    assert abs(t - 2.0) < 0.1
    with torch.no_grad():
        after = ExportedClassifier(net, tta_flip=False)(x)
    assert torch.allclose(after, before / t, atol=1e-4)
    images = (np.random.default_rng(1).random((50, 48, 48)) * 255).astype(np.uint8)
    a, b = calibration_images(images, 10, 7), calibration_images(images, 10, 7)
    assert a.shape == (10, 1, 48, 48) and torch.equal(a, b)
    assert not torch.equal(a, calibration_images(images, 10, 8))
