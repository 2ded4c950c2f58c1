"""AVA frame mAP: hand-computed APs, agreement with an independent reference, Charades mAP."""
import math

import numpy as np
import pytest
import torch

from slowfast.config.defaults import get_cfg
from slowfast.engine import ava_metrics
from slowfast.engine.ava_metrics import average_precision, charades_map, frame_map, iou_matrix

CATS = [{"id": 1, "name": "stand"}, {"id": 2, "name": "sit"}, {"id": 3, "name": "talk"}]
BOX_A = (0.1, 0.1, 0.4, 0.6)
BOX_B = (0.5, 0.2, 0.9, 0.9)
BOX_OFF = (0.6, 0.6, 0.7, 0.7)  # IoU with BOX_B 0.01/0.28, with BOX_A 0


def gt(*rows):
    """rows (key, box, label) -> (boxes, labels) dicts."""
    boxes, labels = {}, {}
    for key, box, label in rows:
        boxes.setdefault(key, []).append(box)
        labels.setdefault(key, []).append(label)
    return boxes, labels


def det(*rows):
    """rows (key, box, label, score) -> (boxes, labels, scores) dicts."""
    boxes, labels, scores = {}, {}, {}
    for key, box, label, score in rows:
        boxes.setdefault(key, []).append(box)
        labels.setdefault(key, []).append(label)
        scores.setdefault(key, []).append(score)
    return boxes, labels, scores


def test_iou_matrix_values():
    iou = iou_matrix([[0, 0, 2, 2]], [[1, 1, 3, 3], [0, 0, 2, 2], [5, 5, 6, 6]])
    np.testing.assert_allclose(iou, [[1 / 7, 1.0, 0.0]])


def test_hand_computed_ap_with_a_false_positive_between_hits():
    # 2 GT of "stand"; ranked: TP (0.9), FP (0.8), TP (0.7) -> P = 1, 1/2, 2/3 at R = .5, .5, 1
    # interpolated: 1 on [0, .5], 2/3 on (.5, 1] -> AP = .5 + .5 * 2/3 = 5/6.
    truth = gt(("v,0902", BOX_A, 1), ("v,0903", BOX_B, 1))
    dets = det(("v,0902", BOX_A, 1, 0.9), ("v,0902", BOX_OFF, 1, 0.8), ("v,0903", BOX_B, 1, 0.7))
    mean_ap, per_class = frame_map(truth, dets, CATS[:1])
    assert per_class["stand"] == pytest.approx(5 / 6)
    assert mean_ap == pytest.approx(5 / 6)


def test_ties_rank_together_whatever_the_order():
    # One TP and one FP share score 0.5: one rank with P = 1/2, R = 1/2; the second GT is missed.
    # AP = 1/2 * 1/2 = 1/4 in both orders (the official code would give 1/2 or 1/4 by sort order).
    truth = gt(("v,0902", BOX_A, 1), ("v,0903", BOX_B, 1))
    for rows in [(("v,0902", BOX_A, 1, 0.5), ("v,0904", BOX_A, 1, 0.5)),
                 (("v,0904", BOX_A, 1, 0.5), ("v,0902", BOX_A, 1, 0.5))]:
        _, per_class = frame_map(truth, det(*rows), CATS[:1])
        assert per_class["stand"] == pytest.approx(0.25)
    # Ranks (P, R): (1/2, 1/2) then (2/3, 1); interpolation lifts the first to 2/3 -> AP = 2/3.
    assert average_precision(np.array([0.5, 0.5, 0.2]), np.array([False, True, True]), 2) == pytest.approx(2 / 3)


def test_class_without_positives_is_nan_and_left_out_of_the_mean_a_missed_class_is_zero():
    truth = gt(("v,0902", BOX_A, 1), ("v,0902", BOX_B, 2))
    dets = det(("v,0902", BOX_A, 1, 0.9), ("v,0902", BOX_B, 3, 0.8))  # "talk" has no GT; "sit" no detection
    mean_ap, per_class = frame_map(truth, dets, CATS)
    assert per_class["stand"] == 1.0 and per_class["sit"] == 0.0 and math.isnan(per_class["talk"])
    assert mean_ap == pytest.approx(0.5)
    assert math.isnan(frame_map(gt(), dets, CATS)[0])


