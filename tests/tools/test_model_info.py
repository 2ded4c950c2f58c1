"""tools/model_info.py: argument handling and the printed table (tiny model)."""
import os

import pytest
from tests.tools.tool_loader import REPO, load_tool



def _tool():
    return load_tool("model_info")


def test_prints_params_gflops_and_stage_shapes(capsys):
    tiny = ["RESNET.WIDTH_DIVISOR", "8", "DATA.NUM_FRAMES", "8", "DATA.TRAIN_CROP_SIZE", "32",
            "DATA.TEST_CROP_SIZE", "64", "MODEL.NUM_CLASSES", "5"]
    config = os.path.join(REPO, "configs", "Kinetics", "SLOWFAST_8x8_R50.yaml")
    assert _tool().main(["--cfg", config, *tiny]) == 0
    out = capsys.readouterr().out
    assert "model SlowFast (arch slowfast, 5 classes)" in out
    assert "train input     3x2x32x32 + 3x8x32x32" in out
    assert "test  input     3x2x64x64 + 3x8x64x64" in out
    assert "train GFLOPs" in out and "test  GFLOPs" in out
    s5_row = next(line for line in out.splitlines() if line.strip().startswith("s5 "))
    assert s5_row.split()[1:] == ["(1,", "256,", "2,", "1,", "1)", "(1,", "32,", "8,", "1,", "1)"]


def test_reports_a_failing_config_and_exits_nonzero(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("MODEL:\n  MODEL_NAME: NoSuchModel\n")
    assert _tool().main(["--cfg", str(bad)]) == 1
    assert "MODEL.MODEL_NAME 'NoSuchModel' is not a registered model" in capsys.readouterr().out


def test_requires_a_config():
    with pytest.raises(SystemExit):
        _tool().main([])
