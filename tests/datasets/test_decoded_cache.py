"""DATA.DECODED_CACHE_MB: clips cut from kept decoded videos equal freshly decoded ones, on real clips."""
import numpy as np
import pytest
import torch

from slowfast.config.validate import assert_and_infer_cfg
from slowfast.datasets import build_dataset
from slowfast.datasets.decoded_cache import DecodedVideoCache, cache_from_megabytes
from slowfast.datasets.video_reader import open_video
from slowfast.utils.errors import ConfigError
from tests.datasets.dataset_helpers import REAL_CLIPS, real_clip, tiny_cfg, write_split_files

# 32 frames of 256x340 (8.0 MiB decoded) and 164 frames of 240x320 (36.0 MiB decoded).
CLIPS = ["part_0.mp4 1", "test.avi 2"]


@pytest.fixture
def cfg(tmp_path):
    write_split_files(tmp_path, CLIPS)
    return tiny_cfg(tmp_path, prefix=REAL_CLIPS)


def datasets_with_and_without_cache(cfg, split, megabytes=64):
    plain = build_dataset("kinetics", cfg, split)
    cached_cfg = cfg.clone()
    cached_cfg.DATA.DECODED_CACHE_MB = megabytes
    return plain, build_dataset("kinetics", cached_cfg, split)


def count_opened(dataset):
    opened = []
    open_reader = dataset.open_reader
    dataset.open_reader = lambda record: opened.append(record.path) or open_reader(record)
    return opened


def assert_same_items(plain, cached, indices):
    for index in indices:
        expected, got = plain[index], cached[index]
        assert len(expected[0]) == len(got[0])
        for a, b in zip(expected[0], got[0]):
            assert torch.equal(a, b)
        assert expected[1:3] == got[1:3]


def test_train_clips_equal_decoded_ones_and_later_epochs_decode_nothing(cfg):
    plain, cached = datasets_with_and_without_cache(cfg, "train")
    opened = count_opened(cached)
    for epoch in range(3):
        plain.set_epoch(epoch)
        cached.set_epoch(epoch)
        assert_same_items(plain, cached, range(len(plain)))
    assert sorted(opened) == sorted({real_clip("part_0.mp4"), real_clip("test.avi")})  # the first epoch only
    assert len(cached.decoded_cache) == 2
    assert cached.decoded_cache.used_bytes == (32 * 256 * 340 + 164 * 240 * 320) * 3


def test_test_views_equal_decoded_ones(cfg):
    plain, cached = datasets_with_and_without_cache(cfg, "test")
    assert_same_items(plain, cached, range(len(plain)))


def test_videos_beyond_the_budget_are_read_as_without_a_cache(cfg):
    plain, cached = datasets_with_and_without_cache(cfg, "val", megabytes=10)  # part_0 fits, test.avi not
    opened = count_opened(cached)
    for _ in range(2):
        assert_same_items(plain, cached, range(len(plain)))
    assert opened == [real_clip("part_0.mp4"), real_clip("test.avi"), real_clip("test.avi")]
    assert len(cached.decoded_cache) == 1
    assert cached.decoded_cache.used_bytes == 32 * 256 * 340 * 3


def test_kept_video_reads_like_its_reader():
    path = real_clip("part_0.mp4")
    indices = np.array([5, 0, 31, 5])
    cache = DecodedVideoCache(budget_bytes=2**30)
    with open_video(path, "pyav", 1, "", 1, 30.0) as reader:
        expected = reader.read(indices)
        video = cache.decode_and_keep(path, reader, reader.num_frames)
        assert video.fps == reader.fps
    assert video.num_frames == 32
    np.testing.assert_array_equal(cache.get(path).read(indices), expected)
    assert cache.get("another.mp4") is None
    with pytest.raises(IndexError, match="frame indices 0..32 outside"):
        video.read([0, 32])  # the reader's own checks


def test_budget_arithmetic():
    cache = DecodedVideoCache(budget_bytes=100)
    assert cache.fits(100) and not cache.fits(101)
    assert cache_from_megabytes(0) is None
    assert cache_from_megabytes(1.5).budget_bytes == 3 * 2**19
    with pytest.raises(ValueError, match="budget_bytes must be > 0"):
        DecodedVideoCache(0)


@pytest.mark.parametrize("megabytes, workers, message", [
    (-1, 0, r"DATA.DECODED_CACHE_MB=-1: must be >= 0"),
    (64, 2, r"DATA.DECODED_CACHE_MB=64: needs DATA_LOADER.NUM_WORKERS 0 \(got 2\)"),
])
def test_config_errors_name_the_key(cfg, megabytes, workers, message):
    cfg.TRAIN.DATASET = cfg.TEST.DATASET = "kinetics"
    cfg.DATA.DECODED_CACHE_MB = megabytes
    cfg.DATA_LOADER.NUM_WORKERS = workers
    with pytest.raises(ConfigError, match=message):
        assert_and_infer_cfg(cfg)
