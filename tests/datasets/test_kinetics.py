"""Kinetics csv lists on real clips (tests/data/real_clips): variants, items, test views."""
import collections

import pytest
import torch

from slowfast.datasets import build_dataset
from slowfast.datasets.annotations import AnnotationError
from tests.datasets.dataset_helpers import REAL_CLIPS, tiny_cfg, write_lines, write_split_files

CLIPS = ["part_0.mp4 1", "test.avi 2", "demo.mp4 6"]


@pytest.fixture
def kinetics_cfg(tmp_path):
    write_split_files(tmp_path, CLIPS)
    return tiny_cfg(tmp_path, prefix=REAL_CLIPS)


def test_registered_case_insensitively(kinetics_cfg):
    dataset = build_dataset("KINETICS", kinetics_cfg, "train")
    assert type(dataset).__name__ == "Kinetics"
    assert dataset.num_videos == len(dataset) == 3
    assert [r.label for r in dataset.records] == [1, 2, 6]


def test_train_item_contract_and_determinism(kinetics_cfg):
    dataset = build_dataset("kinetics", kinetics_cfg, "train")
    inputs, label, video_index, meta = dataset[1]
    assert [tuple(x.shape) for x in inputs] == [(3, 2, 32, 32), (3, 8, 32, 32)]
    assert inputs[0].dtype == torch.float32
    assert (label, video_index, meta) == (2, 1, {"view_index": 0, "failed": []})
    # slow = fast frames linspace(0, 7, 2) = [0, 7]
    assert torch.equal(inputs[0], inputs[1][:, [0, 7]])
    again = dataset[1][0][1]
    assert torch.equal(inputs[1], again)  # same (seed, epoch, index) -> same clip and crop
    dataset.set_epoch(1)
    assert not torch.equal(inputs[1], dataset[1][0][1])  # another epoch, another augmentation


def test_single_pathway_arch_gives_one_input(kinetics_cfg):
    kinetics_cfg.MODEL.ARCH = "slow"
    inputs, *_ = build_dataset("kinetics", kinetics_cfg, "val")[0]
    assert [tuple(x.shape) for x in inputs] == [(3, 8, 32, 32)]


def test_val_is_deterministic_centre_view(kinetics_cfg):
    dataset = build_dataset("kinetics", kinetics_cfg, "val")
    first = dataset[2][0][1]
    dataset.set_epoch(3)
    assert torch.equal(first, dataset[2][0][1])
    assert first.shape == (3, 8, 32, 32)


def test_test_split_has_every_video_view_and_crop_once(kinetics_cfg):
    kinetics_cfg.TEST.NUM_ENSEMBLE_VIEWS, kinetics_cfg.TEST.NUM_SPATIAL_CROPS = 2, 3
    dataset = build_dataset("kinetics", kinetics_cfg, "test")
    assert dataset.num_videos == 3 and len(dataset) == 3 * 2 * 3
    seen = collections.Counter()
    crops = {}
    for i in range(len(dataset)):
        inputs, label, video_index, meta = dataset[i]
        assert [tuple(x.shape) for x in inputs] == [(3, 2, 40, 40), (3, 8, 40, 40)]
        assert label == [1, 2, 6][video_index]
        seen[(video_index, meta["view_index"])] += 1
        crops[(video_index, meta["view_index"])] = inputs[1]
    assert seen == {(v, w): 1 for v in range(3) for w in range(6)}
    # views 0..2 share temporal clip 0 with crops left/centre/right; view 3 is the second clip
    assert not torch.equal(crops[(0, 0)], crops[(0, 1)])
    assert not torch.equal(crops[(0, 0)], crops[(0, 3)])


def test_single_centre_crop_when_one_spatial_crop(kinetics_cfg):
    kinetics_cfg.TEST.NUM_ENSEMBLE_VIEWS, kinetics_cfg.TEST.NUM_SPATIAL_CROPS = 1, 1
    one = build_dataset("kinetics", kinetics_cfg, "test")
    kinetics_cfg.TEST.NUM_SPATIAL_CROPS = 3
    three = build_dataset("kinetics", kinetics_cfg, "test")
    assert len(one) == 3 and len(three) == 9
    assert torch.equal(one[0][0][1], three[1][0][1])  # crop index 1 = centre


def test_csv_variants_separator_and_prefix(tmp_path):
    write_split_files(tmp_path, [f"{REAL_CLIPS}/part_0.mp4,300,4", f"{REAL_CLIPS}/test.avi,90,5"])
    cfg = tiny_cfg(tmp_path)
    cfg.DATA.PATH_LABEL_SEPARATOR = ","
    dataset = build_dataset("kinetics", cfg, "train")
    assert [r.label for r in dataset.records] == [4, 5]
    assert dataset[0][1] == 4


def test_bad_list_fails_at_construction_naming_file_and_line(tmp_path):
    write_split_files(tmp_path, ["part_0.mp4 1", "test.avi 10"])
    cfg = tiny_cfg(tmp_path, prefix=REAL_CLIPS)
    with pytest.raises(AnnotationError, match=r"train.csv:2: label 10 is out of range \[0, 10\)"):
        build_dataset("kinetics", cfg, "train")
    write_lines(tmp_path / "val.csv", ["part_0.mp4 1 2 3"])
    with pytest.raises(AnnotationError, match="val.csv:1"):
        build_dataset("kinetics", cfg, "val")
    write_lines(tmp_path / "val.csv", ["part_0.mp4 1", "test.avi"])  # would have been class 0
    with pytest.raises(AnnotationError, match="val.csv:2: 1 field .*first line .*val.csv:1 has 2"):
        build_dataset("kinetics", cfg, "val")


def test_unlabelled_test_list_is_valid(tmp_path):
    write_split_files(tmp_path, ["part_0.mp4", "test.avi"], splits=("test",))
    dataset = build_dataset("kinetics", tiny_cfg(tmp_path, prefix=REAL_CLIPS), "test")
    assert {r.label for r in dataset.records} == {0} and len(dataset.records) == 2


def test_missing_list_names_the_directory_key(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"DATA.PATH_TO_DATA_DIR.*train.csv"):
        build_dataset("kinetics", tiny_cfg(tmp_path), "train")


def test_crop_larger_than_jitter_scale_fails_at_construction(kinetics_cfg):
    kinetics_cfg.DATA.TRAIN_CROP_SIZE = 41
    with pytest.raises(ValueError, match=r"DATA.TRAIN_JITTER_SCALES\[0\]=40 is below DATA.TRAIN_CROP_SIZE=41"):
        build_dataset("kinetics", kinetics_cfg, "train")


def test_three_crops_of_a_clip_decode_it_once(kinetics_cfg):
    kinetics_cfg.TEST.NUM_ENSEMBLE_VIEWS, kinetics_cfg.TEST.NUM_SPATIAL_CROPS = 2, 3
    dataset = build_dataset("kinetics", kinetics_cfg, "test")
    opened = []
    open_reader = dataset.open_reader
    dataset.open_reader = lambda record: opened.append(record.path) or open_reader(record)
    for i in range(len(dataset)):
        dataset[i]
    assert len(opened) == 3 * 2  # one decode per (video, temporal view), not per crop


def test_unsupported_crop_count_fails_at_construction(kinetics_cfg):
    kinetics_cfg.TEST.NUM_SPATIAL_CROPS = 2
    with pytest.raises(ValueError, match="TEST.NUM_SPATIAL_CROPS must be 1 or 3, got 2"):
        build_dataset("kinetics", kinetics_cfg, "test")
