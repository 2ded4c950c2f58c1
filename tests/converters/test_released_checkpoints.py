"""Released checkpoints through the user's commands: test directly, refuse another model, fine-tune.

The released SF-ShuffleNetV2 W1.0 Kinetics-400 file is rebuilt from its name manifest (weights from
the README recipe) in the release's own file layout: ``{"epoch", "model_state", "optimizer_state",
"cfg"}``, with the released names (``s2.pathway0_channel_116.features.0.banch2.0.weight``).
"""
import os
import subprocess
import sys

import pytest
import torch
import yaml

from slowfast.engine import checkpoint as cu
from tests.converters.foreign_weights import NAMES_DIR, foreign_state, load_case
from tests.tools.tool_loader import REPO, load_tool

SNV2_TINY = os.path.join(REPO, "configs", "Synthetic", "SLOWFAST_SHUFFLENETV2_tiny.yaml")
R50_TINY = os.path.join(REPO, "configs", "Synthetic", "SLOWFAST_R50_tiny.yaml")
# The issue's command, verbatim, then settings that keep the built-in data tiny.
TEST_COMMAND = ["SLOWFAST.WIDTH_MULTI", "1.0", "MODEL.NUM_CLASSES", "400", "TRAIN.ENABLE", "False",
                "TEST.ENABLE", "True", "TEST.CHECKPOINT_FILE_PATH"]


def tiny_data(tmp_path):
    return ["SYNTHETIC.CACHE_DIR", str(tmp_path / "data"), "SYNTHETIC.CLIPS_PER_CLASS", "[2, 1, 1]",
            "SYNTHETIC.NUM_FRAMES", "20", "DATA.NUM_FRAMES", "8", "DATA.TRAIN_JITTER_SCALES", "[32, 40]",
            "DATA.TRAIN_CROP_SIZE", "32", "DATA.TEST_CROP_SIZE", "32", "DATA_LOADER.NUM_WORKERS", "0",
            "TEST.NUM_ENSEMBLE_VIEWS", "1", "TEST.NUM_SPATIAL_CROPS", "1", "TEST.OPTIMIZE", "False",
            "LOG_MODEL_INFO", "False", "OUTPUT_DIR", str(tmp_path / "out")]


def write_released(path, manifest: str = "sf_shufflenetv2_w1.0_400.json") -> str:
    """A released Efficient-SlowFast ``.pyth`` as the release's ``torch.save`` wrote it."""
    case = load_case(os.path.join(NAMES_DIR, manifest))
    state = foreign_state(case)
    opts = dict(zip(case["opts"][0::2], case["opts"][1::2]))
    config = {"MODEL": {"MODEL_NAME": case["model"], "NUM_CLASSES": int(opts["MODEL.NUM_CLASSES"])},
              "SLOWFAST": {"WIDTH_MULTI": float(opts["SLOWFAST.WIDTH_MULTI"])}, "DATA": {"CROP_SIZE": 112}}
    params = [name for name in state if not name.endswith(("running_mean", "running_var", "num_batches_tracked"))]
    momentum = {index: {"momentum_buffer": torch.zeros_like(state[name])} for index, name in enumerate(params)}
    optimizer_state = {"state": momentum, "param_groups": [
        {"lr": 0.1, "momentum": 0.9, "dampening": 0, "weight_decay": 5e-5, "nesterov": True,
         "params": list(range(len(params)))}]}
    torch.save({"epoch": 239, "model_state": state, "optimizer_state": optimizer_state,
                "cfg": yaml.safe_dump(config)}, str(path))
    return str(path)


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    return write_released(tmp_path_factory.mktemp("released") / "SLOWFAST_SHUFFLENETV2_W1.0_K400.pyth")


def test_released_file_tests_directly(released, tmp_path):
    load_tool("run_net").main(["--cfg", SNV2_TINY, *TEST_COMMAND, released, *tiny_data(tmp_path)])
    log = (tmp_path / "out" / "stdout.log").read_text()
    assert f"loaded 630/630 tensors from {released} (efficient_slowfast)" in log
    assert "test_final" in (tmp_path / "out" / "json_stats.log").read_text()


def test_released_file_with_another_model_is_refused_naming_it(released, tmp_path):
    with pytest.raises(cu.CheckpointError) as refused:
        load_tool("run_net").main(["--cfg", R50_TINY, *TEST_COMMAND, released, *tiny_data(tmp_path)])
    error = refused.value
    assert error.message.startswith(f"checkpoint {released} does not fit the model: loaded ")
    assert error.details[0] == "checkpoint: SlowFastShuffleNetV2 W1.0, 400 classes; config: SlowFast"
    assert len(error.details) <= 10 and "ALLOW_SHAPE_MISMATCH" not in error.hint


@pytest.mark.slow
def test_the_issue_commands_as_processes(released, tmp_path):
    """Exit 0 with ``loaded 630/630 tensors``; exit 2 with one ``error:`` line and no traceback."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    run_net = os.path.join(REPO, "tools", "run_net.py")
    ok = subprocess.run([sys.executable, run_net, "--cfg", SNV2_TINY, *TEST_COMMAND, released, *tiny_data(tmp_path)],
                        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert ok.returncode == 0, ok.stderr[-3000:]
    assert "loaded 630/630 tensors" in ok.stdout + ok.stderr
    refused = subprocess.run([sys.executable, run_net, "--cfg", R50_TINY, *TEST_COMMAND, released, *tiny_data(tmp_path)],
                             cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert refused.returncode == 2
    first, *details = refused.stderr.strip().splitlines()
    assert first.startswith(f"error: checkpoint {released} does not fit the model: loaded ")
    assert len(details) <= 10 and "Traceback" not in refused.stderr


def test_fine_tuning_a_400_class_file_into_27_classes_reinitialises_only_the_head(released, tmp_path):
    from slowfast.engine.trainer import Trainer
    from slowfast.config.loader import load_config

    cfg = load_config(path_to_config=SNV2_TINY, opts=[
        "SLOWFAST.WIDTH_MULTI", "1.0", "MODEL.NUM_CLASSES", "27", "TRAIN.CHECKPOINT_FILE_PATH", released,
        "TEST.ENABLE", "False", "SOLVER.MAX_EPOCH", "1", "SOLVER.WARMUP_EPOCHS", "0.0", "TRAIN.BATCH_SIZE", "18",
        *tiny_data(tmp_path)])
    trainer = Trainer(cfg)
    assert trainer.start_epoch == 0  # a foreign layout restarts at epoch 0
    log = (tmp_path / "out" / "stdout.log").read_text()
    assert f"loaded 628/630 tensors from {released} (efficient_slowfast); re-initialised 2: " \
           "['head.projection.weight', 'head.projection.bias']" in log
    assert "optimizer starts fresh" in log
    source = {name: tensor.clone() for name, tensor in trainer.model.state_dict().items()}
    trainer.fit()
    assert len(trainer.train_loader) == 1  # one step: the 18 training clips in one batch
    after = trainer.model.state_dict()
    assert not torch.equal(after["head.projection.weight"], source["head.projection.weight"])
    assert cu.list_checkpoints(cfg.OUTPUT_DIR)  # the fine-tuned run checkpoints in our format
