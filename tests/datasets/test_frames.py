"""Generic frame folders (mmaction2 lists) on the real rawframe fixture and damaged folders."""
import os
import shutil

import pytest
import torch

from slowfast.datasets import build_dataset
from slowfast.datasets.annotations import AnnotationError
from tests.datasets.dataset_helpers import REAL_CLIPS, tiny_cfg, write_split_files


@pytest.fixture
def frames_cfg(tmp_path):
    """tests/data/real_clips/imgs: 10 JPEGs img_00001.jpg ... (320x240). One list, one format:
    both lines give an offset (0, the plain list's start, and 2)."""
    write_split_files(tmp_path, ["imgs 0 10 3", "imgs 2 8 4"], ext=".txt")
    cfg = tiny_cfg(tmp_path, prefix=REAL_CLIPS)
    cfg.DATA.SAMPLING_RATE = 1
    return cfg


def test_lists_with_zero_and_nonzero_offset(frames_cfg):
    dataset = build_dataset("frames", frames_cfg, "train")
    plain, offset = dataset.records
    assert (plain.num_frames, plain.start_index, plain.label) == (10, 1, 3)
    assert (offset.num_frames, offset.start_index, offset.label) == (8, 3, 4)
    assert dataset.options.backend == "frames"
    assert dataset.options.fps == frames_cfg.DATA.TARGET_FPS  # FRAME_FOLDER_FPS 0: no resampling
    inputs, label, video_index, meta = dataset[1]
    assert [tuple(x.shape) for x in inputs] == [(3, 2, 32, 32), (3, 8, 32, 32)]
    assert (label, video_index, meta["failed"]) == (4, 1, [])


def test_offset_selects_the_frames_after_it(frames_cfg):
    """With 8 frames listed at offset 2 and one 8-frame view, the clip is files 3..10."""
    frames_cfg.TEST.NUM_ENSEMBLE_VIEWS, frames_cfg.TEST.NUM_SPATIAL_CROPS = 1, 1
    frames_cfg.MODEL.ARCH = "slow"
    dataset = build_dataset("frames", frames_cfg, "test")
    plain_clip, offset_clip = dataset[0][0][0], dataset[1][0][0]
    # the plain list's 10 frames give a centred 8-frame clip: files 2..9; so plain frames 1..7
    # (files 3..9) equal the offset clip's frames 0..6 (files 3..9)
    assert torch.equal(plain_clip[:, 1:], offset_clip[:, :7])
    assert not torch.equal(plain_clip[:, 0], offset_clip[:, 0])


def test_csv_name_is_preferred_and_labels_checked(tmp_path):
    write_split_files(tmp_path, ["imgs 10 12"], ext=".csv")
    with pytest.raises(AnnotationError, match=r"train.csv:1: label 12 is out of range"):
        build_dataset("frames", tiny_cfg(tmp_path, prefix=REAL_CLIPS), "train")


def test_folder_shorter_than_listed_is_a_decode_failure(tmp_path):
    folder = tmp_path / "clip"
    shutil.copytree(os.path.join(REAL_CLIPS, "imgs"), folder)
    write_split_files(tmp_path, ["clip 12 0"], ext=".txt")  # lists 12, has 10
    cfg = tiny_cfg(tmp_path, prefix=tmp_path)
    cfg.TEST.NUM_ENSEMBLE_VIEWS, cfg.TEST.NUM_SPATIAL_CROPS = 1, 1
    inputs, label, video_index, meta = build_dataset("frames", cfg, "test")[0]
    assert meta["dropped"] and meta["failed"] == [str(folder)]
