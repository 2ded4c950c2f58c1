"""Fixtures shared with the deploy and visualization tests: tiny efficient models and a toy model."""
from tests.deploy.conftest import efficient_model  # noqa: F401
from tests.visualization.conftest import toy_cfg, toy_model  # noqa: F401
