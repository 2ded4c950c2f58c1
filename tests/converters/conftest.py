"""Converter test fixtures: the engine tests' ``caplog`` that also hears the ``slowfast`` logger."""
from tests.engine.conftest import caplog  # noqa: F401