def test_excluded_frames_drop_their_ground_truth_and_detections():
    truth = gt(("v,0902", BOX_A, 1), ("v,0905", BOX_B, 1))
    dets = det(("v,0902", BOX_A, 1, 0.6), ("v,0903", BOX_A, 1, 0.9), ("v,0905", BOX_OFF, 1, 0.95))
    # Without exclusions: FP .95, FP .9, TP .6 of 2 GT -> P = 1/3 at R = 1/2 -> AP = 1/6.
    assert frame_map(truth, dets, CATS[:1])[1]["stand"] == pytest.approx(1 / 6)
    # Excluding 0905 removes its GT and its FP; 0903 (no GT at all) still counts as a FP.
    assert frame_map(truth, dets, CATS[:1], {"v,0905"})[1]["stand"] == pytest.approx(0.5)
    assert frame_map(truth, dets, CATS[:1], {"v,0905", "v,0903"})[1]["stand"] == pytest.approx(1.0)


def test_duplicate_detections_of_one_box_count_once():
    truth = gt(("v,0902", BOX_A, 1), ("v,0902", BOX_B, 1))
    dets = det(("v,0902", BOX_A, 1, 0.9), ("v,0902", BOX_A, 1, 0.8), ("v,0902", BOX_B, 1, 0.7))
    # TP, FP (same box again), TP: P = 1, 1/2, 2/3 at R = 1/2, 1/2, 1 -> AP = 5/6.
    assert frame_map(truth, dets, CATS[:1])[1]["stand"] == pytest.approx(5 / 6)


def test_a_detection_only_matches_its_best_overlapping_box():
    # The detection overlaps BOX_A best (IoU 1) -> matched there; BOX_A taken by the 0.9 one, so FP,
    # even though it also overlaps a free ground-truth box above 0.5 (official argmax rule).
    near_a = (0.1, 0.1, 0.42, 0.6)
    truth = gt(("v,0902", BOX_A, 1), ("v,0902", near_a, 1))
    dets = det(("v,0902", BOX_A, 1, 0.9), ("v,0902", BOX_A, 1, 0.8))
    _, per_class = frame_map(truth, dets, CATS[:1])
    assert per_class["stand"] == pytest.approx(0.5)


# ---------------------------------------------------------------------------------------------
# An independent reference: per-detection loops, the official argsort ranking, VOC all-point AP.
# ---------------------------------------------------------------------------------------------
def reference_ap(truth, dets, class_id):
    gt_boxes, gt_labels = truth
    flat = [(s, key, b) for key in dets[0] for b, l, s in zip(dets[0][key], dets[1][key], dets[2][key]) if l == class_id]
    num_gt = sum(l == class_id for key in gt_labels for l in gt_labels[key])
    if num_gt == 0:
        return float("nan")
    flat.sort(key=lambda item: -item[0])
    used, tps = set(), []
    for score, key, box in flat:
        candidates = [(i, b) for i, (b, l) in enumerate(zip(gt_boxes.get(key, []), gt_labels.get(key, []))) if l == class_id]
        best, best_iou = None, -1.0
        for i, g in candidates:
            ix = max(0.0, min(box[2], g[2]) - max(box[0], g[0]))
            iy = max(0.0, min(box[3], g[3]) - max(box[1], g[1]))
            inter = ix * iy
            union = (box[2] - box[0]) * (box[3] - box[1]) + (g[2] - g[0]) * (g[3] - g[1]) - inter
            if inter / union > best_iou:
                best, best_iou = i, inter / union
        hit = best is not None and best_iou >= 0.5 and (key, best) not in used
        if hit:
            used.add((key, best))
        tps.append(hit)
    tp = np.cumsum(tps)
    fp = np.cumsum([not t for t in tps])
    rec = list(tp / num_gt) if tps else []
    prec = list(tp / np.maximum(tp + fp, 1)) if tps else []
    mrec, mpre = [0.0] + rec + [1.0], [0.0] + prec + [0.0]
    for i in range(len(mpre) - 2, -1, -1):
        mpre[i] = max(mpre[i], mpre[i + 1])
    return sum((mrec[i] - mrec[i - 1]) * mpre[i] for i in range(1, len(mrec)) if mrec[i] != mrec[i - 1])


