"""Data loaders: ``construct_loader(cfg, split)``, ``shuffle_dataset(loader, epoch)`` and the collate.

Batch contract (see docs/architecture.md): ``(inputs, labels, video_index, meta)`` with
``inputs`` a list of ``(N, C, T, H, W)`` (one per pathway), ``labels`` and ``video_index``
``LongTensor(N)``, ``meta["view_index"]`` ``LongTensor(N)`` and ``meta["failed"]`` the paths that
failed to decode for this batch (replaced in training; dropped in evaluation, so an evaluation
batch may be smaller than asked, even empty).

Multi-label datasets (Charades) give each item a float multi-hot label ``(NUM_CLASSES,)``; their
``labels`` are then ``FloatTensor(N, NUM_CLASSES)``. Detection batches (``DETECTION.ENABLE``)
follow :func:`detection_collate`.

Reproducibility: an epoch's order depends only on ``(RNG_SEED, epoch)`` (the sampler and the
loader's generator are reseeded by ``shuffle_dataset``) and its augmentations only on
``(RNG_SEED, epoch, index)`` (see ``video_dataset.item_rngs``), whatever the number of workers.
"""
import logging
import random
from typing import Dict, Iterator, List, Sequence, Tuple

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler, Sampler, SequentialSampler

from slowfast.datasets.build import build_dataset
from slowfast.datasets.failures import dataset_name_for
from slowfast.datasets.multigrid import ShortCycleBatchSampler, build_short_cycle_batch_sampler
from slowfast.utils.errors import ConfigError

logger = logging.getLogger(__name__)


def epoch_seed(seed: int, epoch: int) -> int:
    """The seed of the loader's generator for ``epoch`` (a pure function of both)."""
    return int(np.random.SeedSequence([abs(int(seed)), int(epoch)]).generate_state(1, np.uint64)[0] >> 1)


