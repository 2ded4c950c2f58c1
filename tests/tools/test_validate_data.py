"""tools/validate_data.py on a small Kinetics-style dataset with one bad file and one bad line."""
import importlib.util
import os

import pytest

from tests.datasets.dataset_helpers import REAL_CLIPS, write_lines
from tests.datasets.video_fixtures import damage_video

TOOL = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "tools", "validate_data.py")


def load_tool():
    spec = importlib.util.spec_from_file_location("validate_data_tool", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def data_dir(tmp_path):
    config = tmp_path / "cfg.yaml"
    config.write_text(
        f"DATA:\n  PATH_TO_DATA_DIR: {tmp_path}\n  PATH_PREFIX: {REAL_CLIPS}\nMODEL:\n  NUM_CLASSES: 10\nNUM_GPUS: 0\n"
    )
    write_lines(tmp_path / "train.csv", ["part_0.mp4 1", "test.avi 2", "demo.mp4 6"])
    write_lines(tmp_path / "val.csv", ["part_0.mp4 1"])
    write_lines(tmp_path / "test.csv", ["test.avi 2"])
    return tmp_path


def test_clean_dataset_passes(data_dir, capsys):
    assert load_tool().main(["--cfg", str(data_dir / "cfg.yaml"), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "[train] dataset 'kinetics'" in out and "3 videos parsed, 0 bad lines, videos OK" in out
    assert "all splits OK" in out


def test_every_bad_video_and_bad_line_is_reported_with_file_and_line(data_dir, capsys):
    bad = damage_video(os.path.join(REAL_CLIPS, "part_0.mp4"), str(data_dir / "bad.mp4"), "truncated")
    write_lines(data_dir / "train.csv", ["part_0.mp4 1", f"{bad} 2", "missing.mp4 3"])
    write_lines(data_dir / "test.csv", ["test.avi 2", "demo.mp4 42", "part_0.mp4 1 2 3", "demo.mp4 six"])
    code = load_tool().main(["--cfg", str(data_dir / "cfg.yaml"), "--splits", "train", "test"])
    out = capsys.readouterr().out
    assert code == 1
    assert "[train] checked 3/3 videos" in out
    assert "3 videos parsed, 0 bad lines, 2 of 3 videos FAILED" in out
    assert f"train.csv:2: {bad}: cannot open as a video" in out
    assert f"train.csv:3: {os.path.join(REAL_CLIPS, 'missing.mp4')}: file not found" in out
    # every bad line of the test list, and the good line's video still decode-checked
    assert "test.csv: 1 videos parsed, 3 bad lines, videos OK" in out
    assert "test.csv:2: label 42 is out of range" in out
    assert "test.csv:3: expected 'path label'" in out
    assert "test.csv:4: label 'six' is not an integer" in out
    assert "2 of 2 splits have problems" in out


def test_missing_annotation_file_is_reported(data_dir, capsys):
    os.remove(data_dir / "val.csv")
    assert load_tool().main(["--cfg", str(data_dir / "cfg.yaml"), "--splits", "val", "--quiet"]) == 1
    assert "[val] dataset 'kinetics': ANNOTATION ERROR: annotation file not found" in capsys.readouterr().out


def test_overrides_after_cfg_are_applied(data_dir, capsys):
    code = load_tool().main(["--cfg", str(data_dir / "cfg.yaml"), "--splits", "val", "--quiet", "MODEL.NUM_CLASSES", "1"])
    assert code == 1
    assert "val.csv:1: label 1 is out of range [0, 1)" in capsys.readouterr().out
