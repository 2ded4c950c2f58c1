"""Process environment: CPU threads, random seeds and their per-epoch derivation.

Reproducibility contract (docs/architecture.md): an epoch's order and augmentations depend only on
``(RNG_SEED, epoch)``. The trainer calls :func:`seed_epoch` at the start of every epoch so a run
resumed from a checkpoint draws exactly the random numbers an uninterrupted run would have drawn.
"""
import os
import random

import numpy as np
import torch


def available_cores() -> int:
    """Cores this process may run on (the affinity mask, not the machine's total)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def cpu_threads(cfg, processes_per_machine: int = 1) -> int:
    """torch threads per process: NUM_CPU_THREADS, or the cores left after each process's
    DATA_LOADER.NUM_WORKERS decoding workers, shared among the processes (at least 1)."""
    if cfg.NUM_CPU_THREADS < 0:
        raise ValueError(f"NUM_CPU_THREADS must be >= 0 (0 = automatic), got {cfg.NUM_CPU_THREADS}")
    if cfg.NUM_CPU_THREADS:
        return cfg.NUM_CPU_THREADS
    per_process = available_cores() // max(1, processes_per_machine)
    return max(1, per_process - cfg.DATA_LOADER.NUM_WORKERS)


def derive_seed(base_seed: int, *keys: int) -> int:
    """A 32-bit seed that depends only on ``base_seed`` and ``keys`` (e.g. the epoch, the rank).

    Uses numpy's ``SeedSequence`` so that nearby inputs give unrelated streams
    (``seed + epoch`` would make run A's epoch 1 equal run B's epoch 0 when their seeds differ by 1).
    """
    entropy = [int(base_seed)] + [int(k) for k in keys]
    if any(value < 0 for value in entropy):
        raise ValueError(f"seeds must be non-negative, got {entropy}")
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, numpy's global generator and torch (CPU and every CUDA device)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device


def seed_epoch(base_seed: int, epoch: int) -> int:
    """Reseed every generator for ``epoch`` from ``(base_seed, epoch)``; returns the seed used."""
    seed = derive_seed(base_seed, epoch)
    seed_everything(seed)
    return seed
