"""Everything a run will read, checked before a model is built: ``check_run(cfg)``.

``tools/run_net.py`` calls it after ``assert_and_infer_cfg`` and before launching any process, so
a mistake in the test split or the demo input fails in seconds instead of after hours of
training. Checked:

* some job is enabled (else: which key enables which job);
* the demo's input exists (``DEMO.INPUT_VIDEO`` / ``DEMO.DATA_SOURCE``, unless a URL or a webcam);
* every split the enabled jobs read: train and val of ``TRAIN.DATASET`` when training, test of
  ``TEST.DATASET`` when testing. Each is resolved and its annotations parsed (labels against
  ``MODEL.NUM_CLASSES``) by building the dataset, or by the dataset class's own cheaper
  ``check_split(cfg, split)`` when it has one (the synthetic dataset checks its labels without
  generating a clip). An error names the key that chose the dataset:
  ``TEST.DATASET=synthetic: .../test.csv:3: label 2 is out of range [0, 2) (MODEL.NUM_CLASSES)``.
"""
import os
from typing import List, Optional, Tuple

from slowfast.datasets.build import get_dataset_class
from slowfast.utils.errors import ConfigError, DataError, SlowFastError
from slowfast.utils.logging import get_logger
from slowfast.utils.suggest import did_you_mean, files_in

logger = get_logger(__name__)

_VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v")


def check_jobs(cfg) -> None:
    """At least one of training, testing and the demo is enabled."""
    if not (cfg.TRAIN.ENABLE or cfg.TEST.ENABLE or cfg.DEMO.ENABLE):
        raise ConfigError(
            "nothing to run: TRAIN.ENABLE, TEST.ENABLE and DEMO.ENABLE are all False",
            "set TRAIN.ENABLE True to train, TEST.ENABLE True to test a checkpoint, "
            "or DEMO.INPUT_VIDEO <video> (with DEMO.ENABLE True, or alone) to run the demo",
        )


def demo_input(cfg) -> Tuple[str, str]:
    """``(key, value)`` of the demo's input: DEMO.INPUT_VIDEO, else DEMO.DATA_SOURCE."""
    if cfg.DEMO.INPUT_VIDEO:
        return "DEMO.INPUT_VIDEO", cfg.DEMO.INPUT_VIDEO
    return "DEMO.DATA_SOURCE", cfg.DEMO.DATA_SOURCE


def check_demo_input(cfg) -> None:
    """The demo has an input, and a file input exists (the nearest video names otherwise)."""
    if not cfg.DEMO.ENABLE or cfg.DEMO.WEBCAM >= 0:
        return
    key, path = demo_input(cfg)
    if not path:
        raise ConfigError("DEMO.ENABLE=True: the demo has no input",
                          "set DEMO.INPUT_VIDEO to a video file (or a stream URL), or DEMO.WEBCAM to a camera index")
    if "://" in path or os.path.isfile(path):
        return
    folder = os.path.dirname(path) or "."
    hint = did_you_mean(os.path.basename(path), files_in(folder, _VIDEO_SUFFIXES))
    hint = f"{hint[:-1]} (in {folder})?" if hint else f"give the path of a video file (looked in {os.path.abspath(folder)})"
    raise DataError(f"{key}={path!r}: video not found", hint)


def planned_splits(cfg) -> List[Tuple[str, str, str]]:
    """``(key, dataset name, split)`` of every split the enabled jobs will read, in reading order."""
    splits = []
    if cfg.TRAIN.ENABLE:
        splits += [("TRAIN.DATASET", cfg.TRAIN.DATASET, "train"), ("TRAIN.DATASET", cfg.TRAIN.DATASET, "val")]
    if cfg.TEST.ENABLE:
        splits.append(("TEST.DATASET", cfg.TEST.DATASET, "test"))
    return splits


def _split_hint(cfg, key: str, name: str, error: BaseException) -> Optional[str]:
    """How to fix a split's error: its own hint, else the likely cause."""
    if isinstance(error, SlowFastError) and error.hint:
        return error.hint
    if key == "TEST.DATASET" and cfg.TRAIN.ENABLE and name.lower() != cfg.TRAIN.DATASET.lower():
        return (f"training reads TRAIN.DATASET={cfg.TRAIN.DATASET}; set TEST.DATASET {cfg.TRAIN.DATASET} "
                "to test on the same dataset")
    if isinstance(error, FileNotFoundError):
        return "set DATA.PATH_TO_DATA_DIR to the folder that holds the dataset's annotation files"
    return None


def check_splits(cfg) -> None:
    """Resolve and parse every planned split; the first problem is a DataError naming its key."""
    for key, name, split in planned_splits(cfg):
        dataset_class = get_dataset_class(name)
        check = getattr(dataset_class, "check_split", None)
        try:
            if check is not None:
                check(cfg, split)
            else:
                dataset_class(cfg, split)
        except (SlowFastError, FileNotFoundError) as error:
            message = error.message if isinstance(error, SlowFastError) else str(error)
            details = error.details if isinstance(error, SlowFastError) else []
            raise DataError(f"{key}={name}: {split} split: {message}", _split_hint(cfg, key, name, error),
                            details) from error
    if cfg.TRAIN.ENABLE and cfg.TEST.ENABLE and cfg.TRAIN.DATASET.lower() != cfg.TEST.DATASET.lower():
        logger.warning(f"training reads TRAIN.DATASET={cfg.TRAIN.DATASET} but the test reads "
                       f"TEST.DATASET={cfg.TEST.DATASET}")


def check_run(cfg) -> None:
    """Every pre-flight check of a run_net run (see the module docstring)."""
    check_jobs(cfg)
    check_demo_input(cfg)
    check_splits(cfg)
