"""The built-in AVA and Charades layouts: deterministic, parseable, boxes on the actors, scoreable."""
import filecmp
import os

import numpy as np
import pytest
import torch

from slowfast.config.defaults import get_cfg
from slowfast.datasets import synthetic_detection
from slowfast.datasets.ava import Ava, resolve_ava_cfg
from slowfast.datasets.ava_annotations import parse_box_csv, parse_exclusions, parse_frame_lists
from slowfast.engine import ava_metrics


def tiny_cfg(cache_dir, layout="ava", seed=0):
    cfg = get_cfg()
    cfg.SYNTHETIC.LAYOUT, cfg.SYNTHETIC.CACHE_DIR, cfg.SYNTHETIC.SEED = layout, str(cache_dir), seed
    cfg.SYNTHETIC.FRAME_SIZE = [48, 64]
    cfg.SYNTHETIC.AVA_VIDEOS, cfg.SYNTHETIC.AVA_KEYFRAMES = [2, 2], 2
    cfg.SYNTHETIC.CHARADES_VIDEOS, cfg.SYNTHETIC.NUM_FRAMES = [3, 2], 8
    cfg.AVA.FPS = 10  # 30 frames per video instead of 90: the layout does not depend on the rate
    cfg.MODEL.NUM_CLASSES = 8
    cfg.DATA.NUM_FRAMES, cfg.DATA.SAMPLING_RATE = 8, 1
    cfg.DATA.TRAIN_JITTER_SCALES, cfg.DATA.TRAIN_CROP_SIZE, cfg.DATA.TEST_CROP_SIZE = [48, 56], 48, 48
    cfg.AVA.DETECTION_SCORE_THRESH = 0.8
    return cfg


def same_tree(a, b):
    comparison = filecmp.dircmp(a, b)
    if comparison.left_only or comparison.right_only or filecmp.cmpfiles(a, b, comparison.common_files, shallow=False)[1:] != ([], []):
        return False
    return all(same_tree(os.path.join(a, d), os.path.join(b, d)) for d in comparison.common_dirs)


@pytest.mark.parametrize("layout", ["ava", "charades"])
def test_generation_is_deterministic_per_seed(tmp_path, layout):
    first = synthetic_detection.ensure_generated(tiny_cfg(tmp_path / "a", layout), layout)
    second = synthetic_detection.ensure_generated(tiny_cfg(tmp_path / "b", layout), layout)
    other = synthetic_detection.ensure_generated(tiny_cfg(tmp_path / "c", layout, seed=1), layout)
    assert same_tree(first, second) and not same_tree(first, other)
    assert sorted(os.listdir(tmp_path)) == ["a", "b", "c"]  # no staging folder left behind


def test_ava_layout_files_and_boxes_on_the_actors(tmp_path):
    cfg = resolve_ava_cfg(tiny_cfg(tmp_path))
    ava = cfg.AVA
    assert ava.VALID_SECONDS == [901, 902] and ava.FULL_TEST_ON_VAL
    (video,) = [v for v in parse_frame_lists([os.path.join(ava.FRAME_LIST_DIR, "val.csv")], ava.FRAME_DIR)][:1]
    assert video.num_frames == 30 and video.frame_template == "synth_val_000_{:06d}.jpg"
    truth = parse_box_csv(os.path.join(ava.ANNOTATION_DIR, "ava_val_v2.2.csv"), has_score=False)
    assert {r.timestamp for r in truth} == {901, 902} and {r.action_id for r in truth} <= set(range(1, 9))
    per_box = {}
    for row in truth:
        per_box.setdefault((row.key, row.box), []).append(row.action_id)
    assert all(1 <= len(a) <= 3 for a in per_box.values())
    assert parse_exclusions(os.path.join(ava.ANNOTATION_DIR, ava.EXCLUSION_FILE)) == {"synth_val_000,0902"}
    predicted = parse_box_csv(os.path.join(ava.ANNOTATION_DIR, "ava_val_predicted_boxes.csv"), has_score=True)
    assert predicted and all(r.action_id == -1 for r in predicted)
    dataset = Ava(cfg, "test")
    assert len(dataset) == 4 and dataset.video_names == ["synth_val_000", "synth_val_001"]


