"""Short-cycle batch sampler and the per-item clip shape it drives."""
import pytest
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, RandomSampler, SequentialSampler

from slowfast.config.defaults import get_cfg
from slowfast.datasets.multigrid import (
    ShortCycleBatchSampler,
    build_short_cycle_batch_sampler,
    short_cycle_shapes,
    train_clip_shape,
    unpack_index,
)


def multigrid_cfg(crop=224, default_crop=224):
    cfg = get_cfg()
    cfg.MULTIGRID.SHORT_CYCLE = True
    cfg.MULTIGRID.DEFAULT_S = default_crop
    cfg.DATA.TRAIN_CROP_SIZE = crop
    return cfg


class CropEchoDataset(Dataset):
    """Item i: a (3, 1, crop, crop) clip filled with i, cropped as the multigrid index says."""

    def __init__(self, cfg, size):
        self.cfg, self.size = cfg, size

    def __len__(self):
        return self.size

    def __getitem__(self, index):
        shape = train_clip_shape(self.cfg, index)
        return torch.full((3, 1, shape.crop_size, shape.crop_size), float(shape.index)), shape.index


def test_shapes_are_relative_to_the_default_crop():
    assert short_cycle_shapes(4, 224, multigrid_cfg()) == [(16, 112), (8, 158), (4, 224)]
    # Long-cycle phase at crop 158: short-cycle crops stay 112 and 158 (default crop 224 x factors).
    assert short_cycle_shapes(32, 158, multigrid_cfg(crop=158)) == [(64, 112), (32, 158), (32, 158)]
    unscaled = multigrid_cfg()
    unscaled.MULTIGRID.SCALE_BATCH = False
    assert short_cycle_shapes(4, 224, unscaled) == [(4, 112), (4, 158), (4, 224)]


def test_sampler_rotates_the_three_batch_sizes_with_their_crops():
    sampler = build_short_cycle_batch_sampler(SequentialSampler(range(60)), multigrid_cfg(), batch_size=2)
    batches = list(sampler)
    assert [len(b) for b in batches] == [8, 4, 2] * 4  # 4 indices left: an incomplete batch, dropped
    assert [b[0][1] for b in batches[:3]] == [112, 158, 224]
    assert all(len({crop for _, crop in b}) == 1 for b in batches)
    assert [i for b in batches for i, _ in b] == list(range(56))
    assert len(sampler) == len(batches) == 12


@pytest.mark.parametrize("size, drop_last, expected", [(60, True, 12), (60, False, 13), (64, True, 13),
                                                       (5, False, 1), (5, True, 0), (0, False, 0)])
def test_len_is_exact(size, drop_last, expected):
    sampler = ShortCycleBatchSampler(SequentialSampler(range(size)), [(8, 112), (4, 158), (2, 224)], drop_last)
    assert len(sampler) == len(list(sampler)) == expected


def test_works_over_distributed_sampler_and_forwards_set_epoch():
    shapes = [(4, 112), (2, 158), (1, 224)]
    ranks = [ShortCycleBatchSampler(DistributedSampler(range(28), num_replicas=2, rank=r, seed=3), shapes, False)
             for r in range(2)]
    seen = [[i for batch in sampler for i, _ in batch] for sampler in ranks]
    assert sorted(seen[0] + seen[1]) == list(range(28))
    assert [len(b) for b in ranks[0]] == [4, 2, 1, 4, 2, 1]
    epoch0 = [list(b) for b in ranks[0]]
    ranks[0].set_epoch(1)
    assert ranks[0].sampler.epoch == 1 and [list(b) for b in ranks[0]] != epoch0


def test_loader_returns_the_crop_of_each_batch():
    cfg = multigrid_cfg(crop=32, default_crop=32)
    dataset = CropEchoDataset(cfg, 21)
    generator = torch.Generator().manual_seed(0)
    sampler = build_short_cycle_batch_sampler(RandomSampler(dataset, generator=generator), cfg, batch_size=1)
    loader = DataLoader(dataset, batch_sampler=sampler)
    shapes = [tuple(clips.shape) for clips, _ in loader]
    assert shapes == [(4, 3, 1, 16, 16), (2, 3, 1, 23, 23), (1, 3, 1, 32, 32)] * 3
    assert sorted(i for _, idx in DataLoader(dataset, batch_sampler=sampler) for i in idx.tolist()) == list(range(21))


def test_invalid_shapes_are_rejected():
    with pytest.raises(ValueError, match="positive"):
        ShortCycleBatchSampler(SequentialSampler(range(4)), [(0, 112)], False)


def test_unpack_index_accepts_plain_and_tagged_indices():
    assert unpack_index(7) == (7, None)
    assert unpack_index(torch.tensor(7)) == (7, None)
    assert unpack_index((7, 112)) == (7, 112)
    with pytest.raises(ValueError, match="pair"):
        unpack_index((7, 112, 3))


def test_clip_shape_scales_jitter_with_the_crop_and_keeps_plain_settings_off_multigrid():
    plain = get_cfg()
    assert train_clip_shape(plain, 5) == (5, 224, (256, 320), 8)
    cfg = multigrid_cfg(crop=158)
    shape = train_clip_shape(cfg, (5, 112))
    assert shape == (5, 112, (128, 160), 8)
    assert train_clip_shape(cfg, 5).jitter_scales == (181, 226)  # the long-cycle crop 158


def test_long_cycle_sampling_rate_is_random_within_the_span_keeping_range():
    cfg = get_cfg()
    cfg.DATA.SAMPLING_RATE, cfg.MULTIGRID.LONG_CYCLE_SAMPLING_RATE = 2, 8
    generator = torch.Generator().manual_seed(0)
    rates = [train_clip_shape(cfg, 0, generator).sampling_rate for _ in range(200)]
    assert set(rates) == set(range(2, 9))
