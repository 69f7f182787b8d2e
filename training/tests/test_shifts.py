"""training.shifts: the camera conditions and the CLI's handling of a bad model file."""

from pathlib import Path

import numpy as np
import pytest

from training import shifts


def test_every_condition_changes_the_faces_but_clean() -> None:
    rng = np.random.default_rng(3)
    faces = rng.integers(40, 216, (4, 48, 48)).astype(np.uint8)
    out = shifts.conditions(faces)
    assert out["clean"] is faces
    assert shifts.TRAINED < set(out)
    for name, images in out.items():
        assert images.shape == faces.shape and images.dtype == np.uint8, name
        if name != "clean":
            assert not np.array_equal(images, faces), name


def test_a_file_that_is_not_a_model_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "notes.pt"
    bad.write_text("not a model")
    assert shifts.main([str(bad)]) == 2
    assert "notes.pt: not an exported emotion model" in capsys.readouterr().err
