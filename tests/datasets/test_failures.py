"""Every kind of bad video, damaged by the test itself: replaced in training, dropped in testing,
always reported by path, never a crash, never None, never an endless loop."""
import os

import pytest
import torch

from slowfast.datasets import build_dataset
from slowfast.datasets.failures import DecodeRetriesExhausted
from slowfast.datasets.loader import construct_loader
from tests.datasets.dataset_helpers import REAL_CLIPS, copy_file, real_clip, tiny_cfg, write_split_files
from tests.datasets.video_fixtures import DAMAGE_KINDS, damage_video

GOOD = real_clip("part_0.mp4")


def damaged_list(tmp_path, kind):
    """train/val/test lists of [damaged, good]; returns (cfg, damaged path)."""
    bad = damage_video(GOOD, str(tmp_path / f"bad_{kind}.mp4"), kind)
    write_split_files(tmp_path, [f"{bad} 3", f"{GOOD} 5"])
    return tiny_cfg(tmp_path), bad


@pytest.mark.parametrize("kind", DAMAGE_KINDS)
def test_train_replaces_and_reports(tmp_path, kind):
    cfg, bad = damaged_list(tmp_path, kind)
    inputs, label, video_index, meta = build_dataset("kinetics", cfg, "train")[0]
    assert (label, video_index) == (5, 1)  # the good video took its place
    assert meta["failed"] and set(meta["failed"]) == {bad}
    assert inputs[1].shape == (3, 8, 32, 32) and torch.isfinite(inputs[1]).all()


@pytest.mark.parametrize("kind", DAMAGE_KINDS)
def test_test_drops_and_reports(tmp_path, kind):
    cfg, bad = damaged_list(tmp_path, kind)
    cfg.TEST.NUM_ENSEMBLE_VIEWS, cfg.TEST.NUM_SPATIAL_CROPS, cfg.TEST.BATCH_SIZE = 1, 3, 4
    batches = list(construct_loader(cfg, "test"))
    # items: 3 views of the bad video, then 3 of the good one -> batches of 4 and 2
    (inputs, labels, video_index, meta), (inputs2, labels2, video_index2, meta2) = batches
    assert meta["failed"] == [bad] * 3 and meta2["failed"] == []
    assert labels.tolist() == [5] and video_index.tolist() == [1] and meta["view_index"].tolist() == [0]
    assert [tuple(x.shape) for x in inputs] == [(1, 3, 2, 40, 40), (1, 3, 8, 40, 40)]
    assert labels2.tolist() == [5, 5] and meta2["view_index"].tolist() == [1, 2]


def test_unreadable_frame_in_a_folder(tmp_path):
    folder = tmp_path / "clip"
    for i in range(1, 11):
        copy_file(os.path.join(REAL_CLIPS, "imgs", f"img_{i:05d}.jpg"), folder / f"img_{i:05d}.jpg")
    with open(folder / "img_00005.jpg", "wb") as f:
        f.write(b"not a jpeg")
    write_split_files(tmp_path, ["clip 10 1", "imgs 10 2"], ext=".txt")
    cfg = tiny_cfg(tmp_path, prefix=tmp_path)
    cfg.DATA.SAMPLING_RATE = 1  # any 8 of the 10 frames include the 5th
    os.symlink(os.path.join(REAL_CLIPS, "imgs"), tmp_path / "imgs")
    inputs, label, video_index, meta = build_dataset("frames", cfg, "train")[0]
    assert (label, video_index, meta["failed"]) == (2, 1, [str(folder)])
    cfg.TEST.NUM_ENSEMBLE_VIEWS, cfg.TEST.NUM_SPATIAL_CROPS = 1, 1
    _, _, _, meta = build_dataset("frames", cfg, "test")[0]
    assert meta["dropped"] and meta["failed"] == [str(folder)]


def test_retries_are_bounded_then_a_clear_error(tmp_path):
    bad = [damage_video(GOOD, str(tmp_path / f"bad{i}.mp4"), "garbage", seed=i) for i in range(2)]
    write_split_files(tmp_path, [f"{path} 0" for path in bad])
    cfg = tiny_cfg(tmp_path)
    cfg.DATA.MAX_DECODE_RETRIES = 3
    with pytest.raises(DecodeRetriesExhausted, match=r"4 videos in a row failed to decode \(DATA.MAX_DECODE_RETRIES=3\)") as error:
        build_dataset("kinetics", cfg, "train")[0]
    assert len(error.value.failed_paths) == 4 and set(error.value.failed_paths) <= set(bad)


def test_all_dropped_batch_is_empty_but_well_formed(tmp_path):
    bad = damage_video(GOOD, str(tmp_path / "bad.mp4"), "zero_bytes")
    write_split_files(tmp_path, [f"{bad} 1"])
    cfg = tiny_cfg(tmp_path)
    cfg.TEST.NUM_ENSEMBLE_VIEWS, cfg.TEST.NUM_SPATIAL_CROPS = 1, 3
    (inputs, labels, video_index, meta), = list(construct_loader(cfg, "test"))
    assert [tuple(x.shape) for x in inputs] == [(0, 3, 2, 40, 40), (0, 3, 8, 40, 40)]
    assert labels.shape == video_index.shape == meta["view_index"].shape == (0,)
    assert meta["failed"] == [bad] * 3


def test_failures_travel_from_worker_processes(tmp_path):
    cfg, bad = damaged_list(tmp_path, "truncated")
    write_split_files(tmp_path, [f"{bad} 3", f"{GOOD} 5"] * 2)
    cfg.DATA_LOADER.NUM_WORKERS = 2
    failed = [path for _, _, _, meta in construct_loader(cfg, "train") for path in meta["failed"]]
    assert failed and set(failed) == {bad}
    cfg.TEST.NUM_ENSEMBLE_VIEWS, cfg.TEST.NUM_SPATIAL_CROPS, cfg.TEST.BATCH_SIZE = 1, 1, 1
    batches = list(construct_loader(cfg, "test"))
    assert [meta["failed"] for *_, meta in batches] == [[bad], [], [bad], []]
    assert [labels.tolist() for _, labels, _, _ in batches] == [[], [5], [], [5]]
