"""Seeds: derived per (seed, epoch), reseeding reproduces every generator."""
import random

import numpy as np
import pytest
import torch

from slowfast.utils.env import derive_seed, seed_epoch


def draw():
    return random.random(), float(np.random.rand()), float(torch.rand(1))


def test_epoch_seed_reproduces_all_generators():
    seed_epoch(1, 3)
    first = draw()
    draw()
    seed_epoch(1, 3)
    assert draw() == first
    seed_epoch(1, 4)
    assert draw() != first


def test_derived_seeds_are_distinct_and_stable():
    assert derive_seed(1, 0) == derive_seed(1, 0)
    assert len({derive_seed(1, 0), derive_seed(1, 1), derive_seed(2, 0), derive_seed(1, 0, 1)}) == 4
    assert 0 <= derive_seed(7, 123) < 2**32
    with pytest.raises(ValueError):
        derive_seed(-1)


def test_cpu_threads_leave_cores_to_loader_workers_and_share_among_processes(monkeypatch):
    from slowfast.config.defaults import get_cfg
    from slowfast.utils import env

    monkeypatch.setattr(env, "available_cores", lambda: 8)
    cfg = get_cfg()
    cfg.DATA_LOADER.NUM_WORKERS = 2
    assert env.cpu_threads(cfg) == 6
    assert env.cpu_threads(cfg, processes_per_machine=2) == 2
    assert env.cpu_threads(cfg, processes_per_machine=8) == 1  # never below one thread
    cfg.NUM_CPU_THREADS = 3
    assert env.cpu_threads(cfg, processes_per_machine=8) == 3
    cfg.NUM_CPU_THREADS = -1
    with pytest.raises(ValueError, match="NUM_CPU_THREADS"):
        env.cpu_threads(cfg)
