"""The install contract: supported ranges in requirements.txt, the tested set in constraints.txt,
setup.py passing the ranges to install_requires, and the README's install command using both."""
import os
import re
import runpy

import pytest
import setuptools
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PINNED = {"torch": "2.14.1", "torchvision": "0.29.1"}  # install from the machine's local disk


def requirement_lines():
    with open(os.path.join(REPO, "requirements.txt")) as f:
        return [line.strip() for line in f if line.strip() and not line.lstrip().startswith("#")]


def constraints():
    pins = {}
    with open(os.path.join(REPO, "constraints.txt")) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                name, sep, version = line.partition("==")
                assert sep and re.fullmatch(r"[\w.+!-]+", version), f"constraints.txt: not an exact pin: {line!r}"
                pins[canonicalize_name(name)] = version
    return pins


@pytest.fixture(scope="module")
def install_requires():
    """What setup.py hands to setuptools.setup, read by running setup.py with setup() recorded."""
    captured = {}
    original = setuptools.setup
    setuptools.setup = lambda **kwargs: captured.update(kwargs)
    try:
        runpy.run_path(os.path.join(REPO, "setup.py"), run_name="__main__")
    finally:
        setuptools.setup = original
    return captured["install_requires"]


def test_setup_passes_every_requirement_whole(install_requires):
    assert install_requires == requirement_lines()
    assert all(Requirement(line) for line in install_requires)


def test_requirements_are_ranges_and_torch_is_pinned(install_requires):
    for line in install_requires:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        operators = {spec.operator for spec in requirement.specifier}
        if name in PINNED:
            assert str(requirement.specifier) == f"=={PINNED[name]}", line
        else:
            assert ">=" in operators and "<" in operators, f"{line}: needs a lower and an upper bound"


def test_constraints_pin_every_requirement_within_its_range(install_requires):
    pins = constraints()
    assert "slowfast" not in pins
    for line in install_requires:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"constraints.txt does not pin {requirement.name}"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"constraints.txt pins {name}=={pins[name]}, outside requirements.txt's {line}")


def test_readme_install_command_uses_the_tested_set():
    readme = open(os.path.join(REPO, "README.md")).read()
    block = re.search(r"^## Install and test\n.*?^```bash\n(.*?)^```", readme, re.S | re.M).group(1)
    assert block.split("\n")[:2] == [
        "python -m pip install -r requirements.txt -c constraints.txt -e .",
        "python -m pytest -q",
    ]