def world_size_and_rank() -> Tuple[int, int]:
    """``(world size, rank)`` of the initialised process group, ``(1, 0)`` without one."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size(), dist.get_rank()
    return 1, 0


def per_process_batch_size(global_batch_size: int, world_size: int, key: str) -> int:
    """Global batch / world size; a clear error when it does not divide."""
    if global_batch_size < world_size or global_batch_size % world_size:
        raise ConfigError(
            f"{key}={global_batch_size} is the global batch and must be a multiple of the number of "
            f"processes ({world_size})"
        )
    return global_batch_size // world_size


class ShardSampler(Sampler[int]):
    """Evaluation sampler for several processes: rank ``r`` takes items ``r, r + W, r + 2W, ...``.

    Unlike ``DistributedSampler`` it never pads with repeated items, so every test view is
    predicted exactly once across the ranks (the evaluator's gather relies on it).
    """

    def __init__(self, dataset, world_size: int, rank: int):
        self.num_items, self.world_size, self.rank = len(dataset), world_size, rank

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.rank, self.num_items, self.world_size))

    def __len__(self) -> int:
        return len(range(self.rank, self.num_items, self.world_size))


def collate(batch: Sequence[Tuple]) -> Tuple[List[torch.Tensor], torch.Tensor, torch.Tensor, Dict]:
    """Stack dataset items into a batch, leaving out dropped (undecodable) evaluation items.

    Items are ``(inputs, label, video_index, meta)``; ``meta["failed"]`` lists of all items are
    concatenated. When every item was dropped, inputs are empty ``(0, C, T, H, W)`` tensors.
    """
    failed = [path for item in batch for path in item[3].get("failed", ())]
    kept = [item for item in batch if not item[3].get("dropped", False)]
    num_pathways = len(batch[0][0])
    if kept:
        inputs = [torch.stack([item[0][p] for item in kept]) for p in range(num_pathways)]
    else:
        inputs = [torch.zeros((0, *x.shape), dtype=x.dtype) for x in batch[0][0]]
    if isinstance(batch[0][1], torch.Tensor):  # multi-hot labels of a multi-label dataset (dropped items too)
        labels = torch.stack([item[1] for item in kept]) if kept else torch.zeros((0, *batch[0][1].shape))
    else:
        labels = torch.tensor([item[1] for item in kept], dtype=torch.long)
    video_index = torch.tensor([item[2] for item in kept], dtype=torch.long)
    view_index = torch.tensor([item[3].get("view_index", 0) for item in kept], dtype=torch.long)
    return inputs, labels, video_index, {"view_index": view_index, "failed": failed}


def detection_collate(batch: Sequence[Tuple]) -> Tuple[List[torch.Tensor], torch.Tensor, torch.Tensor, Dict]:
    """Stack AVA items (``DETECTION.ENABLE``): clips are stacked, boxes concatenated.

    Items are ``(inputs, labels (K_i, C), index, meta)`` with ``meta["boxes"]`` ``(K_i, 4)``
    pixels of the clip, ``meta["ori_boxes"]`` ``(K_i, 4)`` normalised and ``meta["metadata"]``
    ``(K_i, 2)`` ``(video_idx, timestamp_sec)``. Returns ``(inputs, labels, index, meta)``: inputs
    a list of ``(N, C, T, H, W)``, labels ``(K, C)`` (K = sum of K_i), index ``LongTensor(N)``,
    ``meta["boxes"]`` and ``meta["ori_boxes"]`` ``(K, 5)`` whose column 0 is the item's row in
    the batch, ``meta["metadata"]`` ``(K, 2)``, ``meta["failed"]`` as in :func:`collate` and
    ``meta["dropped_boxes"]`` the number of boxes the items' crops left empty (dropped).
    Dropped (undecodable) evaluation items are left out.
    """
    failed = [path for item in batch for path in item[3].get("failed", ())]
    dropped_boxes = sum(int(item[3].get("dropped_boxes", 0)) for item in batch)
    kept = [item for item in batch if not item[3].get("dropped", False)]
    items = kept or batch[:1]  # with nothing kept, the first item's shapes give the empty tensors
    if kept:
        inputs = [torch.stack([item[0][p] for item in kept]) for p in range(len(batch[0][0]))]
    else:
        inputs = [torch.zeros((0, *x.shape), dtype=x.dtype) for x in batch[0][0]]
    labels = torch.cat([item[1] for item in items])[: None if kept else 0]

    def with_batch_index(key: str) -> torch.Tensor:
        rows = [torch.cat([torch.full((len(item[3][key]), 1), float(i)), item[3][key].float()], dim=1)
                for i, item in enumerate(items)]
        return torch.cat(rows)[: None if kept else 0]

    meta = {
        "boxes": with_batch_index("boxes"),
        "ori_boxes": with_batch_index("ori_boxes"),
        "metadata": torch.cat([item[3]["metadata"] for item in items]).long()[: None if kept else 0],
        "failed": failed,
        "dropped_boxes": dropped_boxes,
    }
    return inputs, labels, torch.tensor([item[2] for item in kept], dtype=torch.long), meta


def seed_worker(worker_id: int) -> None:
    """Seed Python's and NumPy's global RNGs in a worker from its torch seed (which the loader
    derives from its generator), so stray uses of them are deterministic too."""
    seed = torch.initial_seed() % 2**32
    random.seed(seed)
    np.random.seed(seed)


def construct_loader(cfg, split: str) -> DataLoader:
    """The loader of ``split`` ("train", "val" or "test") for this process.

    - dataset: ``TRAIN.DATASET`` for train/val, ``TEST.DATASET`` for test;
    - batch: ``TRAIN.BATCH_SIZE`` (train, val) or ``TEST.BATCH_SIZE`` divided by the world size;
    - train: shuffled (``DistributedSampler`` with several processes), incomplete last batch
      dropped, multigrid short-cycle batches when ``MULTIGRID.SHORT_CYCLE``;
    - val/test: in order, every item once (``ShardSampler`` with several processes);
    - ``DATA_LOADER.NUM_WORKERS`` workers, memory pinned only when CUDA is used.
    """
    if split not in ("train", "val", "test"):
        raise ValueError(f"split must be 'train', 'val' or 'test', got '{split}'")
    is_train = split == "train"
    dataset = build_dataset(dataset_name_for(cfg, split), cfg, split)
    world_size, rank = world_size_and_rank()
    batch_key = "TEST.BATCH_SIZE" if split == "test" else "TRAIN.BATCH_SIZE"
    global_batch = cfg.TEST.BATCH_SIZE if split == "test" else cfg.TRAIN.BATCH_SIZE
    batch_size = per_process_batch_size(global_batch, world_size, batch_key)

    generator = torch.Generator()
    generator.manual_seed(epoch_seed(cfg.RNG_SEED, 0))
    if is_train:
        if world_size > 1:
            sampler = DistributedSampler(dataset, world_size, rank, shuffle=True, seed=cfg.RNG_SEED)
        else:
            sampler = RandomSampler(dataset, generator=generator)
    else:
        sampler = ShardSampler(dataset, world_size, rank) if world_size > 1 else SequentialSampler(dataset)

    common = dict(
        num_workers=cfg.DATA_LOADER.NUM_WORKERS,
        collate_fn=detection_collate if cfg.DETECTION.ENABLE else collate,
        pin_memory=bool(cfg.DATA_LOADER.PIN_MEMORY and cfg.NUM_GPUS > 0 and torch.cuda.is_available()),
        worker_init_fn=seed_worker,
        generator=generator,
    )
    if is_train and cfg.MULTIGRID.SHORT_CYCLE:
        batch_sampler = build_short_cycle_batch_sampler(sampler, cfg, batch_size, drop_last=True)
        return DataLoader(dataset, batch_sampler=batch_sampler, **common)
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, drop_last=is_train, **common)


def shuffle_dataset(loader: DataLoader, epoch: int) -> None:
    """Prepare ``loader`` for ``epoch``: reseed its sampler (``set_epoch``), its generator (the
    shuffle order and the workers' seeds) with ``(RNG_SEED, epoch)``, and tell the dataset the
    epoch its augmentations are drawn for."""
    sampler = loader.batch_sampler if isinstance(loader.batch_sampler, ShortCycleBatchSampler) else loader.sampler
    if hasattr(sampler, "set_epoch"):
        sampler.set_epoch(epoch)
    dataset = loader.dataset
    seed = getattr(dataset, "seed", 0)
    if loader.generator is not None:
        loader.generator.manual_seed(epoch_seed(seed, epoch))
    if hasattr(dataset, "set_epoch"):
        dataset.set_epoch(epoch)
