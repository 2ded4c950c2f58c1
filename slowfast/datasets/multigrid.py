"""Multigrid data side: the short-cycle batch sampler and the per-item clip shape.

Short cycle (Wu et al. 2020): consecutive iterations rotate three ``(batch, crop)`` shapes, e.g.
``(4B, S0/2), (2B, S0/sqrt 2), (B, S)`` for a long-cycle batch ``B`` and crop ``S``. The batch
sampler tags every index with the crop of its batch, so each batch is one shape:

    ShortCycleBatchSampler(sampler, shapes)  ->  [(index, crop), (index, crop), ...]

and a dataset turns whatever index it receives (an int, or such a pair) into the clip shape with
one call, :func:`train_clip_shape`, which also applies the long cycle's random sampling rate.
"""
from typing import Iterator, List, NamedTuple, Optional, Sequence, Tuple, Union

import torch
from torch.utils.data import Sampler

ShortCycleIndex = Tuple[int, int]


def short_cycle_crop_sizes(cfg) -> List[int]:
    """Crops of the two extra short-cycle shapes: ``MULTIGRID.SHORT_CYCLE_FACTORS`` x the
    *default* crop (``MULTIGRID.DEFAULT_S``; not the current long-cycle crop)."""
    default_crop = cfg.MULTIGRID.DEFAULT_S or cfg.DATA.TRAIN_CROP_SIZE
    return [int(round(f * default_crop)) for f in cfg.MULTIGRID.SHORT_CYCLE_FACTORS]


def short_cycle_shapes(batch_size: int, crop_size: int, cfg) -> List[Tuple[int, int]]:
    """The three ``(batch, crop)`` pairs of the short cycle around a batch and crop.

    Crops are the default-relative :func:`short_cycle_crop_sizes` (never above ``crop_size``);
    batches grow by the rounded pixel ratio against ``crop_size`` so that ``batch * crop^2``
    stays about constant (with ``MULTIGRID.SCALE_BATCH``; else they stay ``batch_size``). The
    last pair is ``(batch_size, crop_size)`` itself.
    """
    shapes = []
    for crop in short_cycle_crop_sizes(cfg):
        crop = min(crop, crop_size)
        factor = max(1, int(round((crop_size / crop) ** 2))) if cfg.MULTIGRID.SCALE_BATCH else 1
        shapes.append((batch_size * factor, crop))
    return shapes + [(batch_size, crop_size)]


class ShortCycleBatchSampler(Sampler[List[ShortCycleIndex]]):
    """Batch sampler over any index sampler (Random, Sequential, Distributed) that rotates
    ``shapes`` batch by batch and yields lists of ``(index, crop_size)``.

    Args:
        sampler: yields dataset indices; ``set_epoch`` is forwarded to it.
        shapes: the ``(batch_size, crop_size)`` pairs to rotate, usually :func:`short_cycle_shapes`.
        drop_last: drop the incomplete batch at the end of the epoch.
    """

    def __init__(self, sampler: Sampler, shapes: Sequence[Tuple[int, int]], drop_last: bool):
        if not shapes or any(int(b) != b or b <= 0 or int(c) != c or c <= 0 for b, c in shapes):
            raise ValueError(f"short-cycle shapes must be positive (batch, crop) integers, got {list(shapes)}")
        self.sampler = sampler
        self.shapes = [(int(b), int(c)) for b, c in shapes]
        self.drop_last = drop_last

    def __iter__(self) -> Iterator[List[ShortCycleIndex]]:
        batch: List[ShortCycleIndex] = []
        counter = 0
        batch_size, crop = self.shapes[0]
        for index in self.sampler:
            batch.append((int(index), crop))
            if len(batch) == batch_size:
                yield batch
                batch = []
                counter += 1
                batch_size, crop = self.shapes[counter % len(self.shapes)]
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        """Exact number of batches (the trainer's per-iteration LR depends on it)."""
        remaining, count = len(self.sampler), 0
        cycle = sum(b for b, _ in self.shapes)
        count += len(self.shapes) * (remaining // cycle)
        remaining %= cycle
        for batch_size, _ in self.shapes:
            if remaining < batch_size:
                break
            remaining -= batch_size
            count += 1
        return count + (1 if remaining and not self.drop_last else 0)

    def set_epoch(self, epoch: int) -> None:
        """Forward to the index sampler (DistributedSampler reshuffles per epoch)."""
        if hasattr(self.sampler, "set_epoch"):
            self.sampler.set_epoch(epoch)


def build_short_cycle_batch_sampler(sampler: Sampler, cfg, batch_size: int, drop_last: bool = True):
    """The short-cycle batch sampler of the current (long-cycle) shape: ``batch_size`` is the
    per-process batch, the crop ``DATA.TRAIN_CROP_SIZE``."""
    return ShortCycleBatchSampler(sampler, short_cycle_shapes(batch_size, cfg.DATA.TRAIN_CROP_SIZE, cfg), drop_last)


class TrainClipShape(NamedTuple):
    """Shape of one training clip: the dataset index, the crop, the short-side jitter range
    and the frame sampling rate."""

    index: int
    crop_size: int
    jitter_scales: Tuple[int, int]
    sampling_rate: int


def unpack_index(index: Union[int, ShortCycleIndex]) -> Tuple[int, Optional[int]]:
    """``(index, crop)`` from a sampler's index: a plain int (no crop) or an ``(index, crop)`` pair."""
    if isinstance(index, (tuple, list)):
        if len(index) != 2:
            raise ValueError(f"a short-cycle index is an (index, crop_size) pair, got {index!r}")
        return int(index[0]), int(index[1])
    return int(index), None


def train_clip_shape(cfg, index: Union[int, ShortCycleIndex],
                     generator: Optional[torch.Generator] = None) -> TrainClipShape:
    """The clip shape of a training item under multigrid (plain settings when it is off).

    - crop: the short-cycle crop carried by ``index``, else ``DATA.TRAIN_CROP_SIZE``;
    - jitter scales: ``DATA.TRAIN_JITTER_SCALES`` scaled by crop / default crop, so a smaller crop
      sees the same field of view (a coarser sampling grid);
    - sampling rate: uniform in ``[DATA.SAMPLING_RATE, MULTIGRID.LONG_CYCLE_SAMPLING_RATE]`` when
      the long cycle set the latter, so fewer frames still cover up to the default span.
    """
    index, crop = unpack_index(index)
    crop = crop or cfg.DATA.TRAIN_CROP_SIZE
    min_scale, max_scale = cfg.DATA.TRAIN_JITTER_SCALES
    if cfg.MULTIGRID.DEFAULT_S > 0:
        ratio = crop / cfg.MULTIGRID.DEFAULT_S
        min_scale, max_scale = int(round(min_scale * ratio)), int(round(max_scale * ratio))
    rate = cfg.DATA.SAMPLING_RATE
    long_rate = cfg.MULTIGRID.LONG_CYCLE_SAMPLING_RATE
    if long_rate > rate:
        rate = int(torch.randint(rate, long_rate + 1, (1,), generator=generator))
    return TrainClipShape(index, crop, (min_scale, max_scale), rate)