def test_oracle_scores_reach_a_high_map_and_the_csv_is_written(tmp_path):
    """Scoring each predicted box with the labels of the actor it overlaps: only misses and false
    positives above the threshold keep the mAP below 1."""
    cfg = tiny_cfg(tmp_path)
    cfg.SYNTHETIC.AVA_VIDEOS = [1, 6]
    dataset = Ava(cfg, "val")
    resolved = resolve_ava_cfg(cfg)
    truth_boxes, truth_labels, _ = ava_metrics.read_csv(os.path.join(resolved.AVA.ANNOTATION_DIR, "ava_val_v2.2.csv"))
    scores, ori_boxes, metadata = [], [], []
    for keyframe in dataset.keyframes:
        key = f"{dataset.video_names[keyframe.video_index]},{keyframe.second:04d}"
        for box in keyframe.boxes:
            iou = ava_metrics.iou_matrix(box[None], truth_boxes[key])[0]
            row = torch.zeros(8)
            if iou.max() >= 0.5:
                for b, label in zip(truth_boxes[key], truth_labels[key]):
                    if np.allclose(b, truth_boxes[key][int(iou.argmax())]):
                        row[label - 1] = 1.0
            scores.append(row * 0.9 + 0.05)
            ori_boxes.append([0.0, *box.tolist()])
            metadata.append([keyframe.video_index, keyframe.second])
    csv_path = str(tmp_path / "detections.csv")
    result = ava_metrics.evaluate_ava(cfg, torch.stack(scores), torch.tensor(ori_boxes), torch.tensor(metadata),
                                      dataset.video_names, csv_path, split="val")
    assert 0.8 <= result["map"] <= 1.0 and set(result["per_class"]) == set(synthetic_detection.ACTIONS)
    lines = open(csv_path).read().splitlines()
    assert len(lines) == 8 * len(scores)
    assert lines[0].startswith(f"{dataset.video_names[0]},0901,") and len(lines[0].split(",")) == 8


def test_charades_layout(tmp_path):
    root = synthetic_detection.ensure_generated(tiny_cfg(tmp_path, "charades"), "charades")
    videos = parse_frame_lists([os.path.join(root, "train.csv")], os.path.join(root, "frames"))
    assert len(videos) == 3 and all(v.num_frames == 8 for v in videos)
    assert all(1 <= len(v.labels) <= 3 and set(v.labels) <= set(range(8)) for v in videos)
    assert all(v.frame_labels == [v.labels] * 8 for v in videos)


@pytest.mark.parametrize("seed", range(6))
def test_an_actors_box_is_the_bounding_box_of_its_pixels(seed):
    rng = np.random.default_rng(seed)
    actor = synthetic_detection._new_actor(rng, 64, 96, slot=seed % 2, num_slots=2, fps=10.0)
    actor.angle += 37.0 * seed
    canvas = np.zeros((64, 96, 3), np.uint8)
    box = synthetic_detection._draw(canvas, actor)
    ys, xs = np.nonzero(canvas.astype(int).sum(axis=2) > 0.5 * sum(actor.body_colour))  # past the antialiased rim
    np.testing.assert_allclose([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], box, atol=2.0)  # AA rim: ~1.5 px


def test_scenes_keep_actions_on_distinct_axes_and_actors_in_view():
    segment_of = lambda t: t // 10  # noqa: E731
    for seed in range(4):
        frames, boxes, actions = synthetic_detection.render_scene(seed, 30, 64, 96, 2, segment_of, fps=10.0)
        assert frames.shape == (30, 64, 96, 3) and boxes.shape == (30, 2, 4) and len(actions) == 3
        kind = {a: k for k, kind_actions in enumerate(synthetic_detection.KINDS) for a in kind_actions}
        assert all(1 <= len(a) <= 3 and len({kind[x] for x in a}) == len(a) for seg in actions for a in seg)
        widths, heights = boxes[..., 2] - boxes[..., 0], boxes[..., 3] - boxes[..., 1]
        assert widths.min() > 4 and heights.min() > 4  # never out of view


def test_a_layout_is_read_by_its_own_dataset_only(tmp_path):
    from slowfast.datasets.charades import Charades
    from slowfast.utils.errors import ConfigError

    cfg = tiny_cfg(tmp_path, "ava")
    with pytest.raises(ConfigError, match="SYNTHETIC.LAYOUT='ava' generates data for the 'ava' dataset, not 'charades'"):
        Charades(cfg, "train")
    cfg.SYNTHETIC.LAYOUT = "kinetics"
    with pytest.raises(ConfigError, match="SYNTHETIC.LAYOUT='kinetics' is not a built-in layout"):
        Ava(cfg, "train")
    assert os.listdir(tmp_path) == []  # nothing generated
