"""TorchScript files that load but break the model contract, fed to the Rust binary.

The Rust tests cover missing, truncated and non-TorchScript files; these need torch to write.
Each must be refused with a message naming the file and the broken part: exit code 1, no panic.
Runs after `cargo test` has built target/release/emotune (as `make test` does).
"""

import subprocess
from pathlib import Path
from typing import List

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
BINARY = REPO / "target" / "release" / "emotune"
PHOTO = REPO / "tests" / "fixtures" / "astronaut.png"
NAMES = ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]


class Fake(torch.nn.Module):
    def __init__(self, names: List[str], size: int, outputs: int):
        super().__init__()
        self.names = names
        self.size = size
        self.outputs = outputs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros(x.shape[0], self.outputs)

    @torch.jit.export
    def class_names(self) -> List[str]:
        return self.names

    @torch.jit.export
    def input_size(self) -> int:
        return self.size


class NoMetadata(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros(x.shape[0], 7)


CASES = {
    "wrong-order.pt": (Fake(sorted(NAMES, reverse=True), 48, 7), "class_names()"),
    "wrong-size.pt": (Fake(NAMES, 64, 7), "input_size()"),
    "five-classes.pt": (Fake(NAMES, 48, 5), "shape"),
    "no-metadata.pt": (NoMetadata(), "class_names()"),
}


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")
@pytest.mark.skipif(not BINARY.exists(), reason="build the binary first (cargo test --release)")
@pytest.mark.parametrize("name", sorted(CASES))
def test_contract_breaking_models_are_refused(tmp_path, name):
    module, part = CASES[name]
    path = tmp_path / name
    torch.jit.script(module).save(str(path))
    run = subprocess.run(
        [str(BINARY), "--model", str(path), "classify", str(PHOTO)],
        capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 1, run.stderr
    assert "panicked" not in run.stderr
    assert name in run.stderr and part in run.stderr, run.stderr
    print(f"| model `{name}` | exit 1: {run.stderr.strip().splitlines()[0][:140]} |")
