"""The deployment files agree with the code and with each other: the image's environment lets
``BIRDBRIDGE_CONFIG_TOML`` through, a PaaS build installs what pyproject.toml asks for, the
health check and the restart policies do what the README says, and LICENSE is the licence
pyproject.toml names."""

from __future__ import annotations

import configparser
import re
import shlex
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from birdbridge.config import load_config

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

WHOLE_CONFIG = """
[bridge]
poll_interval = 300

[[links]]
name = "from-the-variable"
direction = "both"

[links.twitter]
consumer_key = "ck"
consumer_secret = "cs"
access_token = "at"
access_token_secret = "as"

[links.mastodon]
api_base_url = "https://mastodon.example"
access_token = "mt"
"""


def dockerfile_instructions(name: str) -> list[str]:
    """The arguments of every ``name`` instruction, continuation lines joined."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [line[len(name) :].strip() for line in lines if line.startswith(name + " ")]


def image_environment() -> dict[str, str]:
    """What the Dockerfile's ENV lines set (the KEY=VALUE form)."""
    environ: dict[str, str] = {}
    for arguments in dockerfile_instructions("ENV"):
        for pair in shlex.split(arguments):
            key, _, value = pair.partition("=")
            environ[key] = value
    return environ


# -- item 1: the image and BIRDBRIDGE_CONFIG_TOML ------------------------------------------


def test_the_image_sets_no_config_variable() -> None:
    environ = image_environment()
    assert environ["PORT"] == "8080"  # the parse found the ENV block
    assert not {"BIRDBRIDGE_CONFIG", "BIRDBRIDGE_CONFIG_TOML"} & environ.keys()


def test_the_image_environment_loads_the_whole_config_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # like /data on a platform without a disk: no birdbridge.toml
    config = load_config(environ={**image_environment(), "BIRDBRIDGE_CONFIG_TOML": WHOLE_CONFIG})
    assert config.source == "$BIRDBRIDGE_CONFIG_TOML"
    assert [link.name for link in config.links] == ["from-the-variable"]
    assert (config.bridge.http_port, config.bridge.http_host) == (8080, "0.0.0.0")


