"""Jester-v1 in both layouts (official frame folders + CSVs, Efficient-SlowFast mp4 lists)."""
import os

import pytest
import torch

from slowfast.datasets import build_dataset, transforms
from slowfast.datasets.annotations import AnnotationError
from tests.datasets.dataset_helpers import tiny_cfg, write_frame_folder, write_lines
from tests.datasets.video_fixtures import write_index_video

NAMES = ["Swiping Left", "Swiping Right", "Thumb Up"]


@pytest.fixture
def official(tmp_path):
    """Official layout: 3 train and 2 validation folders of 10 JPEGs (00001.jpg ...)."""
    annotations, frames = tmp_path / "annotations", tmp_path / "20bn-jester-v1"
    annotations.mkdir()
    write_lines(annotations / "jester-v1-labels.csv", NAMES)
    write_lines(annotations / "jester-v1-train.csv", ["1;Swiping Left", "2;Thumb Up", "3;Swiping Right"])
    write_lines(annotations / "jester-v1-validation.csv", ["4;Thumb Up", "5;Swiping Left"])
    for video_id in range(1, 6):
        write_frame_folder(frames / str(video_id), 10, seed=video_id)
    cfg = tiny_cfg(annotations, prefix=frames, num_classes=27)
    cfg.DATA.TARGET_FPS = 12
    cfg.DATA.SAMPLING_RATE = 1
    return cfg


@pytest.fixture
def efficient(tmp_path):
    """Efficient-SlowFast layout: <root>/<id>/<id>.mp4 and 1-based '<id> <label>' lists."""
    root = tmp_path / "videos"
    for video_id in ("10", "11", "12"):
        os.makedirs(root / video_id)
        write_index_video(str(root / video_id / f"{video_id}.mp4"), 24, fps=12)
    write_lines(tmp_path / "trainlist.txt", ["10 1", "11 3"])  # 1-based, like the baseline repo
    write_lines(tmp_path / "vallist.txt", ["12 2"])
    cfg = tiny_cfg(tmp_path, prefix=root, num_classes=3)
    cfg.DATA.TARGET_FPS = 12
    return cfg


def test_official_layout_reads_frame_folders(official):
    dataset = build_dataset("jester", official, "train")
    assert [r.label for r in dataset.records] == [0, 2, 1]
    assert dataset.options.backend == "frames" and dataset.options.fps == 12.0
    inputs, label, video_index, meta = dataset[1]
    assert [tuple(x.shape) for x in inputs] == [(3, 2, 32, 32), (3, 8, 32, 32)]
    assert (label, video_index, meta["failed"]) == (2, 1, [])


def test_official_test_split_evaluates_the_validation_list(official):
    official.TEST.NUM_ENSEMBLE_VIEWS, official.TEST.NUM_SPATIAL_CROPS = 2, 1
    val = build_dataset("jester", official, "val")
    test = build_dataset("jester", official, "test")
    assert val.annotation_path == test.annotation_path
    assert test.annotation_path.endswith("jester-v1-validation.csv")
    assert [r.label for r in test.records] == [2, 0]
    assert len(test) == 2 * 2 * 1
    assert sorted((test[i][2], test[i][3]["view_index"]) for i in range(len(test))) == [(0, 0), (0, 1), (1, 0), (1, 1)]


def test_jester_never_flips(official, monkeypatch):
    def no_flip(*args, **kwargs):
        raise AssertionError("Jester must not flip: left/right gestures would swap")

    monkeypatch.setattr(transforms, "random_horizontal_flip", no_flip)
    official.DATA.RANDOM_FLIP = True
    dataset = build_dataset("jester", official, "train")
    for index in range(len(dataset)):
        dataset[index]
    dataset.allow_flip = True  # the patch is effective: a flipping dataset reaches it
    with pytest.raises(AssertionError, match="must not flip"):
        dataset[0]


def test_efficient_lists_one_based_rejected_then_converted(efficient):
    with pytest.raises(AnnotationError, match=r"trainlist.txt:2: .*set DATA.ONE_BASED_LABELS True"):
        build_dataset("jester", efficient, "train")
    efficient.DATA.ONE_BASED_LABELS = True
    train = build_dataset("jester", efficient, "train")
    assert [r.label for r in train.records] == [0, 2]
    assert train.records[0].path.endswith(os.path.join("10", "10.mp4"))
    inputs, label, video_index, _ = train[1]
    assert label == 2 and inputs[1].shape == (3, 8, 32, 32)
    test = build_dataset("jester", efficient, "test")
    assert test.annotation_path.endswith("vallist.txt") and [r.label for r in test.records] == [1]


def test_missing_annotations_name_both_layouts(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"jester-v1-labels.csv.*trainlist.txt"):
        build_dataset("jester", tiny_cfg(tmp_path, num_classes=27), "train")


def test_train_items_are_reproducible_per_epoch(official):
    dataset = build_dataset("jester", official, "train")
    first = [dataset[i][0][1] for i in range(3)]
    assert all(torch.equal(a, dataset[i][0][1]) for i, a in enumerate(first))
