"""The shape of the code is checked with the tests, so CI fails on a lint error, a format
drift, a type error or an import against the layers (pyproject.toml holds each tool's
settings; docs/architecture.md explains the layers)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def run(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    executable = BIN / tool
    if not executable.exists():
        found = shutil.which(tool)
        if found is None:
            pytest.fail(f"{tool} is not installed: pip install -e '.[test]' brings it")
        executable = Path(found)
    return subprocess.run(
        [str(executable), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "NO_COLOR": "1"},
        check=False,
    )


@pytest.mark.parametrize(
    "command",
    [
        ("ruff", "check", "src", "tests", "bench"),
        ("ruff", "format", "--check", "src", "tests", "bench"),
        ("mypy",),  # strict outside the sandbox: [tool.mypy] in pyproject.toml
        ("lint-imports",),
    ],
    ids=["ruff-check", "ruff-format", "mypy", "import-layers"],
)
def test_the_code_keeps_its_shape(command: tuple[str, ...]) -> None:
    result = run(*command)
    assert result.returncode == 0, f"{' '.join(command)}:\n{result.stdout}\n{result.stderr}"
