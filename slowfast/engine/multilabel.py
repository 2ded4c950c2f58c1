"""Training and evaluation pieces of the multi-label tasks: AVA action detection (one score per box
and class) and Charades (one score per video and class).

``task(cfg)`` is the one place that tells them apart: ``"detection"`` (``DETECTION.ENABLE``: the
model is called as ``model(inputs, boxes)``, labels are ``(K, C)`` multi-hot rows of the batch's
boxes), ``"multilabel"`` (``MODEL.LOSS_FUNC`` bce / bce_logit without detection: Charades, labels
``(N, C)`` multi-hot per clip) or ``"classification"``. The trainer and the evaluator ask it once
and hand the multi-label cases to the functions below; scores are ``MODEL.HEAD_ACT`` (sigmoid) of
the logits.

Evaluation in several processes: every process scores its share of the split, then all boxes
(scores, ``ori_boxes``, ``metadata``) or all views are gathered before a single scoring
(``ava_metrics.evaluate_ava`` / ``charades_map``) on rank 0, whose result every rank returns.
"""
import math
import os
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

from slowfast.engine import distributed as du
from slowfast.utils.logging import get_logger, log_json_stats

logger = get_logger(__name__)

MULTI_LABEL_LOSSES = ("bce", "bce_logit")


def task(cfg) -> str:
    """``"detection"``, ``"multilabel"`` or ``"classification"`` (see the module docstring)."""
    if cfg.DETECTION.ENABLE:
        return "detection"
    if cfg.MODEL.LOSS_FUNC in MULTI_LABEL_LOSSES:
        return "multilabel"
    return "classification"


