"""Decode-failure handling shared by the datasets, and the up-front data check.

During a run a video that cannot be decoded never crashes the loader and never reaches the
collate function as ``None``: training replaces it (bounded by ``DATA.MAX_DECODE_RETRIES``),
evaluation drops it (``dropped_item``), and both report the path in ``meta["failed"]``.

Before a run, ``validate_dataset`` (``tools/validate_data.py``) checks a whole dataset: every
annotation line parses, every label is in range, every video opens and its first and last
frames decode. It reports everything it finds instead of stopping at the first problem.
"""
import inspect
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch

from slowfast.datasets.annotations import AnnotationError, VideoRecord
from slowfast.datasets.transforms import pack_pathway_output
from slowfast.datasets.video_reader import VideoDecodeError

# What a bad video raises: the reader wraps every open/decode problem in VideoDecodeError.
DECODE_ERRORS = (VideoDecodeError,)
# What a bad annotation file or list raises while a dataset is built.
ANNOTATION_ERRORS = (AnnotationError, FileNotFoundError, ValueError, KeyError)


class DecodeRetriesExhausted(RuntimeError):
    """Training drew ``DATA.MAX_DECODE_RETRIES + 1`` videos in a row that all failed to decode."""

    def __init__(self, failed_paths: Sequence[str], max_retries: int):
        shown = ", ".join(failed_paths[:5]) + (" ..." if len(failed_paths) > 5 else "")
        super().__init__(
            f"{len(failed_paths)} videos in a row failed to decode (DATA.MAX_DECODE_RETRIES={max_retries}): "
            f"{shown}; check the data with tools/validate_data.py"
        )
        self.failed_paths = list(failed_paths)


def pathway_shapes(cfg, num_frames: int, crop_size: int) -> List[torch.Size]:
    """Per-pathway ``(C, T, H, W)`` of a packed clip, computed on the meta device (no memory)."""
    clip = torch.empty((3, num_frames, crop_size, crop_size), device="meta")
    return [x.shape for x in pack_pathway_output(cfg, clip)]


def dropped_item(cfg, record: VideoRecord, video_index: int, view_index: int, crop_size: int):
    """The item of an evaluation view that failed to decode.

    Its inputs are zero-stride placeholders of the right shapes (they cost no memory and let
    the collate build a correctly shaped empty batch); ``meta["dropped"]`` tells the collate
    to leave the item out and ``meta["failed"]`` names the file.
    """
    inputs = [torch.zeros(()).expand(shape) for shape in pathway_shapes(cfg, cfg.DATA.NUM_FRAMES, crop_size)]
    meta = {"view_index": view_index, "failed": [record.path], "dropped": True}
    return inputs, record.label, video_index, meta


# ---------------------------------------------------------------------------- #
# Up-front validation
# ---------------------------------------------------------------------------- #
@dataclass
class SplitReport:
    """What ``validate_split`` found for one split."""

    split: str
    dataset: str
    annotation_path: str = ""
    num_videos: int = 0
    annotation_errors: List[str] = field(default_factory=list)  # every malformed line / bad label
    bad_videos: List[Tuple[str, str]] = field(default_factory=list)  # (file:line, reason)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.annotation_errors and not self.bad_videos


def check_video(dataset, record: VideoRecord) -> Optional[str]:
    """None if ``record`` opens and its first and last frames decode, else the reason."""
    try:
        with dataset.open_reader(record) as reader:
            last = (record.num_frames or reader.num_frames) - 1
            frames = reader.read([0, last])
            if frames.shape[0] != 2:
                return f"{record.path}: read {frames.shape[0]} frames instead of 2"
    except DECODE_ERRORS as error:
        return str(error)
    return None


def dataset_name_for(cfg, split: str) -> str:
    """The registered dataset a split is read from (TRAIN.DATASET for train/val, else TEST.DATASET)."""
    return cfg.TRAIN.DATASET if split in ("train", "val") else cfg.TEST.DATASET


