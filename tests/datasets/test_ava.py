"""The AVA dataset on a hand-written official layout, its collate, and the built-in synthetic layout."""
import os

import cv2
import numpy as np
import pytest
import torch

from slowfast.config.defaults import get_cfg
from slowfast.datasets.annotations import AnnotationError
from slowfast.datasets.ava import Ava, centred_clip_indices
from slowfast.datasets.build import build_dataset
from slowfast.datasets.loader import detection_collate

FPS, SECONDS = 5, 6  # frames 900 s .. 906 s at 5 fps: 30 frames per video, keyframes 902..904
HEIGHT, WIDTH = 48, 64


def write_layout(root, gt_rows, predicted_rows, videos=("vidA", "vidB")):
    """A tiny AVA layout; frame i of each video is a flat grey of level 5 * i (its index, readable after JPEG)."""
    lines = ["original_vido_id video_idx frame_idx path labels"]
    for v, video in enumerate(videos):
        os.makedirs(root / "frames" / video)
        for i in range(FPS * SECONDS):
            cv2.imwrite(str(root / "frames" / video / f"{video}_{i + 1:06d}.jpg"), np.full((HEIGHT, WIDTH, 3), 5 * i, np.uint8))
            lines.append(f'{video} {v} {i} {video}/{video}_{i + 1:06d}.jpg ""')
    os.makedirs(root / "lists")
    os.makedirs(root / "ann")
    for split in ("train", "val"):
        (root / "lists" / f"{split}.csv").write_text("\n".join(lines) + "\n")
    (root / "ann" / "ava_train_v2.2.csv").write_text("".join(r + "\n" for r in gt_rows))
    (root / "ann" / "ava_val_predicted_boxes.csv").write_text("".join(r + "\n" for r in predicted_rows))


def ava_cfg(root):
    cfg = get_cfg()
    cfg.AVA.FRAME_DIR, cfg.AVA.FRAME_LIST_DIR, cfg.AVA.ANNOTATION_DIR = str(root / "frames"), str(root / "lists"), str(root / "ann")
    cfg.AVA.FPS, cfg.AVA.VALID_SECONDS, cfg.AVA.DETECTION_SCORE_THRESH = FPS, [902, 904], 0.5
    cfg.MODEL.NUM_CLASSES = 6
    cfg.DATA.NUM_FRAMES, cfg.DATA.SAMPLING_RATE, cfg.SLOWFAST.ALPHA = 4, 2, 4
    cfg.DATA.TRAIN_JITTER_SCALES, cfg.DATA.TRAIN_CROP_SIZE, cfg.DATA.TEST_CROP_SIZE = [48, 48], 48, 48
    cfg.DATA.MEAN, cfg.DATA.STD = [0.0] * 3, [1.0] * 3
    return cfg


GT = [
    "vidA,0902,0.1,0.2,0.5,0.9,3,0",
    "vidA,0902,0.1,0.2,0.5,0.9,5,0",      # the same person's second action: one box, two labels
    "vidA,0902,0.6,0.1,0.9,0.5,1,1",
    "vidB,0904,0.2,0.2,0.6,0.6,2,0",
    "vidB,0907,0.2,0.2,0.6,0.6,2,0",      # outside AVA.VALID_SECONDS: ignored
]
PREDICTED = [
    "vidA,0902,0.11,0.2,0.5,0.9,,0.9",
    "vidA,0903,0.3,0.3,0.6,0.6,,0.2",     # below DETECTION_SCORE_THRESH
    "vidA,0904,0.3,0.3,0.6,0.6,,0.8",
    "vidB,0903,0.2,0.2,0.6,0.6,,0.7",
]


def test_train_items_follow_the_contract(tmp_path):
    write_layout(tmp_path, GT, PREDICTED)
    dataset = build_dataset("ava", ava_cfg(tmp_path), "train")
    assert len(dataset) == 2 and dataset.video_names == ["vidA", "vidB"] and dataset.num_videos == 2
    inputs, labels, index, meta = dataset[0]
    assert [x.shape for x in inputs] == [(3, 1, 48, 48), (3, 4, 48, 48)]  # slow: T // ALPHA(4) = 1
    assert labels.tolist() == [[0, 0, 1, 0, 1, 0], [1, 0, 0, 0, 0, 0]]
    assert index == 0 and meta["dropped_boxes"] == 0
    np.testing.assert_allclose(meta["ori_boxes"], [[0.1, 0.2, 0.5, 0.9], [0.6, 0.1, 0.9, 0.5]], atol=1e-6)
    assert meta["metadata"].tolist() == [[0, 902], [0, 902]]
    # 48x64 frames, short side 48, 48 crop: the boxes are the pixel boxes shifted by the crop's left edge.
    dataset.cfg.DATA.RANDOM_FLIP = False
    boxes = dataset[0][3]["boxes"]
    pixels = torch.tensor([[0.1, 0.2, 0.5, 0.9], [0.6, 0.1, 0.9, 0.5]]) * torch.tensor([64, 48, 64, 48])
    shifted = [(pixels - torch.tensor([left, 0, left, 0])).clamp(0, 48) for left in range(17)]
    assert any(torch.allclose(boxes, candidate, atol=1e-4) for candidate in shifted)


