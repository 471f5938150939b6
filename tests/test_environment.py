"""Tests that environment.yml (conda) and pyproject.toml (pip) ask for the same packages with the same lower bounds."""
import re
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(.*?)\s*$")
CONDA_ONLY = {"python", "pip"}  # the interpreter and the installer, which pip does not list


def normalized(name: str) -> str:
    """Package names compare case-insensitively and with -, _ and . alike (scikit_learn == scikit-learn)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def lower_bound(constraint: str, where: str) -> str | None:
    """The version after ``>=`` in a constraint such as ``>=1.26`` or ``>=1.26,<3``; None without one."""
    bounds = re.findall(r">=\s*([0-9][0-9A-Za-z.]*)", constraint)
    if len(bounds) > 1:
        raise AssertionError(f"{where}: more than one lower bound in {constraint!r}")
    return bounds[0] if bounds else None


def parse(requirement: str, where: str) -> tuple[str, str | None]:
    """``"numpy>=1.26"`` -> ``("numpy", "1.26")``; also conda's ``"numpy >=1.26"``; environment markers dropped."""
    match = REQUIREMENT.match(requirement.split(";")[0])
    if match is None:
        raise AssertionError(f"{where}: cannot read the requirement {requirement!r}")
    return normalized(match.group(1)), lower_bound(match.group(2), where)


def as_table(requirements, where: str) -> dict[str, str | None]:
    """``{name: lower bound}`` from requirement strings; a package listed twice is an error."""
    table: dict[str, str | None] = {}
    for requirement in requirements:
        name, bound = parse(requirement, where)
        assert name not in table, f"{where} lists {name} twice"
        table[name] = bound
    return table


def pip_table(pyproject: dict) -> dict[str, str | None]:
    """What ``pip install -e '.[test]'`` asks for: the dependencies and the test extra."""
    project = pyproject["project"]
    return as_table(project["dependencies"] + project["optional-dependencies"]["test"], "pyproject.toml")


def conda_table(environment: dict) -> tuple[dict[str, str | None], list[str]]:
    """``({name: lower bound}, pip lines)`` from environment.yml, conda and pip packages together."""
    conda, pip_lines = [], []
    for entry in environment["dependencies"]:
        if isinstance(entry, dict):
            assert set(entry) == {"pip"}, f"environment.yml: unexpected dependency section {entry}"
            pip_lines += entry["pip"]
        else:
            conda.append(entry)
    packages = [line for line in pip_lines if not line.startswith("-")]
    table = as_table(conda + packages, "environment.yml")
    return {name: bound for name, bound in table.items() if name not in CONDA_ONLY}, pip_lines


@pytest.fixture(scope="module")
def pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def environment():
    return yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))


def test_environment_lists_the_same_packages_as_pyproject(pyproject, environment):
    """Does environment.yml hold exactly the packages of pyproject.toml (dependencies and test extra)?"""
    pip, (conda, _) = pip_table(pyproject), conda_table(environment)
    assert len(pip) >= 10, "pyproject.toml lists suspiciously few packages: is the parser reading it?"
    assert sorted(set(pip) - set(conda)) == [], "in pyproject.toml but missing from environment.yml"
    assert sorted(set(conda) - set(pip)) == [], "in environment.yml but missing from pyproject.toml"


def test_environment_has_the_same_lower_bounds_as_pyproject(pyproject, environment):
    """Does every package have the same minimum version in both files?"""
    pip, (conda, _) = pip_table(pyproject), conda_table(environment)
    different = {name: (pip[name], conda[name]) for name in pip.keys() & conda.keys() if pip[name] != conda[name]}
    assert different == {}, "lower bounds differ (pyproject.toml, environment.yml)"


def test_environment_python_and_channel_match(pyproject, environment):
    """Is Python bounded as requires-python says, conda-forge the channel, and the course installed by pip?"""
    conda_entries = [entry for entry in environment["dependencies"] if isinstance(entry, str)]
    python = dict(parse(entry, "environment.yml") for entry in conda_entries).get("python", "missing")
    assert python == lower_bound(pyproject["project"]["requires-python"], "pyproject.toml")
    assert environment["channels"] == ["conda-forge"]
    _, pip_lines = conda_table(environment)
    assert "-e ." in pip_lines
    assert "pip" in conda_entries, "a pip: section needs pip itself among the conda packages"


@pytest.mark.parametrize("requirement, expected", [
    ("numpy>=1.26", ("numpy", "1.26")),
    ("scikit_learn >=1.4", ("scikit-learn", "1.4")),
    ("PyTest-XDist>=3.5,<4", ("pytest-xdist", "3.5")),
    ("nbval", ("nbval", None)),
    ("ipykernel[test]>=6.29; python_version>='3.11'", ("ipykernel", "6.29")),
])
def test_requirements_are_read_by_name_and_lower_bound(requirement, expected):
    """Does the parser the check relies on read names and bounds as pip and conda write them?"""
    assert parse(requirement, "here") == expected


def test_a_package_missing_from_either_file_is_reported(pyproject, environment):
    """If one file gained or lost a package, would the comparison see it?"""
    conda, _ = conda_table(environment)
    kept = [entry for entry in environment["dependencies"] if not str(entry).startswith("tqdm")]
    trimmed = {**environment, "dependencies": kept}
    grown = {**environment, "dependencies": environment["dependencies"] + ["pandas>=2.0"]}
    assert "tqdm" in conda and "tqdm" not in conda_table(trimmed)[0]
    assert set(conda_table(grown)[0]) - set(pip_table(pyproject)) == {"pandas"}
