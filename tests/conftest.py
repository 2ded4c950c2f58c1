"""Suite-wide fixtures."""
import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Run every test on one intra-op thread, restored afterwards.

    The tests use tiny tensors, which gain nothing from threads, while OpenMP workers
    spin-waiting on a shared 2-core machine multiplied test CPU time by ~10. Processes the tests
    spawn (torchrun, tools) choose their own thread count.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