def bce_with_logits(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean binary cross entropy of ``sigmoid(logits) (K, C)`` against multi-hot ``labels (K, C)``.

    Computed from the logits (stable for large |logit|). A batch without boxes (K = 0) gives a zero
    loss that still reaches every head parameter, so all processes step together.
    """
    if labels.numel() == 0:
        return logits.sum() * 0.0
    return F.binary_cross_entropy_with_logits(logits.float(), labels.float())


def batch_boxes(meta: Dict, device: torch.device) -> Optional[torch.Tensor]:
    """The model's second argument: ``meta["boxes"]`` ``(K, 5)`` (batch index, x1, y1, x2, y2 in
    input pixels) as float on ``device``."""
    return meta["boxes"].to(device=device, dtype=torch.float32)


def multilabel_topks_correct(logits: torch.Tensor, labels: torch.Tensor, ks: Sequence[int]) -> List[torch.Tensor]:
    """Per k, the number of rows whose k best-scored classes include one of their positives
    (the multi-label reading of top-k accuracy, used for the training log)."""
    positives = labels > 0.5
    order = logits.argsort(dim=1, descending=True)
    hits = positives.gather(1, order)
    return [hits[:, : min(k, hits.shape[1])].any(dim=1).sum().float() for k in ks]


def _scores(logits: torch.Tensor, head_act: str) -> torch.Tensor:
    from slowfast.engine.evaluator import apply_head_act

    return apply_head_act(logits, head_act).cpu()


def _finite_or_none(values: Dict[str, float]) -> Dict[str, Optional[float]]:
    """Per-class APs for ``json_stats`` (NaN, a class without ground truth, is not valid JSON)."""
    return {name: (None if value is None or math.isnan(value) else float(value)) for name, value in values.items()}


# ---------------------------------------------------------------------------- #
# AVA: one prediction per box
# ---------------------------------------------------------------------------- #
@torch.no_grad()
def predict_boxes(model, loader, cfg, device: torch.device) -> Dict:
    """Scores of this process's boxes: ``{"scores": (K, C), "ori_boxes": (K, 5), "metadata":
    (K, 2), "failed": [paths]}`` on CPU (``ori_boxes`` keep the clip's batch index in column 0)."""
    from slowfast.engine.evaluator import input_layout, to_device

    model.eval()
    scores, ori_boxes, metadata, failed = [], [], [], []
    for inputs, _, _, meta in loader:
        failed.extend(meta.get("failed", []))
        if meta["boxes"].shape[0] == 0:
            continue
        logits = model(to_device(inputs, device, input_layout(model, cfg)), batch_boxes(meta, device))
        scores.append(_scores(logits, cfg.MODEL.HEAD_ACT))
        ori_boxes.append(meta["ori_boxes"].cpu().float())
        metadata.append(meta["metadata"].cpu().long())
    num_classes = cfg.MODEL.NUM_CLASSES
    return {
        "scores": torch.cat(scores) if scores else torch.zeros(0, num_classes),
        "ori_boxes": torch.cat(ori_boxes) if ori_boxes else torch.zeros(0, 5),
        "metadata": torch.cat(metadata) if metadata else torch.zeros(0, 2, dtype=torch.long),
        "failed": list(failed),
    }


def gather(local: Dict) -> Dict:
    """Concatenate every process's prediction dict (tensors along dim 0, lists joined), rank order."""
    parts = du.all_gather_objects(local)
    return {
        key: [item for p in parts for item in p[key]] if isinstance(value, list) else torch.cat([p[key] for p in parts])
        for key, value in local.items()
    }


def _on_master(compute):
    """``compute()`` on rank 0 only; every rank returns rank 0's result."""
    result = compute() if du.is_master_proc() else None
    return du.all_gather_objects(result)[0]


def detections_csv_path(cfg, split: str) -> str:
    """Where the official detections CSV of ``split`` goes (``OUTPUT_DIR/ava_detections_<split>.csv``)."""
    return os.path.join(cfg.OUTPUT_DIR, f"ava_detections_{split}.csv")


def evaluate_boxes(model, loader, cfg, device: torch.device, split: str, epoch: Optional[int] = None) -> Dict:
    """AVA frame mAP@0.5 of ``model`` on ``loader``; logs and returns the ``json_stats`` record
    (``map`` a fraction in [0, 1], ``per_class_ap`` by class name) and writes the detections CSV.

    ``split`` is ``"val"`` (record ``val_epoch``) or ``"test"`` (record ``test_final``).
    """
    from slowfast.engine.ava_metrics import evaluate_ava

    predictions = gather(predict_boxes(model, loader, cfg, device))
    csv_path = detections_csv_path(cfg, split)
    video_names = list(loader.dataset.video_names)
    result = _on_master(lambda: evaluate_ava(
        cfg, predictions["scores"], predictions["ori_boxes"], predictions["metadata"], video_names, csv_path
    ))
    # The record names of the classification path: ``_type`` val_epoch, ``split`` test_final.
    stats = {"_type": "val_epoch"} if split == "val" else {"split": "test_final"}
    if epoch is not None:
        stats["epoch"] = f"{epoch + 1}/{cfg.SOLVER.MAX_EPOCH}"
    stats.update({"map": float(result["map"]), "num_boxes": int(predictions["scores"].shape[0])})
    stats["per_class_ap"] = _finite_or_none(result["per_class"])
    if predictions["failed"]:
        stats["num_failed"] = len(predictions["failed"])
        logger.warning(f"{len(predictions['failed'])} clips failed to decode and were left out: "
                       f"{sorted(set(predictions['failed']))[:20]}")
    log_json_stats(stats, cfg.OUTPUT_DIR, du.is_master_proc())
    if du.is_master_proc():
        logger.info(f"wrote {stats['num_boxes']} boxes' detections to {csv_path}")
    return stats


# ---------------------------------------------------------------------------- #
# Charades: one prediction per clip / video
# ---------------------------------------------------------------------------- #
def validate_clips(model, loader, cfg, device: torch.device, epoch: int) -> Dict:
    """Clip-level mAP (``charades_map``) of the val split, gathered over processes; the
    ``val_epoch`` record."""
    from slowfast.engine.ava_metrics import charades_map
    from slowfast.engine.evaluator import predict_views

    predictions = gather(predict_views(model, loader, cfg, device))
    mean_ap = _on_master(lambda: charades_map(predictions["scores"], predictions["labels"]))
    stats = {"_type": "val_epoch", "epoch": f"{epoch + 1}/{cfg.SOLVER.MAX_EPOCH}", "map": float(mean_ap),
             "num_clips": int(predictions["scores"].shape[0])}
    log_json_stats(stats, cfg.OUTPUT_DIR, du.is_master_proc())
    return stats


def video_labels(labels: torch.Tensor, video_index: torch.Tensor, num_videos: int) -> torch.Tensor:
    """``(V, C)`` multi-hot labels of each video from its views' ``(M, C)`` rows (all equal)."""
    result = torch.zeros(num_videos, labels.shape[1], dtype=labels.dtype)
    result[video_index.long()] = labels
    return result


def test_videos(model, loader, cfg, device: torch.device) -> Tuple[Dict, torch.Tensor]:
    """Multi-view multi-label test: per-view sigmoid scores combined per video by
    ``TEST.ENSEMBLE_METHOD`` (max for Charades), mAP over the videos whose views all decoded.
    Returns the ``test_final`` record and the ``(V, C)`` video scores."""
    from slowfast.engine.ava_metrics import charades_map
    from slowfast.engine.evaluator import aggregate_views, predict_views

    num_videos = loader.dataset.num_videos
    predictions = gather(predict_views(model, loader, cfg, device))
    scores, counts = aggregate_views(predictions["scores"], predictions["video_index"], num_videos,
                                     cfg.TEST.ENSEMBLE_METHOD)
    labels = video_labels(predictions["labels"], predictions["video_index"], num_videos)
    complete = counts == cfg.TEST.NUM_ENSEMBLE_VIEWS * cfg.TEST.NUM_SPATIAL_CROPS
    mean_ap = _on_master(lambda: charades_map(scores[complete], labels[complete]))
    stats = {"split": "test_final", "map": float(mean_ap), "num_videos": int(complete.sum()),
             "num_excluded": int((~complete).sum())}
    log_json_stats(stats, cfg.OUTPUT_DIR, du.is_master_proc())
    return stats, scores


# ---------------------------------------------------------------------------- #
# Entry points used by the evaluator
# ---------------------------------------------------------------------------- #
def validate(model, loader, cfg, device: torch.device, epoch: int) -> Dict:
    """The ``val_epoch`` record of a multi-label task (AVA box mAP or Charades clip mAP)."""
    if task(cfg) == "detection":
        return evaluate_boxes(model, loader, cfg, device, "val", epoch)
    return validate_clips(model, loader, cfg, device, epoch)


def test(model, loader, cfg, device: torch.device) -> Dict:
    """The ``test_final`` record of a multi-label task (AVA box mAP or Charades video mAP)."""
    if task(cfg) == "detection":
        return evaluate_boxes(model, loader, cfg, device, "test")
    return test_videos(model, loader, cfg, device)[0]
