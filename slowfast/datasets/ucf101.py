"""UCF101 and HMDB51 with their official three train/test splits (``DATA.SPLIT_ID`` 1..3).

In ``DATA.PATH_TO_DATA_DIR``: ``classInd.txt`` (``1 ApplyEyeMakeup``), ``trainlist0K.txt``
(``ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1``) and ``testlist0K.txt`` (no label: the
class is the folder). Videos are ``DATA.PATH_PREFIX/<Class>/<video>.avi``. ``classInd.txt`` ids
are 1-based by definition and are always converted. HMDB51 also reads its own split files
(``<action>_test_split<K>.txt``) when there is no ``classInd.txt``. Neither dataset has a
validation split: "val" and "test" both read the test list.
"""
import os

from slowfast.datasets.annotations import (
    find_annotation_file,
    parse_class_index,
    parse_hmdb_official_splits,
    parse_ucf_split,
)
from slowfast.datasets.build import DATASET_REGISTRY
from slowfast.datasets.video_dataset import VideoDataset
from slowfast.utils.errors import ConfigError

CLASS_INDEX_FILE = "classInd.txt"


def split_list_name(split: str, split_id: int) -> str:
    """``trainlist0K.txt`` for train, ``testlist0K.txt`` for val and test."""
    if split_id not in (1, 2, 3):
        raise ConfigError(f"DATA.SPLIT_ID must be 1, 2 or 3 (the official splits), got {split_id}")
    return f"{'train' if split == 'train' else 'test'}list{split_id:02d}.txt"


@DATASET_REGISTRY.register()
class Ucf101(VideoDataset):
    """UCF101 (101 classes) in the official ``classInd`` / ``trainlist`` / ``testlist`` format."""

    def one_based_labels(self) -> bool:
        return False  # classInd.txt's 1-based ids are converted while parsing

    def load_records(self, split):
        data = self.cfg.DATA
        list_name = split_list_name(split, data.SPLIT_ID)
        class_ids, base = parse_class_index(find_annotation_file(data.PATH_TO_DATA_DIR, [CLASS_INDEX_FILE]))
        path = find_annotation_file(data.PATH_TO_DATA_DIR, [list_name])
        return parse_ucf_split(path, class_ids, base, data.PATH_PREFIX, self.on_annotation_error), path


@DATASET_REGISTRY.register()
class Hmdb51(Ucf101):
    """HMDB51 (51 classes): the UCF101-style lists, or HMDB51's own ``*_test_splitK.txt`` files."""

    def load_records(self, split):
        data = self.cfg.DATA
        if os.path.isfile(os.path.join(data.PATH_TO_DATA_DIR, CLASS_INDEX_FILE)):
            return super().load_records(split)
        split_list_name(split, data.SPLIT_ID)  # validates DATA.SPLIT_ID
        usage = 1 if split == "train" else 2
        records = parse_hmdb_official_splits(data.PATH_TO_DATA_DIR, data.SPLIT_ID, usage, data.PATH_PREFIX,
                                             self.on_annotation_error)
        return records, os.path.join(data.PATH_TO_DATA_DIR, f"*_test_split{data.SPLIT_ID}.txt")