def test_clip_is_centred_on_the_keyframe(tmp_path):
    write_layout(tmp_path, GT, PREDICTED)
    cfg = ava_cfg(tmp_path)
    dataset = Ava(cfg, "val")  # val: predicted boxes >= 0.5; FULL_TEST_ON_VAL False: seconds % 4 == 0 only
    assert [(k.video_index, k.second) for k in dataset.keyframes] == [(0, 904)]
    fast = dataset[0][0][1]
    # keyframe 904 s is frame (904 - 900) * 5 = 20; 4 frames every 2 from 20 - 4: 16, 18, 20, 22.
    assert centred_clip_indices(20, 4, 2, 30).tolist() == [16, 18, 20, 22]
    assert (fast[0, :, 24, 24] * 255 / 5).round().tolist() == [16, 18, 20, 22]
    cfg.AVA.FULL_TEST_ON_VAL = True
    full = Ava(cfg, "val")
    assert [(k.video_index, k.second) for k in full.keyframes] == [(0, 902), (0, 904), (1, 903)]
    assert full[0][1].shape == (1, 6) and full[0][1].sum() == 0  # predicted boxes carry no labels
    assert centred_clip_indices(1, 4, 2, 30).tolist() == [0, 0, 1, 3]  # clamped at the first frame


def test_test_split_keeps_the_whole_frame(tmp_path):
    write_layout(tmp_path, GT, PREDICTED)
    inputs, _, _, meta = Ava(ava_cfg(tmp_path), "test")[0]
    assert inputs[1].shape == (3, 4, 48, 64)
    np.testing.assert_allclose(meta["boxes"], [[0.11 * 64, 0.2 * 48, 0.5 * 64, 0.9 * 48]], atol=1e-4)


def test_annotation_problems_name_file_and_line(tmp_path):
    write_layout(tmp_path, GT + ["vidA,0904,0.1,0.2,0.5,0.9,7,0"], PREDICTED)
    with pytest.raises(AnnotationError, match=r"ava_train_v2.2.csv:6: action_id 7 is outside 1..MODEL.NUM_CLASSES=6"):
        Ava(ava_cfg(tmp_path), "train")
    cfg = ava_cfg(tmp_path)
    cfg.AVA.VALID_SECONDS = [902, 910]
    (tmp_path / "ann" / "ava_train_v2.2.csv").write_text("\n".join(GT) + "\n")
    with pytest.raises(AnnotationError, match=r"ava_train_v2.2.csv:5: keyframe 907 s of 'vidB' is frame 35"):
        Ava(cfg, "train")


def test_detection_collate_concatenates_boxes_with_their_batch_index(tmp_path):
    write_layout(tmp_path, GT, PREDICTED)
    dataset = Ava(ava_cfg(tmp_path), "train")
    dropped = (dataset[0][0], torch.zeros((0, 6)), 5, {"boxes": torch.zeros((0, 4)), "ori_boxes": torch.zeros((0, 4)),
                                                       "metadata": torch.zeros((0, 2), dtype=torch.long),
                                                       "failed": ["x"], "dropped": True})
    inputs, labels, index, meta = detection_collate([dataset[0], dropped, dataset[1]])
    assert [x.shape for x in inputs] == [(2, 3, 1, 48, 48), (2, 3, 4, 48, 48)]
    assert labels.shape == (3, 6) and index.tolist() == [0, 1]
    assert meta["boxes"].shape == (3, 5) and meta["boxes"][:, 0].tolist() == [0, 0, 1]
    assert meta["ori_boxes"][:, 0].tolist() == [0, 0, 1] and meta["ori_boxes"][2, 1:].tolist() == pytest.approx([0.2, 0.2, 0.6, 0.6])
    assert meta["metadata"].tolist() == [[0, 902], [0, 902], [1, 904]]
    assert meta["failed"] == ["x"] and meta["dropped_boxes"] == 0
    empty = detection_collate([dropped])
    assert empty[0][1].shape == (0, 3, 4, 48, 48) and empty[1].shape == (0, 6) and empty[3]["boxes"].shape == (0, 5)


def test_boxes_a_training_crop_misses_are_dropped_and_counted(tmp_path):
    write_layout(tmp_path, ["vidA,0902,0.0,0.1,0.1,0.5,1,0", "vidA,0902,0.4,0.1,0.6,0.5,2,1"], PREDICTED)
    cfg = ava_cfg(tmp_path)
    cfg.DATA.TRAIN_CROP_SIZE = 32  # a 32 px crop of 48x64 frames misses the left box (x < 6.4) unless left <= 5
    dataset = Ava(cfg, "train")
    counts = set()
    for epoch in range(8):
        dataset.set_epoch(epoch)
        _, labels, _, meta = dataset[0]
        assert len(labels) == len(meta["boxes"]) == 2 - meta["dropped_boxes"]
        assert labels[:, 1].sum() == 1  # the middle box is always kept
        counts.add(meta["dropped_boxes"])
    assert counts == {0, 1}
