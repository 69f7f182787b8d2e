"""The GPU-machine stages: what they return fits the device tool's limits and loads back here."""

from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np
import torch

from training.device import MAX_FILES, PART_BYTES, fp16_parts, join_parts, main, save_parts
from training.distil import load_teacher_net
from training.model import SHIPPED_ARCH, build_model, load_weights
from training.tests.test_training import tiny_fer  # noqa: F401  (fixture)


def test_a_student_comes_back_in_parts_under_the_file_limit_and_loads(tmp_path: Path) -> None:
    net = build_model("s2")
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-1, 1)
    state = net.state_dict()
    files = save_parts(state, tmp_path, "student")
    # 11.2 M parameters in fp16 (22 MB) cannot be one file of the tool's 16 MiB.
    assert len(files) >= 2
    assert all(f.stat().st_size <= 16 * 2**20 for f in files)
    joined = join_parts(tmp_path)
    assert joined.keys() == state.keys()
    back = build_model("s2")
    torch.save(joined, tmp_path / "ck.pt")
    load_weights(back, tmp_path / "ck.pt", torch.device("cpu"))
    for k, v in back.state_dict().items():
        want = state[k].half().float() if state[k].is_floating_point() else state[k]
        assert torch.equal(v, want), k


def test_parts_refuse_a_tensor_larger_than_one_part() -> None:
    try:
        fp16_parts({"w": torch.zeros(PART_BYTES)})  # fp16: 2 bytes each
    except SystemExit as e:
        assert "w:" in str(e)
    else:
        raise AssertionError("a tensor over the part size must be refused")


def _tarball(fer: Path, tmp_path: Path) -> Path:
    """The tiny data set packed like the shared tarball, as the device stages read it."""
    tarball = tmp_path / "fer2013.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(fer, arcname="fer2013")
    return tarball


def test_teachers_then_students_return_what_the_next_step_needs(
    tiny_fer: Path, tmp_path: Path  # noqa: F811
) -> None:
    tarball = _tarball(tiny_fer, tmp_path)
    common = ["--tarball", str(tarball), "--work", str(tmp_path / "dev" / "work"), "--epochs", "1",
              "--budget", "0", "--train-arg=--batch-size", "--train-arg=16",
              "--train-arg=--device", "--train-arg=cpu", "--train-arg=--threads", "--train-arg=1"]
    out1 = tmp_path / "out1"
    assert main(["teachers", "--seeds", "1", "2", "--out-dir", str(out1), "--return-teachers", "1",
                 *common]) == 0
    back = sorted(p.name for p in out1.iterdir())
    assert [n for n in back if not n.startswith("teacher1.part")] == [
        "log-teachers.csv", "teachers.json", "teachers.npz"]
    # The first teacher's net came back in parts and loads as an s1 teacher for online KD here.
    assert main(["join", str(out1), "--stem", "teacher1", "--out", str(tmp_path / "t1.pt")]) == 0
    load_teacher_net(f"s1:{tmp_path / 't1.pt'}", 0.3, torch.device("cpu"))
    logs = (out1 / "log-teachers.csv").read_text().splitlines()
    assert logs[0].startswith("seed,epoch,") and {r.split(",")[0] for r in logs[1:]} == {"1", "2"}
    assert np.load(out1 / "teachers.npz")["train"].shape == (84, 7)
    # The next call starts on a fresh machine: only the returned teachers.npz travels.
    carried = tmp_path / "carried.npz"
    (out1 / "teachers.npz").rename(carried)
    fresh = list(common)
    fresh[fresh.index("--work") + 1] = str(tmp_path / "dev2" / "work")
    out2 = tmp_path / "out2"
    assert main(["students", "--seeds", "5", "--teachers", str(carried), "--out-dir", str(out2),
                 *fresh]) == 0
    names = sorted(p.name for p in out2.iterdir())
    assert len(names) <= MAX_FILES
    best = (out2 / "best_student.txt").read_text().strip()
    assert "log-student.csv" in names and best == f"student-{SHIPPED_ARCH}-kd-seed5"
    assert all((out2 / n).stat().st_size <= 16 * 2**20 for n in names)
    # Joined here, the weights load into the shipped net's shape (the default student).
    assert main(["join", str(out2), "--out", str(tmp_path / "student.pt")]) == 0
    load_weights(build_model(SHIPPED_ARCH), tmp_path / "student.pt", torch.device("cpu"))


def _dump(path: Path, rng: np.random.Generator, names: list[str]) -> dict[str, np.ndarray]:
    arrays = {"train_names": np.array(names)}
    for split, n in (("train", len(names)), ("PublicTest", 5), ("PrivateTest", 5)):
        arrays[split] = rng.normal(size=(n, 7)).astype(np.float32)
        arrays[f"{split}_labels"] = rng.integers(0, 7, n)
    np.savez(path, **arrays)
    return arrays