def random_case(rng, num_keys=6):
    truth_rows, det_rows = [], []
    for k in range(num_keys):
        key = f"vid{k % 2},{902 + k:04d}"
        people = []
        for _ in range(int(rng.integers(0, 4))):
            x1, y1 = rng.uniform(0, 0.6, 2)
            people.append((x1, y1, x1 + rng.uniform(0.1, 0.4), y1 + rng.uniform(0.1, 0.4)))
        for box in people:
            for label in rng.choice([1, 2, 3, 4], size=int(rng.integers(1, 3)), replace=False):
                truth_rows.append((key, box, int(label)))
        for box in people + [(0.0, 0.0, 0.3, 0.3)]:
            jittered = tuple(np.clip(np.asarray(box) + rng.normal(0, 0.05, 4), 0, 1).tolist())
            for label in (1, 2, 3, 4):  # one detection per box and class, with a distinct random score
                det_rows.append((key, jittered, label, float(rng.uniform())))
    return gt(*truth_rows), det(*det_rows)


@pytest.mark.parametrize("seed", range(8))
def test_agrees_with_an_independent_reference_on_random_cases(seed):
    truth, dets = random_case(np.random.default_rng(seed))
    mean_ap, per_class = frame_map(truth, dets, CATS)  # class 4 is outside the label map: ignored
    expected = {c["name"]: reference_ap(truth, dets, c["id"]) for c in CATS}
    for name, value in expected.items():
        assert (math.isnan(value) and math.isnan(per_class[name])) or per_class[name] == pytest.approx(value, abs=1e-12)
    valid = [v for v in expected.values() if not math.isnan(v)]
    assert mean_ap == pytest.approx(np.mean(valid))


def test_scoring_is_independent_of_how_outputs_were_split_and_gathered():
    """Concatenating two processes' outputs in either order gives one process's mAP."""
    rng = np.random.default_rng(3)
    scores = rng.uniform(size=(10, 3)).round(1)  # rounded: many ties across boxes
    ori_boxes = np.c_[np.zeros(10), rng.uniform(0, 0.4, (10, 2)), rng.uniform(0.6, 1.0, (10, 2))]
    metadata = np.c_[rng.integers(0, 2, 10), rng.integers(902, 905, 10)]
    names = ["a", "b"]
    truth = gt(*[(f"{names[m[0]]},{m[1]:04d}", tuple(b[1:]), 1 + i % 3) for i, (m, b) in enumerate(zip(metadata, ori_boxes))][:6])
    ids = [1, 2, 3]

    def score(order):
        rows = ava_metrics.detections_from_scores(scores[order], ori_boxes[order], metadata[order], names, ids)
        return frame_map(truth, ava_metrics.rows_to_dicts(rows), CATS)[0]

    one = score(np.arange(10))
    assert score(np.r_[np.arange(5, 10), np.arange(5)]) == one
    assert score(np.r_[np.arange(0, 10, 2), np.arange(1, 10, 2)]) == one


def test_detections_from_scores_one_row_per_box_and_class():
    rows = ava_metrics.detections_from_scores(
        torch.tensor([[0.1, 0.7, 0.2]]), torch.tensor([[0, 0.1, 0.2, 0.3, 0.4]]), torch.tensor([[1, 903]]),
        ["x", "y"], [1, 3])
    assert rows == [("y", 903, pytest.approx((0.1, 0.2, 0.3, 0.4)), 1, pytest.approx(0.1)),
                    ("y", 903, pytest.approx((0.1, 0.2, 0.3, 0.4)), 3, pytest.approx(0.2))]


