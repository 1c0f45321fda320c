"""pyproject.toml (pip) and environment.yml (conda) must describe one pinned environment."""
import re
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)$")


def parse_pins(requirements):
    """{normalized name: version} for `name==version` strings; anything unpinned is an error."""
    pins = {}
    for req in requirements:
        match = PIN.match(req.strip())
        assert match, f"{req!r} is not pinned: write it as name==version so pip and conda agree"
        pins[match[1].lower().replace("_", "-")] = match[2]
    return pins


def pyproject_pins():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        reqs += extra
    return parse_pins(reqs)


def conda_pins():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    return parse_pins(r for r in pip_section if not r.startswith("-e"))


def test_pip_and_conda_pin_the_same_packages_and_versions():
    pip, conda = pyproject_pins(), conda_pins()
    only_pip = {k: v for k, v in pip.items() if conda.get(k) != v}
    only_conda = {k: v for k, v in conda.items() if pip.get(k) != v}
    assert not only_pip and not only_conda, (
        f"pyproject.toml and environment.yml disagree: pyproject has {only_pip}, "
        f"environment.yml has {only_conda}; make both name the same versions"
    )


def test_torch_is_pinned_to_the_cpu_build_on_disk():
    assert pyproject_pins()["torch"] == "2.13.0"


def test_conda_python_satisfies_requires_python():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python="))
    major, minor = map(int, python.split("=")[1].split(".")[:2])
    assert (major, minor) >= (3, 10), f"environment.yml asks for {python}; the course needs Python >= 3.10"


def test_installed_versions_match_the_pins():
    """The running environment is the pinned one (catches a stale .venv)."""
    from importlib.metadata import PackageNotFoundError, version

    wrong = {}
    for name, pinned in pyproject_pins().items():
        try:
            got = version(name)
        except PackageNotFoundError:
            wrong[name] = "not installed"
            continue
        if got.split("+")[0] != pinned:
            wrong[name] = got
    assert not wrong, f"installed versions differ from the pins: {wrong}; run `make setup` again"


@pytest.mark.parametrize("mutation", ["torch==2.12.0", "numpy>=2"])
def test_the_check_notices_disagreement(mutation):
    """Negative control: a changed or unpinned entry is caught."""
    reqs = [f"{k}=={v}" for k, v in conda_pins().items() if k != mutation.split("=")[0].split(">")[0]]
    reqs.append(mutation)
    try:
        changed = parse_pins(reqs)
    except AssertionError as err:
        assert "not pinned" in str(err)
        return
    assert changed != pyproject_pins()


def test_python_version():
    assert sys.version_info >= (3, 10)