def build_collecting_errors(name: str, cfg, split: str, errors: List[str]):
    """Build dataset ``name`` so that every malformed line is appended to ``errors`` and left out
    (datasets whose constructor takes no ``on_annotation_error`` stop at the first one)."""
    import slowfast.datasets  # noqa: F401  (registers every dataset)
    from slowfast.datasets.build import DATASET_REGISTRY, build_dataset

    by_lower_name = {registered.lower(): cls for registered, cls in DATASET_REGISTRY}
    cls = by_lower_name.get(name.lower())
    if cls is None or "on_annotation_error" not in inspect.signature(cls.__init__).parameters:
        return build_dataset(name, cfg, split)  # raises the registry's error for unknown names
    return cls(cfg, split, on_annotation_error=lambda error: errors.append(str(error)))


def validate_split(cfg, split: str, progress: Optional[Callable[[int, int], None]] = None) -> SplitReport:
    """Build the split's dataset (collecting every malformed line and bad label), then
    decode-check every video that parsed."""
    start = time.perf_counter()
    report = SplitReport(split=split, dataset=dataset_name_for(cfg, split))
    try:
        dataset = build_collecting_errors(report.dataset, cfg, split, report.annotation_errors)
    except ANNOTATION_ERRORS as error:  # a missing or unusable file: nothing to check further
        report.annotation_errors.append(str(error))
        report.seconds = time.perf_counter() - start
        return report
    report.annotation_path = dataset.annotation_path
    report.num_videos = dataset.num_videos
    for i, record in enumerate(dataset.records):
        reason = check_video(dataset, record)
        if reason is not None:
            report.bad_videos.append((record.source, reason))
        if progress is not None:
            progress(i + 1, dataset.num_videos)
    report.seconds = time.perf_counter() - start
    return report


def validate_dataset(cfg, splits: Sequence[str] = ("train", "val", "test"), progress=None) -> List[SplitReport]:
    """``validate_split`` for each split; ``progress(split, done, total)`` is called per video."""
    reports = []
    for split in splits:
        split_progress = None if progress is None else (lambda done, total, s=split: progress(s, done, total))
        reports.append(validate_split(cfg, split, split_progress))
    return reports


def format_report(reports: Sequence[SplitReport], max_listed: int = 50) -> str:
    """A human-readable summary: one block per split, every problem with its file and line."""
    lines = []
    for report in reports:
        header = f"[{report.split}] dataset '{report.dataset}'"
        if not report.annotation_path:  # the annotations could not be read at all
            lines.append(f"{header}: ANNOTATION ERROR: {'; '.join(report.annotation_errors)}")
            continue
        status = "videos OK" if not report.bad_videos else f"{len(report.bad_videos)} of {report.num_videos} videos FAILED"
        lines.append(f"{header}, {report.annotation_path}: {report.num_videos} videos parsed, "
                     f"{len(report.annotation_errors)} bad lines, {status} ({report.seconds:.1f} s)")
        problems = [f"  {message}" for message in report.annotation_errors]
        problems += [f"  {source}: {reason}" for source, reason in report.bad_videos]
        lines.extend(problems[:max_listed])
        if len(problems) > max_listed:
            lines.append(f"  ... and {len(problems) - max_listed} more")
    bad = sum(not r.ok for r in reports)
    lines.append("all splits OK" if bad == 0 else f"{bad} of {len(reports)} splits have problems")
    return "\n".join(lines)


def summarize(reports: Sequence[SplitReport]) -> Dict[str, int]:
    """Counts for scripts: videos parsed, bad videos, annotation errors (lines or whole files)."""
    return {
        "videos": sum(r.num_videos for r in reports),
        "bad_videos": sum(len(r.bad_videos) for r in reports),
        "annotation_errors": sum(len(r.annotation_errors) for r in reports),
    }
