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
# The issue's command (plus the paper's CMDA fusion and 1/8 fast pathway, which the released files hold
# and the synthetic tiny config no longer trains with), then settings that keep the built-in data tiny.
PAPER_FUSION = ["SLOWFAST.FUSION", "cmda", "SLOWFAST.BETA_INV", "8"]
TEST_COMMAND = [*PAPER_FUSION, "SLOWFAST.WIDTH_MULTI", "1.0", "MODEL.NUM_CLASSES", "400", "TRAIN.ENABLE", "False",
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
              "DATA": {"CROP_SIZE": 112}}
    if "SLOWFAST.WIDTH_MULTI" in opts:  # the efficient families (not the dual-attention R50)
        config["SLOWFAST"] = {"WIDTH_MULTI": float(opts["SLOWFAST.WIDTH_MULTI"])}
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
        *PAPER_FUSION, "SLOWFAST.WIDTH_MULTI", "1.0", "MODEL.NUM_CLASSES", "27", "TRAIN.CHECKPOINT_FILE_PATH", released,
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


# ---------------------------------------------------------------------------- #
# The demo and Grad-CAM with a released Jester checkpoint (SF-ShuffleNetV2 W0.5, 27 classes)
# ---------------------------------------------------------------------------- #
JESTER_DEMO = os.path.join(REPO, "demo", "Jester", "SLOWFAST_SHUFFLENETV2_8x8_R50_stepwise_multigrid.yaml")
JESTER_CONFIG = os.path.join(REPO, "configs", "Jester", "SLOWFAST_SHUFFLENETV2_8x8_R50_stepwise_multigrid.yaml")
CLIP_DIR = os.path.join(REPO, "tests", "data", "real_clips")  # demo.mp4: 340x256, 28 fps, 280 frames
# The released width of the file, then a short window and a small frame to keep the test fast.
TINY_DEMO = ["SLOWFAST.WIDTH_MULTI", "0.5", "DATA.NUM_FRAMES", "8", "DATA.SAMPLING_RATE", "8",
             "DATA.TEST_CROP_SIZE", "32"]


@pytest.fixture(scope="module")
def released_jester(tmp_path_factory):
    path = tmp_path_factory.mktemp("released_jester") / "SLOWFAST_SHUFFLENETV2_W0.5_JESTER.pyth"
    return write_released(path, os.path.join("..", "sf_shufflenetv2_w0.5_27.json"))


@pytest.mark.parametrize("key", ["TEST.CHECKPOINT_FILE_PATH", "TRAIN.CHECKPOINT_FILE_PATH"])
def test_jester_demo_config_runs_a_released_checkpoint(released_jester, tmp_path, caplog, key):
    """The demo config verbatim; with only TRAIN.CHECKPOINT_FILE_PATH set it falls back to it, as SlowFast does."""
    output = tmp_path / "result.mp4"
    load_tool("run_net").main(["--cfg", JESTER_DEMO, key, released_jester, "DEMO.INPUT_VIDEO",
                               os.path.join(CLIP_DIR, "demo.mp4"), "DEMO.OUTPUT_FILE", str(output),
                               "OUTPUT_DIR", str(tmp_path / "out"), *TINY_DEMO])
    assert f"loaded 630/630 tensors from {released_jester} (efficient_slowfast)" in caplog.text
    assert output.stat().st_size > 0


def test_demo_without_any_checkpoint_is_refused(tmp_path):
    with pytest.raises(cu.CheckpointError, match="no checkpoint for the demo") as refused:
        load_tool("run_net").main(["--cfg", JESTER_DEMO, "DEMO.INPUT_VIDEO", os.path.join(CLIP_DIR, "demo.mp4"),
                                   "DEMO.OUTPUT_FILE", str(tmp_path / "result.mp4"),
                                   "OUTPUT_DIR", str(tmp_path / "out"), *TINY_DEMO])
    assert "TEST.ALLOW_RANDOM_INIT True" in refused.value.hint
    assert not (tmp_path / "result.mp4").exists()


def test_gradcam_of_a_released_checkpoint(released_jester, tmp_path, caplog):
    summary = load_tool("gradcam_video").main([
        "--yaml_cfg", JESTER_CONFIG, "--checkpoint_pth", released_jester, "--target_layer", "s4_fuse",
        "--root_path", CLIP_DIR, "--video_path", "demo.mp4", "--output_dir", str(tmp_path / "cam"), *TINY_DEMO,
        "NUM_GPUS", "0"])
    assert f"loaded 630/630 tensors from {released_jester} (efficient_slowfast)" in caplog.text
    assert sorted(summary["files"]) == ["s4_fuse/fast", "s4_fuse/slow"]
    assert 0 <= summary["predicted_label"] < 27


# ---------------------------------------------------------------------------- #
# Efficient-3DCNNs .pth: {"epoch", "arch", "state_dict" ("module." names), "optimizer"}
# ---------------------------------------------------------------------------- #
E3D_CONFIG = os.path.join(REPO, "configs", "Jester", "SHUFFLENETV2_3D_W1.0.yaml")
E3D_OPTS = ["NUM_GPUS", "0", "SLOWFAST.WIDTH_MULTI", "0.5", "MODEL.NUM_CLASSES", "27",
            "DATA.TRAIN_CROP_SIZE", "112", "DATA.TEST_CROP_SIZE", "112"]


def write_e3d(path) -> str:
    case = load_case("e3d_shufflenetv2_0.5_27.json")
    state = {"module." + name: tensor for name, tensor in foreign_state(case).items()}
    torch.save({"epoch": 120, "arch": "shufflenetv2", "state_dict": state,
                "optimizer": {"state": {}, "param_groups": [{"lr": 0.1, "params": [0, 1]}]}}, str(path))
    return str(path)


def test_efficient_3dcnns_pth_loads_through_the_real_path_with_parity(tmp_path, caplog):
    from slowfast.config.loader import load_config
    from slowfast.models.build import build_model
    from tests.converters.foreign_weights import case_inputs, relative_error

    path = write_e3d(tmp_path / "jester_shufflenetv2_0.5x_RGB_16_best.pth")
    cfg = load_config(path_to_config=E3D_CONFIG, opts=E3D_OPTS)
    model = build_model(cfg)
    assert cu.load_checkpoint(path, model, cfg=cfg) == -1  # foreign: training restarts at epoch 0
    total = len(cu.counted_names(model))
    assert f"loaded {total}/{total} tensors from {path} (efficient_3dcnns)" in caplog.text
    with torch.no_grad():
        logits = model.eval()(case_inputs(load_case("e3d_shufflenetv2_0.5_27.json")))
    assert relative_error(logits, load_case("e3d_shufflenetv2_0.5_27.json")["logits"]) < 1e-4


def test_efficient_3dcnns_of_another_width_is_described(tmp_path):
    from slowfast.config.loader import load_config
    from slowfast.models.build import build_model

    path = write_e3d(tmp_path / "jester_shufflenetv2_0.5x_RGB_16_best.pth")
    cfg = load_config(path_to_config=E3D_CONFIG, opts=E3D_OPTS[:2] + ["MODEL.NUM_CLASSES", "27"])  # W1.0
    with pytest.raises(cu.CheckpointError) as refused:
        cu.load_checkpoint(path, build_model(cfg), cfg=cfg)
    assert refused.value.details[0] == "checkpoint: ShuffleNetV23D W0.5, 27 classes; config: W1.0"
