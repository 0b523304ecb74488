"""The static gate inside `make test`: each tool checks the repository from its root, configured by
pyproject.toml, and anything it reports fails the run with its own report. A tool is one line of GATE."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # the virtualenv's scripts: `make install` puts the tools there

GATE = [  # (name, command): the command's first word is an executable in BIN
    ("ruff", ["ruff", "check", "--no-cache", "--output-format", "concise"]),
    ("mypy", ["mypy"]),  # its incremental cache (.mypy_cache, self-ignored by git) makes reruns fast
]


@pytest.mark.parametrize("command", [c for _, c in GATE], ids=[n for n, _ in GATE])
def test_gate_passes(command):
    exe = BIN / command[0]
    assert exe.is_file(), f"{exe} is missing: `make install` installs it from requirements-dev.txt"
    run = subprocess.run([str(exe), *command[1:]], cwd=ROOT, capture_output=True, text=True, timeout=900,
                         check=False)
    if run.returncode != 0:
        pytest.fail(f"`{' '.join(command)}` found problems:\n{run.stdout}{run.stderr}", pytrace=False)
