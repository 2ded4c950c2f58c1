"""SlowFast Caffe2 .pkl: the blob-name table, parity of the converted model, the real loading path."""
import logging
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch

from slowfast.config.defaults import get_cfg
from slowfast.converters.caffe2 import blob_to_name
from slowfast.engine import checkpoint as cu
from slowfast.models.build import build_model
from tests.converters.foreign_weights import case_inputs, foreign_state, load_case, relative_error
from tests.converters.test_safe_pickle import python2_pickle
from tests.tools.tool_loader import REPO, load_tool

CASE = "caffe2_slowfast_8x8_r50_w8_10.json"


@pytest.fixture(scope="module")
def case():
    return load_case(CASE)


def case_cfg(case):
    cfg = get_cfg()
    cfg.merge_from_file(os.path.join(REPO, "configs", "Kinetics", case["source"]))
    cfg.merge_from_list(case["opts"])
    return cfg


def write_caffe2_pkl(case, path) -> str:
    """The case's blobs as the model zoo stores them: a Python 2 pickle of ``{"blobs": {name: array}}``."""
    blobs = {name: tensor.numpy() for name, tensor in foreign_state(case).items()}
    with open(path, "wb") as pkl:
        pkl.write(python2_pickle({"blobs": blobs}))
    return str(path)


@pytest.mark.parametrize("blob, name", [
    ("conv1_w", "s1.pathway0_stem.conv.weight"),
    ("t_res_conv1_bn_riv", "s1.pathway1_stem.bn.running_var"),
    ("t_pool1_subsample_bn_rm", "s1_fuse.bn.running_mean"),
    ("t_res4_5_branch2c_bn_subsample_w", "s4_fuse.conv_f2s.weight"),
    ("res3_0_branch1_bn_s", "s3.pathway0_res0.branch1_bn.weight"),
    ("t_res5_2_branch2b_bn_b", "s5.pathway1_res2.branch2.b_bn.bias"),
    ("res2_1_branch2c_w", "s2.pathway0_res1.branch2.c.weight"),
    ("pred_b", "head.projection.bias"),
    ("res2_1_branch2c_w_momentum", None),
])
def test_blob_names(blob, name):
    assert blob_to_name(blob) == name


def test_caffe2_pkl_loads_through_the_real_path_with_parity(case, tmp_path, caplog):
    path = write_caffe2_pkl(case, tmp_path / "SLOWFAST_8x8_R50.pkl")
    cfg = case_cfg(case)
    model = build_model(cfg)
    with caplog.at_level(logging.INFO, logger="slowfast"):
        epoch = cu.load_checkpoint(path, model, cfg=cfg, checkpoint_type="auto")
    assert epoch == -1  # a foreign layout: training would restart at epoch 0
    assert f"loaded 552/552 tensors from {path} (caffe2)" in caplog.text
    model.eval()
    with torch.no_grad():
        logits = model(case_inputs(case))
    assert relative_error(logits, case["logits"]) < 1e-4


def test_convert_tool_reports_training_state_as_ignored(case, tmp_path, capsys):
    path = write_caffe2_pkl(case, tmp_path / "SLOWFAST_8x8_R50.pkl")
    output = tmp_path / "converted.pyth"
    tool = load_tool("convert_checkpoint")
    cfg_file = os.path.join(REPO, "configs", "Kinetics", case["source"])
    assert tool.main(["--cfg", cfg_file, "--input", path, "--output", str(output), *case["opts"]]) == 0
    printed = capsys.readouterr().out
    assert "layout: caffe2 (detected)" in printed
    assert f"loaded 552/552 tensors from {path} (caffe2)" in printed
    assert "ignored (training state): 554: conv1_w_momentum" in printed  # 552 *_momentum, lr, model_iter
    converted = torch.load(str(output), weights_only=True)
    model = build_model(case_cfg(case))
    model.load_state_dict(converted["model_state"], strict=True)
    assert converted["converted_from"]["layout"] == "caffe2"


def test_convert_tool_names_every_gap_and_writes_nothing(case, tmp_path, capsys):
    blobs = {name: tensor.numpy() for name, tensor in foreign_state(case).items()}
    del blobs["res3_1_branch2a_w"]
    blobs["res9_0_branch2a_w"] = np.zeros((1,), np.float32)  # no such stage
    path = str(tmp_path / "damaged.pkl")
    with open(path, "wb") as pkl:
        pickle.dump({"blobs": blobs}, pkl, protocol=2)
    output = tmp_path / "converted.pyth"
    tool = load_tool("convert_checkpoint")
    cfg_file = os.path.join(REPO, "configs", "Kinetics", case["source"])
    with pytest.raises(cu.CheckpointError, match=r"does not convert completely: loaded 551/552 tensors"):
        tool.main(["--cfg", cfg_file, "--input", path, "--output", str(output), *case["opts"]])
    errors = capsys.readouterr().err
    assert "model tensors not filled (1):\n  s3.pathway0_res1.branch2.a.weight" in errors
    assert "input tensors not used (1):\n  s9.pathway0_res0.branch2.a.weight" in errors
    assert not output.exists()
    # As a command: every gap on stderr, then one error line, exit code 2, no traceback.
    result = subprocess.run([sys.executable, os.path.join(REPO, "tools", "convert_checkpoint.py"), "--cfg", cfg_file,
                             "--input", path, "--output", str(output), *case["opts"]],
                            capture_output=True, text=True, timeout=300, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(f"error: {path} does not convert completely: loaded 551/552")
    assert "input tensors not used (1):\n  s9.pathway0_res0.branch2.a.weight" in result.stderr


class WritesAMarker:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_caffe2_pickle_bomb_is_refused_without_running(case, tmp_path):
    marker = tmp_path / "pwned"
    path = str(tmp_path / "SLOWFAST_8x8_R50.pkl")
    with open(path, "wb") as pkl:
        pickle.dump({"blobs": {"conv1_w": np.zeros(3, np.float32), "pred_w": WritesAMarker(marker)}}, pkl, protocol=2)
    model = build_model(case_cfg(case))
    with pytest.raises(cu.CheckpointError, match=r"refusing to load checkpoint .*SLOWFAST_8x8_R50\.pkl: it references posix\.system"):
        cu.load_checkpoint(path, model, checkpoint_type="caffe2")
    assert not marker.exists()