# ---------------------------------------------------------------------------------------------
# Charades
# ---------------------------------------------------------------------------------------------
def test_charades_map_on_known_scores():
    scores = np.array([[0.9, 0.1, 0.5], [0.8, 0.7, 0.5], [0.3, 0.6, 0.5], [0.2, 0.2, 0.1]])
    labels = np.array([[1, 0, 0], [0, 1, 0], [1, 0, 0], [0, 0, 0]])
    # class 0: positives ranked 1 and 3 -> (1 + 2/3) / 2 = 5/6; class 1: ranked first -> 1;
    # class 2: no positive -> left out.
    assert charades_map(scores, labels) == pytest.approx((5 / 6 + 1.0) / 2)
    assert charades_map(torch.tensor(scores), torch.tensor(labels, dtype=torch.float32)) == pytest.approx((5 / 6 + 1.0) / 2)
    # A tie between a positive and a negative at the top: one rank of precision 1/2.
    assert charades_map(np.array([[0.5], [0.5]]), np.array([[1], [0]])) == pytest.approx(0.5)
    assert math.isnan(charades_map(scores, np.zeros_like(labels)))


def write_annotations(tmp_path):
    (tmp_path / "map.pbtxt").write_text('item {\n  name: "stand"\n  id: 1\n}\nitem {\n  name: "sit"\n  id: 2\n}\n')
    (tmp_path / "gt.csv").write_text("a,0902,0.1,0.1,0.4,0.6,1,0\na,0904,0.1,0.1,0.4,0.6,1,0\na,0904,0.5,0.5,0.9,0.9,2,1\n")
    cfg = get_cfg()
    cfg.AVA.ANNOTATION_DIR, cfg.AVA.LABEL_MAP_FILE, cfg.AVA.GROUNDTRUTH_FILE = str(tmp_path), "map.pbtxt", "gt.csv"
    cfg.AVA.EXCLUSION_FILE = ""
    return cfg


def test_evaluate_ava_val_scores_the_seconds_divisible_by_4_unless_full_test(tmp_path):
    cfg = write_annotations(tmp_path)
    scores = torch.tensor([[0.9, 0.1], [0.2, 0.8]])
    ori_boxes = torch.tensor([[0, 0.1, 0.1, 0.4, 0.6], [0, 0.5, 0.5, 0.9, 0.9]])
    metadata = torch.tensor([[0, 904], [0, 904]])
    csv_path = str(tmp_path / "det.csv")
    # val without FULL_TEST_ON_VAL: the dataset only held 904, and so does the ground truth.
    result = ava_metrics.evaluate_ava(cfg, scores, ori_boxes, metadata, ["a"], csv_path, split="val")
    assert result["map"] == 1.0 and result["per_class"] == {"stand": 1.0, "sit": 1.0}
    assert ava_metrics.evaluate_ava(cfg, scores, ori_boxes, metadata, ["a"], "")["map"] == 1.0  # inferred: val
    # test (or FULL_TEST_ON_VAL): the 902 person was not detected -> "stand" AP 1/2.
    assert ava_metrics.evaluate_ava(cfg, scores, ori_boxes, metadata, ["a"], "", split="test")["per_class"]["stand"] == 0.5
    cfg.AVA.FULL_TEST_ON_VAL = True
    assert ava_metrics.evaluate_ava(cfg, scores, ori_boxes, metadata, ["a"], "", split="val")["map"] == 0.75
    assert open(csv_path).read().splitlines() == [
        "a,0904,0.100,0.100,0.400,0.600,1,0.900000", "a,0904,0.100,0.100,0.400,0.600,2,0.100000",
        "a,0904,0.500,0.500,0.900,0.900,1,0.200000", "a,0904,0.500,0.500,0.900,0.900,2,0.800000"]
    # No boxes at all: every class with ground truth scores 0.
    empty = ava_metrics.evaluate_ava(cfg, torch.zeros((0, 2)), torch.zeros((0, 5)), torch.zeros((0, 2)), ["a"], "")
    assert empty["map"] == 0.0
