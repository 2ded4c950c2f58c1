"""Validation epochs and multi-view testing.

Validation (during training): one centre clip and crop per video (the datasets' ``val`` split),
top-1 / top-k error with the mistake counts summed over every process.

Multi-view testing: each video is seen as ``NUM_ENSEMBLE_VIEWS x NUM_SPATIAL_CROPS`` items sharing
its ``video_index``. Per-view scores (``MODEL.HEAD_ACT`` of the logits) are gathered from every
process and combined per video (``TEST.ENSEMBLE_METHOD`` sum or max) by :func:`aggregate_views`;
videos with a view that failed to decode are reported and excluded; top-1, top-5 and mean class
accuracy are computed on the rest and per-video predictions written to ``TEST.SAVE_RESULTS_PATH``.
"""
import csv
import json
import os
from typing import Dict, List, Optional, Sequence, Tuple

import torch

from slowfast.engine import checkpoint as cu
from slowfast.engine import distributed as du
from slowfast.engine import multilabel
from slowfast.engine.meters import ValMeter, memory_usage_gb, topks_correct
from slowfast.models.build import memory_format
from slowfast.utils.logging import get_logger, log_json_stats, setup_logging

logger = get_logger(__name__)


def to_device(
    inputs: Sequence[torch.Tensor], device: torch.device, layout: torch.memory_format = torch.preserve_format
) -> List[torch.Tensor]:
    """Move the per-pathway ``(N, C, T, H, W)`` tensors of a batch to ``device`` in memory
    format ``layout`` (the model's, see ``models.build.memory_format``)."""
    non_blocking = device.type == "cuda"
    return [pathway.to(device, non_blocking=non_blocking, memory_format=layout) for pathway in inputs]


def input_layout(model: torch.nn.Module, cfg) -> torch.memory_format:
    """The memory format ``model`` wants its inputs in: the layout ``optimize_for_inference``
    chose for it, else MODEL.CHANNELS_LAST's."""
    chosen = getattr(model, "channels_last", None)
    if chosen is None:
        return memory_format(cfg)
    return torch.channels_last_3d if chosen else torch.contiguous_format


def inference_model(model: torch.nn.Module, cfg) -> torch.nn.Module:
    """``model`` with BN folded, in TEST.OPTIMIZE_LAYOUT's memory layout (TEST.OPTIMIZE), unless
    Grad-CAM on the test set (TENSORBOARD.MODEL_VIS) needs the gradients of the unoptimised model."""
    grad_cam = cfg.TENSORBOARD.ENABLE and cfg.TENSORBOARD.MODEL_VIS.ENABLE
    if not cfg.TEST.OPTIMIZE or grad_cam:
        return model
    from slowfast.inference.optimize import optimize_for_inference
    from slowfast.models.info import input_shapes

    device = next(model.parameters()).device
    example = [torch.randn(1, *shape, device=device) for shape in input_shapes(cfg, "test")]
    return optimize_for_inference(model, example, layout=cfg.TEST.OPTIMIZE_LAYOUT)


def apply_head_act(logits: torch.Tensor, head_act: str) -> torch.Tensor:
    """Probabilities from ``logits (N, K)``: ``softmax`` over classes or element-wise ``sigmoid``."""
    if head_act == "softmax":
        return torch.softmax(logits.float(), dim=1)
    if head_act == "sigmoid":
        return torch.sigmoid(logits.float())
    raise ValueError(f"MODEL.HEAD_ACT '{head_act}' is unknown; use softmax or sigmoid")


