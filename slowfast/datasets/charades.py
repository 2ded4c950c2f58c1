"""Charades multi-label recognition (``TRAIN.DATASET charades``): 157 classes, several per video.

Two list formats in ``DATA.PATH_TO_DATA_DIR`` (``{train,val}.csv``; the test split reads
``val.csv``, as SlowFast does), told apart by the first line:

* SlowFast's frame lists: a header ``original_vido_id video_id frame_id path labels``, then one
  line per frame; ``path`` is relative to ``DATA.PATH_PREFIX`` (``<id>/<id>-000001.jpg``) and
  ``labels`` the frame's comma-separated 0-based classes (``""`` for none). A video's label is the
  union of its frames' labels; frames are read from the folder at ``DATA.FRAME_FOLDER_FPS``.
* video files: ``path labels`` lines (separator ``DATA.PATH_LABEL_SEPARATOR``), ``labels``
  comma-separated 0-based classes (``1,4,7``), files decoded with ``DATA.DECODING_BACKEND``.

Items are those of every video dataset (``video_dataset.py``) with a multi-hot
``FloatTensor(MODEL.NUM_CLASSES)`` label; the loss, the max aggregation of test views and the mAP
(``ava_metrics.charades_map``) are the engine's. Training uses the video-level labels for every
clip (SlowFast keeps only the labels of the frames a training clip spans; with Charades' long
actions the two rarely differ).

``SYNTHETIC.LAYOUT charades`` reads the built-in generated frame lists (datasets/synthetic_detection.py)
instead of ``DATA.PATH_TO_DATA_DIR``.
"""
import os
from dataclasses import dataclass
from typing import List, Optional, Tuple

import torch

from slowfast.datasets.annotations import (
    AnnotationError, VideoRecord, find_annotation_file, join_prefix, parse_lines, split_fields,
)
from slowfast.datasets.ava_annotations import parse_frame_lists, parse_labels_field
from slowfast.datasets.build import DATASET_REGISTRY
from slowfast.datasets.synthetic_detection import ensure_generated, uses_builtin_layout
from slowfast.datasets.video_dataset import VideoDataset
from slowfast.datasets.video_reader import VideoDecodeError, VideoReader, open_video
from slowfast.utils.errors import DataError

FRAME_LIST_HEADER = "original_vido_id"


@dataclass(frozen=True, slots=True)
class MultiLabelRecord(VideoRecord):
    """A video with several labels; ``frame_template`` names its frame files (frame lists only)."""

    labels: Tuple[int, ...] = ()
    frame_template: Optional[str] = None


def _is_frame_list(path: str) -> bool:
    with open(path, "r", encoding="utf-8-sig") as f:
        return f.readline().lstrip().startswith(FRAME_LIST_HEADER)


def parse_multilabel_video_list(path: str, separator: str = " ", prefix: str = "", on_error=None) -> List[MultiLabelRecord]:
    """``path labels`` lines with comma-separated labels (``videos/a.mp4 1,4,7``)."""

    def parse_line(source: str, text: str) -> MultiLabelRecord:
        fields = split_fields(text, separator)
        if len(fields) != 2:
            raise AnnotationError(f"{source}: expected 'path{separator}labels' with comma-separated labels "
                                  f"(e.g. 'videos/a.mp4{separator}1,4,7'), got {text!r}")
        labels = parse_labels_field(fields[1], source)
        return MultiLabelRecord(join_prefix(prefix, fields[0]), 0, source, labels=labels)

    return parse_lines(path, parse_line, on_error)


@DATASET_REGISTRY.register()
class Charades(VideoDataset):
    """Charades (and any multi-label list in its formats); see the module docstring."""

    REQUIRES_DATA_DIR = False  # checked here: SYNTHETIC.LAYOUT charades needs no directory

    def __init__(self, cfg, split: str, on_annotation_error=None):
        if uses_builtin_layout(cfg, "charades"):
            root = ensure_generated(cfg, "charades")
            cfg = cfg.clone()
            cfg.defrost()  # the caller's config may be frozen; this copy is the dataset's own
            cfg.DATA.PATH_TO_DATA_DIR, cfg.DATA.PATH_PREFIX = root, os.path.join(root, "frames")
        elif not cfg.DATA.PATH_TO_DATA_DIR:
            raise DataError("DATA.PATH_TO_DATA_DIR is required by the charades dataset (the directory of {train,val}.csv)",
                            "set it, or SYNTHETIC.LAYOUT charades for the built-in data")
        super().__init__(cfg, split, on_annotation_error)

    def load_records(self, split):
        data = self.cfg.DATA
        path = find_annotation_file(data.PATH_TO_DATA_DIR, [f"{'val' if split == 'test' else split}.csv"])
        if _is_frame_list(path):
            records = [MultiLabelRecord(v.folder, 0, v.source, v.num_frames, v.start_index, labels=v.labels,
                                        frame_template=v.frame_template)
                       for v in parse_frame_lists([path], data.PATH_PREFIX)]
        else:
            records = parse_multilabel_video_list(path, data.PATH_LABEL_SEPARATOR, data.PATH_PREFIX, self.on_annotation_error)
        return self._check_multilabels(records), path

    def _check_multilabels(self, records: List[MultiLabelRecord]) -> List[MultiLabelRecord]:
        num_classes, kept = self.cfg.MODEL.NUM_CLASSES, []
        for record in records:
            bad = [label for label in record.labels if not 0 <= label < num_classes]
            if not bad:
                kept.append(record)
                continue
            error = AnnotationError(f"{record.source}: labels {bad} are out of range [0, {num_classes}) (MODEL.NUM_CLASSES; "
                                    "Charades classes are 0-based)")
            if self.on_annotation_error is None:
                raise error
            self.on_annotation_error(error)
        return kept

    def item_label(self, record: MultiLabelRecord) -> torch.Tensor:
        """Multi-hot ``FloatTensor(NUM_CLASSES)``."""
        label = torch.zeros(self.cfg.MODEL.NUM_CLASSES)
        label[list(record.labels)] = 1.0
        return label

    def open_reader(self, record: MultiLabelRecord) -> VideoReader:
        if record.frame_template is None:
            return super().open_reader(record)
        # Frame lists: this video's own file names, at DATA.FRAME_FOLDER_FPS.
        reader = open_video(record.path, "frames", frame_template=record.frame_template,
                            start_index=record.start_index, fps=self.options.fps)
        if reader.num_frames < record.num_frames:
            reader.close()
            raise VideoDecodeError(f"{record.path}: {record.source} lists {record.num_frames} frames, "
                                   f"only {reader.num_frames} are readable")
        return reader

