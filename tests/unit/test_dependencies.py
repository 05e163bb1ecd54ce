"""The dependency bounds hold: constraints.txt pins every runtime dependency inside the range
pyproject.toml allows, and no range admits a release with a known vulnerability."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
# Releases below these carry known vulnerabilities (see the comment in pyproject.toml).
FIXED_IN = {"requests": "2.32.4", "pillow": "11.3", "urllib3": "2.5", "h11": "0.16"}


def requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(line) for line in project["dependencies"]]


def pins() -> dict[str, Version]:
    lines = (ROOT / "constraints.txt").read_text().splitlines()
    pairs = [line.split("==") for line in lines if line and not line.startswith("#")]
    return {canonicalize_name(name): Version(version) for name, version in pairs}


def test_every_runtime_dependency_has_an_upper_bound() -> None:
    for requirement in requirements():
        assert any(spec.operator in ("<", "<=", "~=", "==") for spec in requirement.specifier), (
            requirement
        )


def test_constraints_pin_every_dependency_inside_its_range() -> None:
    pinned = pins()
    for requirement in requirements():
        version = pinned[canonicalize_name(requirement.name)]
        assert requirement.specifier.contains(version), (requirement, version)


def test_no_range_admits_a_vulnerable_release() -> None:
    by_name = {canonicalize_name(r.name): r for r in requirements()}
    for name, fixed in FIXED_IN.items():
        specifier = by_name[canonicalize_name(name)].specifier
        below = Version(fixed).release
        just_before = Version(
            ".".join(map(str, (*below[:-1], below[-1] - 1))) if below[-1] else "0"
        )
        assert not specifier.contains(just_before), (name, specifier)