# ---------------------------------------------------------------------------- #
# Validation
# ---------------------------------------------------------------------------- #
@torch.no_grad()
def validate_epoch(model, loader, meter: ValMeter, epoch: int, cfg, device: torch.device, writer=None) -> Dict:
    """One pass over the val split; returns (and logs) the ``val_epoch`` record (top-k errors, or
    mAP for the multi-label tasks: AVA boxes, Charades clips)."""
    if multilabel.task(cfg) != "classification":
        return multilabel.validate(model, loader, cfg, device, epoch)
    model.eval()
    meter.reset()
    all_preds, all_labels = [], []
    for inputs, labels, _, _ in loader:
        if labels.numel() == 0:
            continue
        logits = model(to_device(inputs, device, input_layout(model, cfg)))
        labels = labels.to(device)
        top1, topk = topks_correct(logits, labels, (1, meter.topk))
        meter.update_counts(top1.item(), topk.item(), labels.numel())
        if writer is not None:
            all_preds.append(logits.float().cpu())
            all_labels.append(labels.cpu())
    counts = torch.tensor([meter.top1_mistakes, meter.topk_mistakes, meter.num_samples], dtype=torch.float64)
    du.all_reduce_sum([counts])
    meter.top1_mistakes, meter.topk_mistakes, meter.num_samples = counts[0].item(), counts[1].item(), int(counts[2])
    stats = meter.epoch_stats(epoch)
    log_json_stats(stats, cfg.OUTPUT_DIR, du.is_master_proc())
    if writer is not None:
        writer.add_scalars({"Val/Top1_err": stats["top1_err"], f"Val/Top{meter.topk}_err": stats[f"top{meter.topk}_err"]}, epoch)
        if all_preds:
            writer.plot_eval(torch.cat(all_preds), torch.cat(all_labels), epoch)
    return stats


