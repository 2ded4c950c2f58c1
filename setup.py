"""Installs the ``slowfast`` package (video action recognition with two-pathway networks)."""
from setuptools import find_packages, setup

with open("requirements.txt") as f:
    REQUIREMENTS = [line.strip() for line in f if line.strip() and not line.startswith("#")]

setup(
    name="slowfast",
    version="0.1.0",
    description="SlowFast, dual-attention and efficient two-pathway video networks: train, test, demo.",
    packages=find_packages(exclude=("tests", "tests.*", "tools", "demo", "configs")),
    python_requires=">=3.10",
    install_requires=REQUIREMENTS,
)
