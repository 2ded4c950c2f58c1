"""Installs the ``slowfast`` package (video action recognition with two-pathway networks)."""
import os

from setuptools import find_packages, setup


def read_requirements(path: str = os.path.join(os.path.dirname(os.path.abspath(__file__)), "requirements.txt")):
    """``install_requires`` from requirements.txt: one requirement specifier per line (ranges such
    as ``av>=18.1,<19`` kept whole); blank lines, comments and pip options (``-c ...``) are skipped."""
    requirements = []
    with open(path) as f:
        for line in f:
            line = line.split(" #", 1)[0].strip()
            if line and not line.startswith(("#", "-")):
                requirements.append(line)
    return requirements


setup(
    name="slowfast",
    version="0.1.0",
    description="SlowFast, dual-attention and efficient two-pathway video networks: train, test, demo.",
    packages=find_packages(exclude=("tests", "tests.*", "tools", "demo", "configs")),
    python_requires=">=3.11",
    install_requires=read_requirements(),
)