def test_merge_weights_teachers_by_the_nets_they_average(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    names = [f"Training_{i}.jpg" for i in range(6)]
    a = _dump(tmp_path / "a.npz", rng, names)
    b = _dump(tmp_path / "b.npz", rng, names)
    out = tmp_path / "teachers.npz"
    assert main(["merge", str(tmp_path / "a.npz"), str(tmp_path / "b.npz"), "--weights", "3", "1",
                 "--out", str(out)]) == 0
    z = np.load(out)
    assert np.allclose(z["train"], 0.75 * a["train"] + 0.25 * b["train"], atol=1e-6)
    assert list(z["train_names"]) == names
    # Logits of other images (another copy of the data) are refused, not averaged.
    _dump(tmp_path / "c.npz", rng, [f"Training_{i}.jpg" for i in range(1, 7)])
    try:
        main(["merge", str(tmp_path / "a.npz"), str(tmp_path / "c.npz"), "--out", str(out)])
    except SystemExit as e:
        assert "other train/ images" in str(e)
    else:
        raise AssertionError("mismatched dumps must be refused")


def test_students_can_start_from_the_shipped_file_recovered_on_the_device(
    tiny_fer: Path, tmp_path: Path  # noqa: F811
) -> None:
    from training import recover

    tarball = _tarball(tiny_fer, tmp_path)
    rng = np.random.default_rng(2)
    names = sorted(p.name for p in (tiny_fer / "train").rglob("*.*"))
    _dump(tmp_path / "teachers.npz", rng, names)
    shipped = Path(__file__).resolve().parents[2] / "models" / "emotion_resnet18_cbam.pt"
    out = tmp_path / "out"
    # A learning rate of 0 and frozen BatchNorm: what comes back is the starting point itself.
    assert main(["students", "--seeds", "5", "--teachers", str(tmp_path / "teachers.npz"),
                 "--tarball", str(tarball), "--work", str(tmp_path / "dev" / "work"),
                 "--epochs", "1", "--budget", "0", "--out-dir", str(out),
                 "--init-export", str(shipped), "--train-arg=--lr=0",
                 "--train-arg=--batch-size=16", "--train-arg=--device=cpu",
                 "--train-arg=--threads=1"]) == 0
    back = join_parts(out)
    # The last epoch comes back too when it fits (one fp16 part for the shipped s1w40).
    assert torch.equal(join_parts(out, "last")["fc.weight"], back["fc.weight"])
    ref = tmp_path / "ref.pt"
    data = tmp_path / "dev" / "data" / "fer2013"
    assert recover.main([str(shipped), str(ref), "--data", str(data)]) == 0
    want = torch.load(ref, weights_only=True)
    assert back.keys() == want.keys()
    for k, v in want.items():
        expect = v.half() if v.is_floating_point() else v
        assert torch.equal(back[k], expect), k


def test_distil_teaches_the_students_online_in_the_same_call(
    tiny_fer: Path, tmp_path: Path  # noqa: F811
) -> None:
    tarball = _tarball(tiny_fer, tmp_path)
    work = tmp_path / "dev" / "work"
    out = tmp_path / "out"
    assert main(["distil", "--tarball", str(tarball), "--work", str(work), "--out-dir", str(out),
                 "--teacher-seeds", "1", "2", "--seeds", "5", "--epochs", "1",
                 "--teacher-epochs", "1", "--teacher-budget", "0", "--budget", "0",
                 "--student-arch", "s2", "--train-arg=--batch-size=16", "--train-arg=--device=cpu",
                 "--train-arg=--threads=1"]) == 0
    names = sorted(p.name for p in out.iterdir())
    # An s2 student is two parts: its last epoch's two more would make 9 files, so they stay.
    assert len(names) <= MAX_FILES and not any(n.startswith("last.part") for n in names)
    assert {"teachers.npz", "log-teachers.csv", "log-student.csv", "best_student.txt"} <= set(names)
    # The student asked both teacher nets on its batches; no stored logits were its targets.
    ck = torch.load(work / "student-s2-kd-seed5" / "last.pt", weights_only=False)
    assert ck["args"]["kd"] is None
    assert ck["args"]["kd_net"] == [f"s1:{work}/teacher-s1-seed{s}/best.pt" for s in (1, 2)]
    assert main(["join", str(out), "--out", str(tmp_path / "student.pt")]) == 0
    load_weights(build_model("s2"), tmp_path / "student.pt", torch.device("cpu"))
