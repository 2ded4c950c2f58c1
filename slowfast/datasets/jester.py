"""Jester-v1 (27 hand gestures), in either of its two public layouts.

* Official: ``jester-v1-train.csv`` / ``jester-v1-validation.csv`` (``id;Label Name``) and
  ``jester-v1-labels.csv`` (one name per line, line number = id) in ``DATA.PATH_TO_DATA_DIR``;
  frames ``DATA.PATH_PREFIX/<id>/00001.jpg ...`` at 12 fps (``DATA.FRAME_FOLDER_FPS`` overrides).
* Efficient-SlowFast: ``trainlist.txt`` / ``vallist.txt`` (``<id> <label>``), clips converted
  to 12 fps mp4 at ``DATA.PATH_PREFIX/<id>/<id>.mp4``. The baseline repository's lists are
  1-based: set ``DATA.ONE_BASED_LABELS True`` for them (a 1-based list is otherwise rejected).

The official layout is used when ``jester-v1-labels.csv`` is present. The test labels were never
published, so the "test" split evaluates the validation list. Horizontal flips are never
applied: "Swiping Left" mirrored is "Swiping Right".
"""
import os
from dataclasses import replace

from slowfast.datasets.annotations import (
    find_annotation_file,
    parse_id_label_list,
    parse_jester_csv,
    parse_label_names,
)
from slowfast.datasets.build import DATASET_REGISTRY
from slowfast.datasets.video_dataset import VideoDataset

LABELS_FILE = "jester-v1-labels.csv"
OFFICIAL_LISTS = {"train": "jester-v1-train.csv", "val": "jester-v1-validation.csv", "test": "jester-v1-validation.csv"}
EFFICIENT_LISTS = {"train": "trainlist.txt", "val": "vallist.txt", "test": "vallist.txt"}
# The official frame folders: 00001.jpg, 00002.jpg, ... recorded at 12 fps.
OFFICIAL_FRAME_TEMPLATE = "{:05d}.jpg"
OFFICIAL_FPS = 12.0


@DATASET_REGISTRY.register()
class Jester(VideoDataset):
    """Jester-v1 gestures from the official frame folders or the converted mp4 clips."""

    allow_flip = False

    def is_official_layout(self) -> bool:
        return os.path.isfile(os.path.join(self.cfg.DATA.PATH_TO_DATA_DIR, LABELS_FILE))

    def reader_options(self, cfg):
        options = super().reader_options(cfg)
        if self.is_official_layout():
            return replace(options, backend="frames", frame_template=OFFICIAL_FRAME_TEMPLATE, start_index=1,
                           fps=cfg.DATA.FRAME_FOLDER_FPS or OFFICIAL_FPS)
        if options.backend == "frames":  # the release keeps the frames next to the mp4
            return replace(options, frame_template=OFFICIAL_FRAME_TEMPLATE, start_index=1,
                           fps=cfg.DATA.FRAME_FOLDER_FPS or OFFICIAL_FPS)
        return options

    def one_based_labels(self) -> bool:
        # Official lists name their classes; only the numeric release lists can be 1-based.
        return False if self.is_official_layout() else self.cfg.DATA.ONE_BASED_LABELS

    def load_records(self, split):
        data = self.cfg.DATA
        if self.is_official_layout():
            class_ids = parse_label_names(os.path.join(data.PATH_TO_DATA_DIR, LABELS_FILE))
            path = find_annotation_file(data.PATH_TO_DATA_DIR, [OFFICIAL_LISTS[split]])
            return parse_jester_csv(path, class_ids, data.PATH_PREFIX, on_error=self.on_annotation_error), path
        try:
            path = find_annotation_file(data.PATH_TO_DATA_DIR, [EFFICIENT_LISTS[split]])
        except FileNotFoundError:
            raise FileNotFoundError(
                f"no Jester annotations in DATA.PATH_TO_DATA_DIR='{data.PATH_TO_DATA_DIR}': expected "
                f"{LABELS_FILE} + {OFFICIAL_LISTS[split]} (official) or {EFFICIENT_LISTS[split]} (Efficient-SlowFast)"
            ) from None
        in_folder = (lambda vid: vid) if self.options.backend == "frames" else (lambda vid: os.path.join(vid, f"{vid}.mp4"))
        records = parse_id_label_list(path, data.PATH_LABEL_SEPARATOR, data.PATH_PREFIX, in_folder, self.on_annotation_error)
        return records, path
