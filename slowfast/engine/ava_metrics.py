"""AVA frame-level mAP (the official ActivityNet protocol) and Charades multi-label mAP.

AVA protocol (``frame_map``), as in the official ``get_ava_performance.py`` with
``PascalDetectionEvaluator`` at IoU 0.5:

* ground truth and detections are grouped by keyframe key ``"video_id,%04d" % timestamp``;
  keyframes in the exclusion set are dropped from both;
* rows whose action is not in the label map are ignored (``read_csv(..., class_whitelist)``);
* a detection is one (box, class, score) row: a model scores each of its boxes once per class;
* per keyframe and class, detections are matched greedily in descending score to the ground
  truth box of highest IoU; a match needs IoU >= 0.5 and a box not matched before (a second
  detection of the same box is a false positive); detections on keyframes without ground truth
  are false positives;
* per class, PASCAL VOC AP: precision made non-increasing from the right, summed over the recall
  steps; classes without ground truth get NaN and are left out of the mean.

One deliberate difference: detections with identical scores are ranked together (precision and
recall are taken after the whole tie group), where the official code's order among ties is an
artifact of ``np.argsort``. With distinct scores the results are identical; with ties they no
longer depend on the order the boxes arrive in (gathering from several processes reorders them).

Every function here is pure: scoring the concatenation of several processes' outputs equals
scoring one process's output.
"""
import csv
import logging
import math
import os
from collections import defaultdict
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple

import numpy as np
import torch

from slowfast.datasets.ava_annotations import frame_key, parse_box_csv, parse_exclusions, parse_label_map

logger = logging.getLogger(__name__)

IOU_THRESHOLD = 0.5
Boxes = Dict[str, List[Tuple[float, float, float, float]]]


# ---------------------------------------------------------------------------------------------
# Files (the contract's readers)
# ---------------------------------------------------------------------------------------------
def read_labelmap(path: str) -> Tuple[List[Dict], Set[int]]:
    """Label map pbtxt -> (categories ``[{"id", "name"}]``, class whitelist ``{id}``)."""
    return parse_label_map(path)


def read_exclusions(path: str) -> Set[str]:
    """Excluded timestamps file -> ``{"video_id,%04d" % timestamp}``."""
    return parse_exclusions(path)


def read_csv(path: str, class_whitelist: Optional[Set[int]] = None, has_score: Optional[bool] = None):
    """An AVA CSV -> ``(boxes, labels, scores)``, dicts keyed by keyframe key.

    ``boxes[key]`` is a list of ``(x1, y1, x2, y2)`` normalised, ``labels[key]`` the action ids and
    ``scores[key]`` the scores, row by row.

    Args:
        class_whitelist: rows whose action id is not in it are skipped (None keeps all); rows
            without an action id (unlabelled predicted boxes) are always skipped.
        has_score: see ``parse_box_csv``; the default reads an 8th column as the score, as the
            official code does (for ground truth it is the person id, and scores are unused).
    """
    boxes: Boxes = defaultdict(list)
    labels: Dict[str, List[int]] = defaultdict(list)
    scores: Dict[str, List[float]] = defaultdict(list)
    for row in parse_box_csv(path, has_score=has_score):
        if row.action_id < 0 or (class_whitelist is not None and row.action_id not in class_whitelist):
            continue
        boxes[row.key].append(row.box)
        labels[row.key].append(row.action_id)
        scores[row.key].append(row.score)
    return dict(boxes), dict(labels), dict(scores)


