"""Charades: SlowFast's frame lists and multi-label video CSVs, multi-hot labels, the built-in layout."""
import pytest
import torch

from slowfast.datasets.annotations import AnnotationError
from slowfast.datasets.build import build_dataset
from slowfast.datasets.charades import Charades
from slowfast.datasets.loader import collate
from slowfast.utils.errors import DataError
from tests.datasets.dataset_helpers import tiny_cfg, write_frame_folder, write_lines


def frame_list(videos):
    """SlowFast's Charades frame list for ``{video_id: [labels of each frame]}``."""
    lines = ["original_vido_id video_id frame_id path labels"]
    for v, (video, frames) in enumerate(videos.items()):
        empty = '""'
        lines += [f"{video} {v} {i} {video}/{video}-{i + 1:06d}.jpg {labels or empty}" for i, labels in enumerate(frames)]
    return lines


def write_frames_layout(tmp_path, videos):
    for video, frames in videos.items():
        write_frame_folder(tmp_path / "frames" / video, len(frames), template=f"{video}-{{:06d}}.jpg")
    for split in ("train", "val"):
        write_lines(tmp_path / f"{split}.csv", frame_list(videos))
    return tiny_cfg(tmp_path, prefix=str(tmp_path / "frames"), num_classes=157)


VIDEOS = {"46GP8": ["1,4"] * 10 + ["4,7"] * 10, "N11GT": [""] * 12 + ["156"] * 8}


def test_frame_lists_give_multi_hot_video_labels(tmp_path):
    cfg = write_frames_layout(tmp_path, VIDEOS)
    dataset = build_dataset("charades", cfg, "train")
    assert dataset.num_videos == 2
    inputs, label, index, _ = dataset[0]
    assert [x.shape for x in inputs] == [(3, 2, 32, 32), (3, 8, 32, 32)]
    assert label.dtype == torch.float32 and label.shape == (157,)
    assert torch.nonzero(label).flatten().tolist() == [1, 4, 7] and index == 0
    assert torch.nonzero(dataset[1][1]).flatten().tolist() == [156]
    batch = collate([dataset[0], dataset[1]])
    assert batch[1].shape == (2, 157) and batch[1].dtype == torch.float32


def test_test_split_reads_val_with_every_view(tmp_path):
    cfg = write_frames_layout(tmp_path, VIDEOS)
    dataset = Charades(cfg, "test")
    assert dataset.annotation_path.endswith("val.csv") and len(dataset) == 2 * 2 * 3
    inputs, label, video, meta = dataset[5]
    assert video == 0 and meta["view_index"] == 5 and inputs[1].shape == (3, 8, 40, 40)
    assert torch.nonzero(label).flatten().tolist() == [1, 4, 7]


def test_multilabel_video_csv(tmp_path, make_index_video):
    make_index_video("a.mp4", 40)
    make_index_video("b.mp4", 40)
    write_lines(tmp_path / "train.csv", ["a.mp4 1,4,7", "b.mp4 0"])
    dataset = Charades(tiny_cfg(tmp_path, prefix=str(tmp_path), num_classes=10), "train")
    assert torch.nonzero(dataset[0][1]).flatten().tolist() == [1, 4, 7]
    assert dataset[1][1].tolist() == [1.0] + [0.0] * 9
    assert dataset[0][0][1].shape == (3, 8, 32, 32)


@pytest.mark.parametrize("lines, message", [
    (["a.mp4 1,4,12"], r"train\.csv:1: labels \[12\] are out of range \[0, 10\)"),
    (["a.mp4 1,x"], r"train\.csv:1: labels '1,x' are not comma-separated integers"),
    (["a.mp4"], r"train\.csv:1: expected 'path labels'"),
])
def test_bad_lines_name_file_and_line(tmp_path, lines, message):
    write_lines(tmp_path / "train.csv", lines)
    with pytest.raises(AnnotationError, match=message):
        Charades(tiny_cfg(tmp_path, num_classes=10), "train")


def test_bad_lines_are_collected_for_data_checks(tmp_path):
    write_lines(tmp_path / "train.csv", ["a.mp4 1", "b.mp4 11", "c.mp4 2"])
    errors = []
    dataset = Charades(tiny_cfg(tmp_path, num_classes=10), "train", on_annotation_error=lambda e: errors.append(str(e)))
    assert dataset.num_videos == 2 and len(errors) == 1 and "train.csv:2" in errors[0]


def test_a_data_directory_or_the_builtin_layout_is_required(tmp_path):
    cfg = tiny_cfg("", num_classes=8)
    with pytest.raises(DataError, match="DATA.PATH_TO_DATA_DIR is required by the charades dataset"):
        Charades(cfg, "train")
    cfg.SYNTHETIC.LAYOUT, cfg.SYNTHETIC.CACHE_DIR = "charades", str(tmp_path / "cache")
    cfg.SYNTHETIC.CHARADES_VIDEOS, cfg.SYNTHETIC.NUM_FRAMES, cfg.SYNTHETIC.FRAME_SIZE = [2, 1], 16, [48, 64]
    train, val = Charades(cfg, "train"), Charades(cfg, "val")
    assert (train.num_videos, val.num_videos) == (2, 1)
    _, label, _, _ = train[0]
    assert 1 <= label.sum() <= 3 and label.shape == (8,)
