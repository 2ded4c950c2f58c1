"""Generic frame-folder datasets in the mmaction2 list format.

``{split}.csv`` (or ``{split}.txt``) in ``DATA.PATH_TO_DATA_DIR``, lines
``frame_dir total_frames label`` or ``frame_dir offset total_frames label``; frame ``i`` of a
clip is ``DATA.PATH_PREFIX/frame_dir/DATA.FRAME_TEMPLATE.format(DATA.FRAME_START_INDEX + offset + i)``
(mmaction2's ``img_{:05}.jpg`` from 1 by default). Folders carry no frame rate:
``DATA.FRAME_FOLDER_FPS`` (0 = ``DATA.TARGET_FPS``) is assumed.
"""
from dataclasses import replace

from slowfast.datasets.annotations import find_annotation_file, parse_frame_list
from slowfast.datasets.build import DATASET_REGISTRY
from slowfast.datasets.video_dataset import VideoDataset


@DATASET_REGISTRY.register()
class Frames(VideoDataset):
    """Clips stored as folders of JPEG frames, listed with their frame counts."""

    def reader_options(self, cfg):
        return replace(super().reader_options(cfg), backend="frames")

    def load_records(self, split):
        path = find_annotation_file(self.cfg.DATA.PATH_TO_DATA_DIR, [f"{split}.csv", f"{split}.txt"])
        data = self.cfg.DATA
        return parse_frame_list(path, data.PATH_PREFIX, data.FRAME_START_INDEX, self.on_annotation_error), path
