"""Kinetics-style video lists: ``{train,val,test}.csv`` in ``DATA.PATH_TO_DATA_DIR``.

Each line is ``path label`` separated by ``DATA.PATH_LABEL_SEPARATOR`` (SlowFast's three-field
``path num_frames label`` and one-field ``path`` lines are read too, one format per list), with ``DATA.PATH_PREFIX``
prepended to the path. Official clip names look like ``{youtube_id}_{start:06d}_{end:06d}.mp4``.
"""
from slowfast.datasets.annotations import find_annotation_file, parse_path_label_list
from slowfast.datasets.build import DATASET_REGISTRY
from slowfast.datasets.video_dataset import VideoDataset


@DATASET_REGISTRY.register()
class Kinetics(VideoDataset):
    """Kinetics-400/600/700 and any dataset written in its ``path label`` csv format."""

    def load_records(self, split):
        path = find_annotation_file(self.cfg.DATA.PATH_TO_DATA_DIR, [f"{split}.csv"])
        data = self.cfg.DATA
        return parse_path_label_list(path, data.PATH_LABEL_SEPARATOR, data.PATH_PREFIX, self.on_annotation_error), path
