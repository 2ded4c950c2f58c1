"""Shared fixtures of the model tests."""
import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def single_intra_op_thread():
    """Run the tiny model tests on one intra-op thread.

    Tiny inputs gain nothing from threads, while OpenMP workers spin-waiting on a shared 2-core
    machine multiplied the CPU time of tests/models/test_all_configs.py by ~10 (90 s -> 9 s).
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
