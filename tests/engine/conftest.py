"""Engine tests run tiny models: one intra-op thread avoids thread-pool overhead on shared CPUs."""
import pytest
import torch


@pytest.fixture(autouse=True)
def single_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def caplog(caplog):
    """pytest's caplog, also attached to the ``slowfast`` logger (which does not propagate)."""
    import logging

    logger = logging.getLogger("slowfast")
    logger.addHandler(caplog.handler)
    caplog.set_level(logging.INFO, logger="slowfast")
    yield caplog
    logger.removeHandler(caplog.handler)
