"""slowfast.engine.preflight: the jobs, the demo input and every split a run reads, checked up front."""
import pytest

from slowfast.config import get_cfg
from slowfast.engine import preflight
from slowfast.utils.errors import ConfigError, DataError


def kinetics_cfg(tmp_path, num_classes=2):
    data = tmp_path / "k"
    data.mkdir()
    for split in ("train", "val", "test"):
        (data / f"{split}.csv").write_text("".join(f"v{i}.mp4 {i % num_classes}\n" for i in range(4)))
    cfg = get_cfg()
    cfg.NUM_GPUS = 0
    cfg.TRAIN.DATASET = cfg.TEST.DATASET = "kinetics"
    cfg.DATA.PATH_TO_DATA_DIR = str(data)
    cfg.MODEL.NUM_CLASSES = num_classes
    return cfg


def test_planned_splits_follow_the_enabled_jobs(tmp_path):
    cfg = kinetics_cfg(tmp_path)
    cfg.TEST.DATASET = "synthetic"
    assert preflight.planned_splits(cfg) == [("TRAIN.DATASET", "kinetics", "train"), ("TRAIN.DATASET", "kinetics", "val"),
                                             ("TEST.DATASET", "synthetic", "test")]
    cfg.TRAIN.ENABLE = False
    assert preflight.planned_splits(cfg) == [("TEST.DATASET", "synthetic", "test")]


def test_a_good_run_passes_and_a_bad_split_names_its_key(tmp_path):
    cfg = kinetics_cfg(tmp_path)
    preflight.check_run(cfg)
    (tmp_path / "k" / "test.csv").write_text("v0.mp4 0\nv1.mp4 5\n")
    with pytest.raises(DataError) as error:
        preflight.check_run(cfg)
    assert error.value.message == f"TEST.DATASET=kinetics: test split: {tmp_path}/k/test.csv:2: label 5 is out of range [0, 2) (MODEL.NUM_CLASSES)"


def test_synthetic_split_is_checked_without_generating(tmp_path):
    cfg = kinetics_cfg(tmp_path)
    cfg.TEST.DATASET = "synthetic"
    cfg.SYNTHETIC.CACHE_DIR = str(tmp_path / "synthetic")
    with pytest.raises(DataError) as error:
        preflight.check_splits(cfg)
    assert error.value.message.startswith(f"TEST.DATASET=synthetic: test split: {tmp_path}/synthetic/test.csv:3: label 2")
    assert error.value.hint == "training reads TRAIN.DATASET=kinetics; set TEST.DATASET kinetics to test on the same dataset"
    assert not (tmp_path / "synthetic").exists()
    cfg.MODEL.NUM_CLASSES = 9  # the synthetic labels fit: nothing generated either
    cfg.TRAIN.ENABLE = False
    preflight.check_splits(cfg)
    assert not (tmp_path / "synthetic").exists()


def test_jobs_and_demo_input(tmp_path):
    cfg = kinetics_cfg(tmp_path)
    cfg.TRAIN.ENABLE = cfg.TEST.ENABLE = False
    with pytest.raises(ConfigError, match="^nothing to run: TRAIN.ENABLE, TEST.ENABLE and DEMO.ENABLE are all False"):
        preflight.check_run(cfg)
    cfg.DEMO.ENABLE = True
    with pytest.raises(ConfigError, match="^DEMO.ENABLE=True: the demo has no input"):
        preflight.check_run(cfg)
    (tmp_path / "clip_01.mp4").write_bytes(b"")
    cfg.DEMO.INPUT_VIDEO = str(tmp_path / "clip_1.mp4")
    with pytest.raises(DataError) as error:
        preflight.check_run(cfg)
    assert error.value.message == f"DEMO.INPUT_VIDEO='{tmp_path}/clip_1.mp4': video not found"
    assert error.value.hint == f"did you mean clip_01.mp4 (in {tmp_path})?"
    cfg.DEMO.INPUT_VIDEO = str(tmp_path / "clip_01.mp4")
    preflight.check_run(cfg)
    cfg.DEMO.INPUT_VIDEO = "rtsp://camera/stream"  # a URL is not a file
    preflight.check_run(cfg)
