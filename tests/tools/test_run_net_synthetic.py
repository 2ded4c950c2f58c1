"""The out-of-the-box job: run_net on the shipped synthetic config generates the data, trains,
validates, checkpoints and tests with nothing else set up (tiny settings keep it fast)."""
import json
import os
import subprocess
import sys

import torch

from tests.tools.tool_loader import REPO


def test_synthetic_config_trains_validates_and_tests_end_to_end(tmp_path):
    out = tmp_path / "out"
    command = [
        sys.executable, os.path.join(REPO, "tools", "run_net.py"),
        "--cfg", os.path.join(REPO, "configs", "Synthetic", "SLOWFAST_R50_tiny.yaml"),
        "OUTPUT_DIR", str(out),
        "SYNTHETIC.CACHE_DIR", str(tmp_path / "data"),
        "SYNTHETIC.CLIPS_PER_CLASS", "[2, 1, 1]",
        "SYNTHETIC.NUM_FRAMES", "20",
        "SOLVER.MAX_EPOCH", "2",
        "TRAIN.BATCH_SIZE", "6",
        "DATA.NUM_FRAMES", "8",
        "DATA.TRAIN_JITTER_SCALES", "[32, 40]",
        "DATA.TRAIN_CROP_SIZE", "32",
        "DATA.TEST_CROP_SIZE", "32",
        "DATA_LOADER.NUM_WORKERS", "0",
        "TEST.NUM_ENSEMBLE_VIEWS", "2",
        "TEST.NUM_SPATIAL_CROPS", "1",
        "TEST.SAVE_RESULTS_PATH", "preds.json",
        "LOG_MODEL_INFO", "False",
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]

    assert sorted(os.listdir(out / "checkpoints")) == ["checkpoint_epoch_00002.pyth"]
    checkpoint = torch.load(out / "checkpoints" / "checkpoint_epoch_00002.pyth", weights_only=True)
    assert set(checkpoint) >= {"epoch", "model_state", "optimizer_state", "cfg"}
    assert "synthetic" in (out / "config.yaml").read_text()

    records = [json.loads(line.split("json_stats: ", 1)[1])
               for line in (out / "json_stats.log").read_text().splitlines()]
    types = [r.get("_type", r.get("split")) for r in records]
    assert "train_epoch" in types and "val_epoch" in types and "test_final" in types
    predictions = json.loads((out / "preds.json").read_text())
    assert len(predictions) == 9  # one per test video: 9 classes x 1 clip
