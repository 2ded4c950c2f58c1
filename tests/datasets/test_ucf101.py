"""UCF101 / HMDB51 official split lists on a real AVI (MPEG-4 + MP3 audio)."""
import pytest
import torch

from slowfast.datasets import build_dataset
from slowfast.datasets.annotations import AnnotationError
from tests.datasets.dataset_helpers import copy_file, real_clip, tiny_cfg, write_lines


@pytest.fixture
def ucf_cfg(tmp_path):
    videos = tmp_path / "UCF-101"
    copy_file(real_clip("test.avi"), videos / "ApplyEyeMakeup" / "v_ApplyEyeMakeup_g01_c01.avi")
    copy_file(real_clip("part_0.mp4"), videos / "Archery" / "v_Archery_g08_c01.avi")
    write_lines(tmp_path / "classInd.txt", ["1 ApplyEyeMakeup", "2 Archery"])
    write_lines(tmp_path / "trainlist01.txt", ["Archery/v_Archery_g08_c01.avi 2"])
    write_lines(tmp_path / "testlist01.txt", ["ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi",
                                              "Archery/v_Archery_g08_c01.avi"])
    return tiny_cfg(tmp_path, prefix=videos, num_classes=2)


@pytest.mark.parametrize("name", ["ucf101", "Hmdb51"])
def test_official_split_lists(ucf_cfg, name):
    train = build_dataset(name, ucf_cfg, "train")
    assert [r.label for r in train.records] == [1]
    inputs, label, video_index, meta = train[0]
    assert [tuple(x.shape) for x in inputs] == [(3, 2, 32, 32), (3, 8, 32, 32)]
    assert (label, video_index, meta["failed"]) == (1, 0, [])
    test = build_dataset(name, ucf_cfg, "test")
    assert [r.label for r in test.records] == [0, 1]
    assert len(test) == 2 * 2 * 3
    inputs, label, video_index, meta = test[0]  # the AVI, first view, left crop
    assert (label, video_index, meta["view_index"]) == (0, 0, 0) and inputs[1].shape == (3, 8, 40, 40)
    assert build_dataset(name, ucf_cfg, "val").annotation_path.endswith("testlist01.txt")


def test_split_id_selects_the_lists(ucf_cfg):
    ucf_cfg.DATA.SPLIT_ID = 2
    with pytest.raises(FileNotFoundError, match="trainlist02.txt"):
        build_dataset("ucf101", ucf_cfg, "train")
    ucf_cfg.DATA.SPLIT_ID = 4
    with pytest.raises(ValueError, match="DATA.SPLIT_ID"):
        build_dataset("ucf101", ucf_cfg, "train")


def test_label_column_must_agree_with_class_index(ucf_cfg, tmp_path):
    write_lines(tmp_path / "trainlist01.txt", ["Archery/v_Archery_g08_c01.avi 1"])
    with pytest.raises(AnnotationError, match=r"trainlist01.txt:1: label 1 disagrees"):
        build_dataset("ucf101", ucf_cfg, "train")


def test_hmdb51_own_split_files(tmp_path):
    videos = tmp_path / "hmdb51"
    copy_file(real_clip("test.avi"), videos / "brush_hair" / "b1.avi")
    copy_file(real_clip("part_0.mp4"), videos / "wave" / "w1.avi")
    write_lines(tmp_path / "brush_hair_test_split1.txt", ["b1.avi 2"])
    write_lines(tmp_path / "wave_test_split1.txt", ["w1.avi 1"])
    cfg = tiny_cfg(tmp_path, prefix=videos, num_classes=51)
    train = build_dataset("hmdb51", cfg, "train")
    test = build_dataset("hmdb51", cfg, "test")
    assert [(r.label, r.path) for r in train.records] == [(1, str(videos / "wave" / "w1.avi"))]
    assert [r.label for r in test.records] == [0]
    assert isinstance(train[0][0][0], torch.Tensor)
