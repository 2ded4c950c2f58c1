"""Process environment: random seeds and their per-epoch derivation.

Reproducibility contract (docs/architecture.md): an epoch's order and augmentations depend only on
``(RNG_SEED, epoch)``. The trainer calls :func:`seed_epoch` at the start of every epoch so a run
resumed from a checkpoint draws exactly the random numbers an uninterrupted run would have drawn.
"""
import random

import numpy as np
import torch


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
