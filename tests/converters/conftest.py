"""Converter test fixtures."""
import logging

import pytest


@pytest.fixture
def caplog(caplog):
    """pytest's caplog, also attached to the ``slowfast`` logger (which does not propagate)."""
    logger = logging.getLogger("slowfast")
    logger.addHandler(caplog.handler)
    caplog.set_level(logging.INFO, logger="slowfast")
    yield caplog
    logger.removeHandler(caplog.handler)