def write_detections_csv(path: str, rows: Iterable[Tuple[str, int, Sequence[float], int, float]]) -> None:
    """Write official detection rows ``video_id,timestamp,x1,y1,x2,y2,action_id,score``
    (``timestamp`` as ``%04d``, coordinates and scores to 3 and 6 decimals), atomically."""
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", newline="") as f:
        writer = csv.writer(f)
        for video_id, timestamp, box, action_id, score in rows:
            writer.writerow([video_id, "%04d" % int(timestamp), *("%.3f" % float(v) for v in box), int(action_id),
                             "%.6f" % float(score)])
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------------------
# Metric
# ---------------------------------------------------------------------------------------------
def iou_matrix(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """IoU of ``(A, 4)`` and ``(B, 4)`` x1,y1,x2,y2 boxes -> ``(A, B)`` (continuous areas, no +1)."""
    a, b = np.asarray(boxes_a, float).reshape(-1, 4), np.asarray(boxes_b, float).reshape(-1, 4)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    width = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    height = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    intersection = width * height
    union = area_a[:, None] + area_b[None, :] - intersection
    return np.where(union > 0, intersection / np.where(union > 0, union, 1), 0.0)


def match_detections(det_boxes: np.ndarray, det_scores: np.ndarray, gt_boxes: np.ndarray,
                     iou_threshold: float = IOU_THRESHOLD) -> np.ndarray:
    """True-positive flags ``bool (D,)`` of one keyframe's detections of one class.

    In descending score, each detection takes the ground-truth box it overlaps most; it is a
    true positive when that IoU is >= ``iou_threshold`` and the box was not taken before.
    """
    det_boxes = np.asarray(det_boxes, float).reshape(-1, 4)
    is_tp = np.zeros(len(det_boxes), bool)
    if len(det_boxes) == 0 or len(gt_boxes) == 0:
        return is_tp
    iou = iou_matrix(det_boxes, gt_boxes)
    best_gt, best_iou = iou.argmax(axis=1), iou.max(axis=1)
    taken = np.zeros(len(gt_boxes), bool)
    for i in np.argsort(-np.asarray(det_scores, float), kind="stable"):
        if best_iou[i] >= iou_threshold and not taken[best_gt[i]]:
            taken[best_gt[i]] = is_tp[i] = True
    return is_tp


def average_precision(scores: np.ndarray, is_tp: np.ndarray, num_gt: int) -> float:
    """PASCAL VOC AP of ranked detections (all of one class): NaN without ground truth.

    Tied scores form one rank (precision/recall taken after the whole group).
    """
    if num_gt == 0:
        return float("nan")
    scores, is_tp = np.asarray(scores, float), np.asarray(is_tp, bool)
    if scores.size == 0:
        return 0.0
    order = np.argsort(-scores, kind="stable")
    scores, is_tp = scores[order], is_tp[order]
    cum_tp, cum_fp = np.cumsum(is_tp), np.cumsum(~is_tp)
    # Last index of each group of equal scores: the only ranks a threshold can cut at.
    group_end = np.r_[np.nonzero(np.diff(scores))[0], scores.size - 1]
    precision = cum_tp[group_end] / (cum_tp[group_end] + cum_fp[group_end])
    recall = cum_tp[group_end] / num_gt
    recall = np.concatenate([[0.0], recall, [1.0]])
    precision = np.concatenate([[0.0], precision, [0.0]])
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.nonzero(recall[1:] != recall[:-1])[0] + 1
    return float(np.sum((recall[steps] - recall[steps - 1]) * precision[steps]))


def frame_map(groundtruth, detections, categories: Sequence[Dict], excluded: Optional[Set[str]] = None,
              iou: float = IOU_THRESHOLD) -> Tuple[float, Dict[str, float]]:
    """Frame-level mAP of AVA.

    Args:
        groundtruth: ``(boxes, labels)`` or ``(boxes, labels, scores)`` dicts keyed by keyframe
            (what :func:`read_csv` returns).
        detections: ``(boxes, labels, scores)`` dicts keyed by keyframe.
        categories: the label map's ``[{"id", "name"}]``; only these classes are scored.
        excluded: keyframe keys left out of ground truth and detections.
    Returns:
        ``(mAP, {class name: AP})``; AP is NaN for a class without ground truth, and the mAP is
        the mean over the classes with ground truth (NaN when none has any).
    """
    excluded = excluded or set()
    gt_boxes, gt_labels = groundtruth[0], groundtruth[1]
    det_boxes, det_labels, det_scores = detections
    class_ids = [c["id"] for c in categories]
    num_gt = {c: 0 for c in class_ids}
    ranked: Dict[int, List[Tuple[np.ndarray, np.ndarray]]] = {c: [] for c in class_ids}
    for key in sorted(set(gt_boxes) | set(det_boxes)):
        if key in excluded:
            continue
        g_boxes = np.asarray(gt_boxes.get(key, []), float).reshape(-1, 4)
        g_labels = np.asarray(gt_labels.get(key, []), int)
        d_boxes = np.asarray(det_boxes.get(key, []), float).reshape(-1, 4)
        d_labels = np.asarray(det_labels.get(key, []), int)
        d_scores = np.asarray(det_scores.get(key, []), float)
        for c in class_ids:
            gt_of_class = g_boxes[g_labels == c]
            num_gt[c] += len(gt_of_class)
            of_class = d_labels == c
            if of_class.any():
                tp = match_detections(d_boxes[of_class], d_scores[of_class], gt_of_class, iou)
                ranked[c].append((d_scores[of_class], tp))
    per_class = {}
    for category in categories:
        c = category["id"]
        scores = np.concatenate([s for s, _ in ranked[c]]) if ranked[c] else np.zeros(0)
        is_tp = np.concatenate([t for _, t in ranked[c]]) if ranked[c] else np.zeros(0, bool)
        per_class[category["name"]] = average_precision(scores, is_tp, num_gt[c])
    valid = [ap for ap in per_class.values() if not math.isnan(ap)]
    return (float(np.mean(valid)) if valid else float("nan")), per_class


# ---------------------------------------------------------------------------------------------
# From model outputs (the evaluator's entry point)
# ---------------------------------------------------------------------------------------------
def detections_from_scores(scores, ori_boxes, metadata, video_names: Sequence[str],
                           class_ids: Sequence[int]) -> List[Tuple[str, int, Tuple[float, ...], int, float]]:
    """One row ``(video_id, timestamp, box, action_id, score)`` per box and evaluated class.

    Args:
        scores: ``(K, C)`` probabilities; column ``j`` is action id ``j + 1``.
        ori_boxes: ``(K, 5)`` batch index then x1, y1, x2, y2 normalised (or ``(K, 4)``).
        metadata: ``(K, 2)`` ``(video_idx, timestamp_sec)``.
        video_names: ``video_idx`` -> AVA ``video_id``.
        class_ids: action ids to write (the label map's).
    """
    scores = _numpy(scores).astype(float)
    boxes = _numpy(ori_boxes).astype(float)
    boxes = boxes[:, 1:5] if boxes.shape[1] == 5 else boxes
    metadata = _numpy(metadata).astype(np.int64).reshape(len(scores), 2)
    rows = []
    for k in range(len(metadata)):
        video_id, timestamp = video_names[int(metadata[k, 0])], int(metadata[k, 1])
        box = tuple(float(v) for v in boxes[k])
        for action_id in class_ids:
            if 1 <= action_id <= scores.shape[1]:
                rows.append((video_id, timestamp, box, action_id, float(scores[k, action_id - 1])))
    return rows


def rows_to_dicts(rows) -> Tuple[Boxes, Dict[str, List[int]], Dict[str, List[float]]]:
    """Detection rows -> the ``(boxes, labels, scores)`` dicts :func:`frame_map` takes."""
    boxes: Boxes = defaultdict(list)
    labels, scores = defaultdict(list), defaultdict(list)
    for video_id, timestamp, box, action_id, score in rows:
        key = frame_key(video_id, timestamp)
        boxes[key].append(tuple(box))
        labels[key].append(int(action_id))
        scores[key].append(float(score))
    return dict(boxes), dict(labels), dict(scores)


def ava_files(cfg) -> Dict[str, str]:
    """Paths of the label map, ground truth and exclusion files of ``cfg.AVA`` (the built-in
    synthetic dataset's when ``SYNTHETIC.LAYOUT`` is ``ava``); "" for an unset exclusion file."""
    from slowfast.datasets.ava import resolve_ava_cfg

    ava = resolve_ava_cfg(cfg).AVA
    join = lambda name: os.path.join(ava.ANNOTATION_DIR, name) if name else ""  # noqa: E731
    return {"label_map": join(ava.LABEL_MAP_FILE), "groundtruth": join(ava.GROUNDTRUTH_FILE),
            "exclusions": join(ava.EXCLUSION_FILE)}


def evaluate_ava(cfg, scores, ori_boxes, metadata, video_names: Sequence[str], csv_path: str,
                 split: Optional[str] = None) -> Dict:
    """Score the gathered outputs of an AVA evaluation and write them as the official CSV.

    Args:
        scores: ``(K, C)`` probabilities (numpy or tensor) of every box of every process.
        ori_boxes: ``(K, 5)`` batch index then normalised x1, y1, x2, y2.
        metadata: ``(K, 2)`` ``(video_idx, timestamp_sec)``.
        video_names: ``video_idx`` -> ``video_id`` (``dataset.video_names``).
        csv_path: where the detections CSV is written ("" = not written).
        split: "val" or "test". In val without ``AVA.FULL_TEST_ON_VAL`` the dataset holds only the
            seconds divisible by 4, and the ground truth is restricted to them (SlowFast's "mini"
            ground truth); None infers it (every box at such a second and not FULL_TEST_ON_VAL).
    Returns:
        ``{"map": float, "per_class": {name: AP}}`` (AP NaN for classes without ground truth).
    """
    from slowfast.datasets.ava import resolve_ava_cfg

    cfg = resolve_ava_cfg(cfg)  # the built-in dataset's files and settings when SYNTHETIC.LAYOUT is ava
    files = ava_files(cfg)
    categories, whitelist = read_labelmap(files["label_map"])
    excluded = read_exclusions(files["exclusions"]) if files["exclusions"] and os.path.isfile(files["exclusions"]) else set()
    groundtruth = read_csv(files["groundtruth"], whitelist, has_score=False)
    seconds = _numpy(metadata).reshape(-1, 2)[:, 1].astype(np.int64)
    if split is None:
        split = "val" if len(seconds) and not (seconds % 4).any() else "test"
    if split == "val" and not cfg.AVA.FULL_TEST_ON_VAL:
        keep = [key for key in groundtruth[0] if int(key.rsplit(",", 1)[1]) % 4 == 0]
        groundtruth = tuple({key: part[key] for key in keep} for part in groundtruth)
    rows = detections_from_scores(scores, ori_boxes, metadata, video_names, [c["id"] for c in categories])
    if csv_path:
        write_detections_csv(csv_path, rows)
    mean_ap, per_class = frame_map(groundtruth, rows_to_dicts(rows), categories, excluded)
    logger.info("AVA frame mAP@0.5IOU %.6f over %d boxes", mean_ap, len(_numpy(metadata)))
    return {"map": mean_ap, "per_class": per_class}


# ---------------------------------------------------------------------------------------------
# Charades (multi-label classification)
# ---------------------------------------------------------------------------------------------
def charades_map(scores, labels) -> float:
    """Mean over classes with at least one positive of the average precision of ``scores (N, C)``
    against multi-hot ``labels (N, C)`` (the non-interpolated AP that SlowFast reports for
    Charades: mean precision at the rank of each positive, ties ranked together)."""
    scores, labels = _numpy(scores).astype(float), _numpy(labels) > 0.5
    if scores.shape != labels.shape or scores.ndim != 2:
        raise ValueError(f"scores {scores.shape} and labels {labels.shape} must both be (N, C)")
    aps = []
    for c in np.nonzero(labels.any(axis=0))[0]:
        order = np.argsort(-scores[:, c], kind="stable")
        s, positive = scores[order, c], labels[order, c]
        group_end = np.r_[np.nonzero(np.diff(s))[0], s.size - 1]
        tp = np.cumsum(positive)[group_end]
        precision = tp / (group_end + 1)
        new_positives = np.diff(np.r_[0, tp])
        aps.append(float(np.sum(precision * new_positives) / positive.sum()))
    return float(np.mean(aps)) if aps else float("nan")


def _numpy(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)