def test_the_whole_config_variable_wins_over_a_config_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The trap: an environment that also names a file (the image once set
    # BIRDBRIDGE_CONFIG=/data/birdbridge.toml) must not hide the whole config. The README's
    # order: --config, then BIRDBRIDGE_CONFIG_TOML, then BIRDBRIDGE_CONFIG, then ./birdbridge.toml.
    monkeypatch.chdir(tmp_path)
    environ = {
        **image_environment(),
        "BIRDBRIDGE_CONFIG": str(tmp_path / "missing.toml"),
        "BIRDBRIDGE_CONFIG_TOML": WHOLE_CONFIG,
    }
    assert load_config(environ=environ).source == "$BIRDBRIDGE_CONFIG_TOML"


# -- item 2: what a PaaS build installs -----------------------------------------------------


def read_requirements(path: Path) -> tuple[list[Requirement], list[Path], dict[str, Version]]:
    """Requirements, local projects and constraint pins of a pip requirements file, as pip
    reads them: ``-r``/``-c`` paths relative to the file, project paths relative to the
    working directory (a buildpack runs pip in the app's root: ROOT)."""
    requirements: list[Requirement] = []
    projects: list[Path] = []
    pins: dict[str, Version] = {}
    for raw in path.read_text().splitlines():
        line = raw.split(" #")[0].strip()
        if not line or line.startswith("#"):
            continue
        option, _, value = line.partition(" ")
        if option in ("-c", "--constraint"):
            pins |= constraint_pins(path.parent / value.strip())
        elif option in ("-r", "--requirement"):
            more = read_requirements(path.parent / value.strip())
            requirements, projects, pins = (
                requirements + more[0],
                projects + more[1],
                pins | more[2],
            )
        elif line.startswith((".", "/")):
            projects.append((ROOT / line).resolve())
        else:
            requirements.append(Requirement(line))
    return requirements, projects, pins


def constraint_pins(path: Path) -> dict[str, Version]:
    pins = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = Version(version.strip())
    return pins


def test_requirements_install_birdbridge_inside_pyproject_ranges() -> None:
    requirements, projects, pins = read_requirements(ROOT / "requirements.txt")
    assert projects == [ROOT], "requirements.txt must install birdbridge itself (a `.` line)"
    listed = {canonicalize_name(r.name): r.specifier for r in requirements}
    for dependency in map(Requirement, PROJECT["dependencies"]):
        name = canonicalize_name(dependency.name)
        pinned = pins.get(name)
        assert pinned is not None, f"{name}: no pinned version reaches the PaaS build"
        assert dependency.specifier.contains(pinned), (name, pinned, dependency.specifier)
        assert listed.get(name, SpecifierSet()).contains(pinned), (name, listed[name], pinned)


def test_the_python_version_file_matches_requires_python_and_the_image() -> None:
    # Heroku's buildpack reads .python-version, "3.N" recommended (heroku-buildpack-python
    # lib/python_version.sh); the same minor version as the image and the lowest supported.
    version = (ROOT / ".python-version").read_text().strip()
    assert re.fullmatch(r"3\.\d+", version), version
    requires = SpecifierSet(PROJECT["requires-python"])
    assert requires.contains(f"{version}.0")
    assert not requires.contains(f"3.{int(version.split('.')[1]) - 1}.99"), "not the lowest"
    assert dockerfile_instructions("FROM") == [f"python:{version}-slim"]


# -- item 3: health check and restarts ------------------------------------------------------


def test_the_image_health_check_runs_the_probe_module() -> None:
    (healthcheck,) = dockerfile_instructions("HEALTHCHECK")
    command = healthcheck.partition(" CMD ")[2]
    assert command.startswith("python -m birdbridge.healthcheck")
    assert "PORT" not in command  # the port comes from the config, as the daemon takes it
    assert command.endswith("|| exit 1")  # Docker reserves exit code 2


def test_the_systemd_unit_does_not_restart_on_a_config_error() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    unit.read(ROOT / "deploy" / "birdbridge.service")
    service = unit["Service"]
    assert service["ExecStart"].split()[-1] == "run"
    assert service["Restart"] == "on-failure"
    assert "2" in service["RestartPreventExitStatus"].split()
    assert "BIRDBRIDGE_CONFIG" not in service.get("Environment", "")


def test_compose_restarts_crashes_and_the_image_waits_on_a_config_error() -> None:
    """Docker cannot spare exit 2 from restarting: the image makes `run` wait instead of
    exiting on a configuration problem (tests/e2e/test_cli_messages.py shows it waits)."""
    compose = yaml.safe_load((ROOT / "deploy" / "docker-compose.yml").read_text())
    service = compose["services"]["birdbridge"]
    assert service["restart"] == "unless-stopped"  # back after a reboot, unlike on-failure
    assert "restart_policy" not in service.get("deploy", {})  # it would replace `restart`
    assert image_environment().get("BIRDBRIDGE_ON_CONFIG_ERROR") == "wait"
    assert not {"BIRDBRIDGE_CONFIG"} & service.get("environment", {}).keys()


# -- item 13: the licence -------------------------------------------------------------------

# A sentence only each licence's standard text has.
LICENCE_TEXTS = {
    "MIT": (
        "MIT License",
        "Permission is hereby granted, free of charge, to any person obtaining a copy",
    ),
}


def test_the_licence_file_is_the_licence_pyproject_names() -> None:
    title, sentence = LICENCE_TEXTS[PROJECT["license"]]
    text = (ROOT / "LICENSE").read_text()
    assert text.splitlines()[0] == title
    assert sentence in " ".join(text.split())
    assert re.search(r"^Copyright \(c\) \d{4} \S", text, re.MULTILINE)
