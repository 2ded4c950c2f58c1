"""Small configs and annotation files for the dataset and loader tests.

Real clips come from ``tests/data/real_clips`` (see its README for origin and licence); the
annotation files are written into each test's ``tmp_path``.
"""
import os
import shutil
from typing import Iterable

import cv2
import numpy as np

from slowfast.config.defaults import get_cfg

REAL_CLIPS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "real_clips")


def real_clip(name: str) -> str:
    """Path of a real fixture (``part_0.mp4``, ``test.avi``, ``demo.mp4``, ``imgs``)."""
    return os.path.join(REAL_CLIPS, name)


def tiny_cfg(data_dir, prefix: str = "", num_classes: int = 10, arch: str = "slowfast"):
    """A CPU config with tiny clips: 8 frames at rate 2, crops of 32 (test 40)."""
    cfg = get_cfg()
    cfg.NUM_GPUS = 0
    cfg.RNG_SEED = 7
    cfg.DATA.PATH_TO_DATA_DIR = str(data_dir)
    cfg.DATA.PATH_PREFIX = str(prefix)
    cfg.DATA.NUM_FRAMES = 8
    cfg.DATA.SAMPLING_RATE = 2
    cfg.DATA.TRAIN_JITTER_SCALES = [40, 48]
    cfg.DATA.TRAIN_CROP_SIZE = 32
    cfg.DATA.TEST_CROP_SIZE = 40
    cfg.MODEL.NUM_CLASSES = num_classes
    cfg.MODEL.ARCH = arch
    cfg.SLOWFAST.ALPHA = 4
    cfg.TRAIN.BATCH_SIZE = 2
    cfg.TEST.BATCH_SIZE = 3
    cfg.TEST.NUM_ENSEMBLE_VIEWS = 2
    cfg.TEST.NUM_SPATIAL_CROPS = 3
    cfg.DATA_LOADER.NUM_WORKERS = 0
    return cfg


def write_lines(path, lines: Iterable[str]) -> str:
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return str(path)


def write_split_files(data_dir, lines: Iterable[str], splits=("train", "val", "test"), ext: str = ".csv") -> None:
    """The same list as ``{split}{ext}`` for every split."""
    lines = list(lines)
    for split in splits:
        write_lines(os.path.join(data_dir, f"{split}{ext}"), lines)


def write_frame_folder(folder, num_frames: int, template: str = "{:05d}.jpg", start: int = 1,
                       size=(36, 48), seed: int = 0) -> str:
    """A folder of ``num_frames`` random-noise JPEGs named by ``template`` from ``start``."""
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(num_frames):
        image = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
        cv2.imwrite(os.path.join(folder, template.format(start + i)), image)
    return str(folder)


def copy_file(source: str, target) -> str:
    os.makedirs(os.path.dirname(str(target)), exist_ok=True)
    shutil.copyfile(source, str(target))
    return str(target)