# ---------------------------------------------------------------------------- #
# Multi-view aggregation (pure functions)
# ---------------------------------------------------------------------------- #
def aggregate_views(
    scores: torch.Tensor, video_index: torch.Tensor, num_videos: int, method: str = "sum"
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Combine per-view scores into per-video scores.

    Args:
        scores: ``(M, K)`` scores of M views.
        video_index: ``(M,)`` the video of each view, in ``[0, num_videos)``.
        num_videos: number of videos V.
        method: ``sum`` or ``max`` over each video's views.
    Returns:
        ``(V, K)`` video scores (zeros for videos without views) and ``(V,)`` view counts.
    """
    if method not in ("sum", "max"):
        raise ValueError(f"TEST.ENSEMBLE_METHOD '{method}' is unknown; use sum or max")
    num_classes = scores.shape[1] if scores.ndim == 2 else 0
    video_index = video_index.long()
    counts = torch.bincount(video_index, minlength=num_videos)[:num_videos]
    index = video_index.view(-1, 1).expand(-1, num_classes)
    video_scores = torch.zeros(num_videos, num_classes, dtype=scores.dtype)
    if method == "sum":
        video_scores.scatter_add_(0, index, scores)
    else:
        video_scores.scatter_reduce_(0, index, scores, reduce="amax", include_self=False)
    return video_scores, counts


def video_accuracies(video_scores: torch.Tensor, video_labels: torch.Tensor, ks: Sequence[int]) -> Dict[str, float]:
    """Top-k accuracies (percent) and the mean of per-class top-1 accuracies (percent)."""
    num_videos = video_labels.numel()
    if num_videos == 0:
        return {**{f"top{k}_acc": 0.0 for k in ks}, "mean_class_acc": 0.0}
    correct = topks_correct(video_scores, video_labels, ks)
    result = {f"top{k}_acc": 100.0 * hits.item() / num_videos for k, hits in zip(ks, correct)}
    top1_hit = video_scores.argmax(dim=1).eq(video_labels).float()
    classes = video_labels.unique()
    per_class = [top1_hit[video_labels == c].mean().item() for c in classes]
    result["mean_class_acc"] = 100.0 * sum(per_class) / len(per_class)
    return result


# ---------------------------------------------------------------------------- #
# Multi-view test
# ---------------------------------------------------------------------------- #
@torch.no_grad()
def predict_views(model, loader, cfg, device: torch.device) -> Dict:
    """Per-view scores of this process's share of the test split.

    Returns ``{"scores": (M, K), "video_index": (M,), "labels": (M,), "failed": [paths]}`` on CPU.
    """
    model.eval()
    visualizer = None
    if cfg.TENSORBOARD.ENABLE and du.is_master_proc():  # import matplotlib/TensorBoard only when asked
        from slowfast.visualization.model_vis import TestSetVisualizer  # TENSORBOARD.MODEL_VIS / WRONG_PRED_VIS

        if TestSetVisualizer.enabled(cfg):
            visualizer = TestSetVisualizer(cfg, model)
    scores, video_index, labels, failed = [], [], [], []
    for inputs, batch_labels, batch_video_index, meta in loader:
        failed.extend(meta.get("failed", []))
        if batch_labels.numel() == 0:
            continue
        inputs = to_device(inputs, device, input_layout(model, cfg))
        logits = model(inputs)
        scores.append(apply_head_act(logits, cfg.MODEL.HEAD_ACT).cpu())
        video_index.append(batch_video_index.cpu())
        labels.append(batch_labels.cpu())
        if visualizer is not None:
            visualizer.visualize_batch(inputs, batch_labels, logits, batch_video_index)
    if visualizer is not None:
        visualizer.close()
    num_classes = cfg.MODEL.NUM_CLASSES
    return {
        "scores": torch.cat(scores) if scores else torch.zeros(0, num_classes),
        "video_index": torch.cat(video_index) if video_index else torch.zeros(0, dtype=torch.long),
        "labels": torch.cat(labels) if labels else torch.zeros(0, dtype=torch.long),
        "failed": list(failed),
    }


def gather_predictions(local: Dict) -> Dict:
    """Concatenate every process's :func:`predict_views` output (each view is on exactly one rank)."""
    parts = du.all_gather_objects(local)
    return {
        "scores": torch.cat([p["scores"] for p in parts]),
        "video_index": torch.cat([p["video_index"] for p in parts]),
        "labels": torch.cat([p["labels"] for p in parts]),
        "failed": [path for p in parts for path in p["failed"]],
    }


def evaluate_predictions(
    predictions: Dict, num_videos: int, cfg, video_paths: Optional[Sequence[str]] = None
) -> Tuple[Dict, List[Dict]]:
    """Aggregate gathered views per video; returns the ``test_final`` record and per-video rows.

    Videos with fewer than ``NUM_ENSEMBLE_VIEWS x NUM_SPATIAL_CROPS`` views (a view failed to decode)
    are excluded from the metrics and listed in the record (``excluded_videos``, by path when
    ``video_paths`` is given, else by index).
    """
    expected_views = cfg.TEST.NUM_ENSEMBLE_VIEWS * cfg.TEST.NUM_SPATIAL_CROPS
    video_scores, counts = aggregate_views(
        predictions["scores"], predictions["video_index"], num_videos, cfg.TEST.ENSEMBLE_METHOD
    )
    if (counts > expected_views).any():
        raise RuntimeError(
            f"some videos have more than {expected_views} test views: the test split was not sharded "
            f"exactly once across processes (max views per video: {int(counts.max())})"
        )
    video_labels = torch.full((num_videos,), -1, dtype=torch.long)
    video_labels[predictions["video_index"].long()] = predictions["labels"].long()
    complete = counts == expected_views
    topk = min(5, cfg.MODEL.NUM_CLASSES)
    ks = (1, topk) if topk > 1 else (1,)
    stats = {"split": "test_final"}
    stats.update(video_accuracies(video_scores[complete], video_labels[complete], ks))
    stats["num_videos"] = int(complete.sum())
    stats["num_excluded"] = int((~complete).sum())
    stats["failed_paths"] = sorted(set(predictions["failed"]))
    excluded = (~complete).nonzero().flatten().tolist()
    stats["excluded_videos"] = [video_paths[v] for v in excluded] if video_paths else excluded
    rows = []
    for video in complete.nonzero().flatten().tolist():
        top_scores, top_classes = video_scores[video].topk(topk)
        rows.append({
            "video_index": video,
            **({"path": video_paths[video]} if video_paths else {}),
            "label": int(video_labels[video]),
            "pred": int(top_classes[0]),
            "score": float(top_scores[0]),
            f"top{topk}": [int(c) for c in top_classes],
        })
    return stats, rows


def write_results(rows: List[Dict], path: str) -> None:
    """Per-video predictions as JSON (a list of objects) or CSV (by the file extension)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    if path.endswith(".json"):
        with open(path, "w") as results_file:
            json.dump(rows, results_file, indent=1)
    elif path.endswith(".csv"):
        with open(path, "w", newline="") as results_file:
            writer = csv.writer(results_file)
            if rows:
                keys = list(rows[0])
                writer.writerow(keys)
                for row in rows:
                    writer.writerow([" ".join(map(str, v)) if isinstance(v, list) else v for v in row.values()])
    else:
        raise ValueError(f"TEST.SAVE_RESULTS_PATH '{path}' must end in .json or .csv")


def video_paths_of(dataset) -> Optional[List[str]]:
    """Per-video paths of a dataset with ``records`` (each with a ``path``), else None."""
    records = getattr(dataset, "records", None)
    if records is None:
        return None
    return [str(record.path) for record in records]


def resolve_test_weights(cfg) -> Optional[str]:
    """TEST.CHECKPOINT_FILE_PATH, else the newest checkpoint of OUTPUT_DIR, else
    TRAIN.CHECKPOINT_FILE_PATH, else None (random weights); see checkpoint.resolve_test_weights."""
    return cu.resolve_test_weights(cfg)[0]


def test(cfg, model=None, loader=None) -> Dict:
    """Multi-view test of the configured weights on the test split; returns the ``test_final`` record.

    ``model`` and ``loader`` default to ``build_model(cfg)`` with :func:`resolve_test_weights` and
    ``construct_loader(cfg, "test")`` (each process sees its own share of the views).
    """
    from slowfast.models.build import build_model, get_device

    setup_logging(cfg.OUTPUT_DIR, du.is_master_proc())
    device = get_device(cfg)
    if model is None:
        model = build_model(cfg, device)
        # Every model tensor must come from the file, and no file at all is refused unless
        # TEST.ALLOW_RANDOM_INIT: a partial or missing load would score random weights quietly.
        weights = cu.load_inference_weights(model, cfg, what="testing")
        if weights:
            logger.info(f"testing weights {weights}")
        model = inference_model(model, cfg)
    if loader is None:
        from slowfast.datasets.loader import construct_loader

        loader = construct_loader(cfg, "test")
    if multilabel.task(cfg) != "classification":  # AVA boxes or Charades videos: mAP
        return multilabel.test(model, loader, cfg, device)
    num_videos = loader.dataset.num_videos
    predictions = gather_predictions(predict_views(model, loader, cfg, device))
    stats, rows = evaluate_predictions(predictions, num_videos, cfg, video_paths_of(loader.dataset))
    stats["mem"] = f"{memory_usage_gb(device):.2f}G"
    if stats["num_excluded"]:
        logger.warning(f"{stats['num_excluded']} videos excluded from the metrics because views failed to "
                       f"decode: {stats['excluded_videos']} (failed views: {stats['failed_paths']})")
    log_json_stats({k: v for k, v in stats.items() if k not in ("failed_paths", "excluded_videos")},
                   cfg.OUTPUT_DIR, du.is_master_proc())
    if cfg.TEST.SAVE_RESULTS_PATH and du.is_master_proc():
        path = os.path.join(cfg.OUTPUT_DIR, cfg.TEST.SAVE_RESULTS_PATH)
        write_results(rows, path)
        logger.info(f"wrote per-video predictions to {path}")
    return stats
