"""A newcomer's first hour (issue 14): every ordinary mistake through ``tools/run_net.py`` answers with
exit code 2, exactly one ``error:`` line naming the key, file or value, and no traceback, before
any model is built or checkpoint written."""
import os
import re
import subprocess
import sys

import pytest
import torch

from tests.tools.tool_loader import REPO

RUN_NET = os.path.join(REPO, "tools", "run_net.py")
SYNTHETIC = os.path.join(REPO, "configs", "Synthetic", "SLOWFAST_R50_tiny.yaml")


def run_net(tmp_path, *args):
    env = {k: v for k, v in os.environ.items() if k != "SLOWFAST_TRACEBACK"}
    env["OMP_NUM_THREADS"] = "1"
    return subprocess.run([sys.executable, RUN_NET, *args], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300)


def the_error(result) -> str:
    """The single ``error:`` line of a user mistake, after checking the rest of the contract."""
    output = result.stdout + result.stderr
    assert result.returncode == 2, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    lines = result.stderr.splitlines()
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and lines[0] == errors[0], result.stderr
    assert len(lines) <= 11 and all(line.startswith("  ") for line in lines[1:]), result.stderr
    return errors[0]


def kinetics_lists(tmp_path, num_classes=2):
    """A Kinetics-style data dir whose train and val lists are fine for ``num_classes``."""
    data = tmp_path / "k400"
    data.mkdir()
    for split in ("train", "val"):
        (data / f"{split}.csv").write_text("".join(f"v{i}.mp4 {i % num_classes}\n" for i in range(4)))
    return str(data)


def test_typo_on_the_command_line(tmp_path):
    line = the_error(run_net(tmp_path, "--cfg", SYNTHETIC, "SOLVER.MAX_EPOCHS", "3"))
    assert line.startswith("error: command-line overrides: unknown config key SOLVER.MAX_EPOCHS; "
                           "did you mean SOLVER.MAX_EPOCH ")


def test_typo_in_a_yaml_file(tmp_path):
    (tmp_path / "mine.yaml").write_text(f"_BASE_: {SYNTHETIC}\nSOLVER:\n  MAX_EPOCHS: 3\n")
    line = the_error(run_net(tmp_path, "--cfg", "mine.yaml"))
    assert line.startswith("error: config file mine.yaml (or a _BASE_ of it): unknown config key SOLVER.MAX_EPOCHS; "
                           "did you mean SOLVER.MAX_EPOCH ")


def test_a_word_for_an_integer_key(tmp_path):
    line = the_error(run_net(tmp_path, "--cfg", SYNTHETIC, "TRAIN.BATCH_SIZE", "two"))
    assert line == "error: command-line overrides: TRAIN.BATCH_SIZE='two' is not an integer; give an integer, like 16"


def test_an_integer_for_a_float_key_is_accepted(tmp_path):
    result = run_net(tmp_path, "--cfg", SYNTHETIC, "SOLVER.BASE_LR", "1", "--print-schedule")
    assert result.returncode == 0 and "error" not in result.stderr, result.stderr[-3000:]


def test_wrong_data_dir_fails_before_the_model(tmp_path):
    line = the_error(run_net(tmp_path, "--cfg", SYNTHETIC, "TRAIN.DATASET", "kinetics", "TEST.DATASET", "kinetics",
                             "DATA.PATH_TO_DATA_DIR", str(tmp_path / "nope"), "OUTPUT_DIR", str(tmp_path / "out")))
    assert line.startswith(f"error: TRAIN.DATASET=kinetics: train split: annotation file not found "
                           f"(DATA.PATH_TO_DATA_DIR='{tmp_path}/nope')")
    assert line.endswith("; set DATA.PATH_TO_DATA_DIR to the folder that holds the dataset's annotation files")
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="the mistake is NUM_GPUS 1 on a CPU-only machine")
def test_gpus_on_a_cpu_machine(tmp_path):
    line = the_error(run_net(tmp_path, "--cfg", SYNTHETIC, "NUM_GPUS", "1"))
    assert line == "error: NUM_GPUS=1: CUDA is not available on this machine; set NUM_GPUS 0 to run on the CPU"


def test_a_config_path_that_does_not_exist(tmp_path):
    missing = os.path.join(REPO, "configs", "Kinetics", "SLOWFAST_SHUFFLENETV2_8x8_R50_multigrid.yaml")
    line = the_error(run_net(tmp_path, "--cfg", missing))
    # run_net runs in tmp_path, outside the checkout: the suggestion is a path that works from there.
    assert line == (f"error: config file not found: {missing}; "
                    f"did you mean {REPO}/configs/Kinetics/SLOWFAST_SHUFFLENETV2_8x8_R50_stepwise_multigrid.yaml?")


def test_demo_without_an_input(tmp_path):
    config = os.path.join(REPO, "demo", "Jester", "SLOWFAST_SHUFFLENETV2_8x8_R50_stepwise_multigrid.yaml")
    line = the_error(run_net(tmp_path, "--cfg", config, "OUTPUT_DIR", str(tmp_path / "out")))
    assert line.startswith("error: DEMO.ENABLE=True: the demo has no input; set DEMO.INPUT_VIDEO")


def test_missing_checkpoint_lists_the_existing_ones(tmp_path):
    folder = tmp_path / "out" / "checkpoints"
    folder.mkdir(parents=True)
    (folder / "checkpoint_epoch_00036.pyth").write_bytes(b"")
    result = run_net(tmp_path, "--cfg", SYNTHETIC, "TRAIN.ENABLE", "False", "OUTPUT_DIR", str(tmp_path / "out"),
                     "TEST.CHECKPOINT_FILE_PATH", str(folder / "checkpoint_epoch_00040.pyth"))
    line = the_error(result)
    assert line == (f"error: TEST.CHECKPOINT_FILE_PATH='{folder}/checkpoint_epoch_00040.pyth': checkpoint not found; "
                    f"1 checkpoint(s) in {folder}; did you mean {folder}/checkpoint_epoch_00036.pyth?")
    assert result.stderr.splitlines()[1:] == [f"  {folder}/checkpoint_epoch_00036.pyth"]


def test_long_cycle_with_a_cosine_schedule(tmp_path):
    line = the_error(run_net(tmp_path, "--cfg", SYNTHETIC, "MULTIGRID.LONG_CYCLE", "True"))
    assert line.startswith("error: MULTIGRID.LONG_CYCLE needs SOLVER.LR_POLICY 'steps_with_relative_lrs'")
    assert "got 'cosine'; set SOLVER.LR_POLICY steps_with_relative_lrs" in line


def test_every_job_disabled_says_which_keys_enable_which_job(tmp_path):
    c2d = os.path.join(REPO, "configs", "Kinetics", "C2D_8x8_R50.yaml")
    line = the_error(run_net(tmp_path, "--cfg", c2d, "TRAIN.ENABLE", "False", "TEST.ENABLE", "False", "NUM_GPUS", "0"))
    assert line.startswith("error: nothing to run: TRAIN.ENABLE, TEST.ENABLE and DEMO.ENABLE are all False; "
                           "set TRAIN.ENABLE True to train, TEST.ENABLE True to test a checkpoint, or DEMO.INPUT_VIDEO")


def test_the_c2d_demo_command_runs_the_demo(tmp_path):
    """The paper's demo command gives DEMO.INPUT_VIDEO with training and testing off: that is a demo
    run, so a missing input video is the error (not "nothing to run")."""
    c2d = os.path.join(REPO, "configs", "Kinetics", "C2D_8x8_R50.yaml")
    line = the_error(run_net(tmp_path, "--cfg", c2d, "TRAIN.ENABLE", "False", "TEST.ENABLE", "False", "NUM_GPUS", "0",
                             "DEMO.INPUT_VIDEO", "x.mp4", "OUTPUT_DIR", str(tmp_path / "out")))
    assert line.startswith("error: DEMO.INPUT_VIDEO='x.mp4': video not found; give the path of a video file")


def test_forgotten_test_dataset_fails_before_training(tmp_path):
    """Training on kinetics with TEST.DATASET left at the config's synthetic: the synthetic test
    list's labels do not fit 2 classes. Found in the pre-flight, without generating the dataset."""
    result = run_net(tmp_path, "--cfg", SYNTHETIC, "TRAIN.DATASET", "kinetics", "MODEL.NUM_CLASSES", "2",
                     "DATA.PATH_TO_DATA_DIR", kinetics_lists(tmp_path), "OUTPUT_DIR", str(tmp_path / "out"),
                     "SYNTHETIC.CACHE_DIR", str(tmp_path / "synthetic"))
    line = the_error(result)
    assert re.fullmatch(
        rf"error: TEST.DATASET=synthetic: test split: {tmp_path}/synthetic/test.csv:3: label 2 is out of range \[0, 2\) "
        r"\(MODEL.NUM_CLASSES\); training reads TRAIN.DATASET=kinetics; set TEST.DATASET kinetics to test on the same dataset",
        line), line
    assert not (tmp_path / "out").exists() and not (tmp_path / "synthetic").exists()


DEMO_CONFIG = os.path.join(REPO, "demo", "Jester", "SLOWFAST_SHUFFLENETV2_8x8_R50_stepwise_multigrid.yaml")
DEMO_CLIP = os.path.join(REPO, "tests", "data", "real_clips", "demo.mp4")


def test_demo_without_a_checkpoint_refuses_random_weights(tmp_path):
    line = the_error(run_net(tmp_path, "--cfg", DEMO_CONFIG, "DEMO.INPUT_VIDEO", DEMO_CLIP,
                             "DEMO.OUTPUT_FILE", str(tmp_path / "o.mp4"), "OUTPUT_DIR", str(tmp_path / "out")))
    assert line.startswith("error: no checkpoint for the demo: ") and "TEST.ALLOW_RANDOM_INIT True" in line
    assert not (tmp_path / "o.mp4").exists()


def test_testing_without_a_checkpoint_refuses_random_weights(tmp_path):
    line = the_error(run_net(tmp_path, "--cfg", SYNTHETIC, "TRAIN.ENABLE", "False", "TEST.ENABLE", "True",
                             "OUTPUT_DIR", str(tmp_path / "out"), "SYNTHETIC.CACHE_DIR", str(tmp_path / "cache")))
    assert line.startswith("error: no checkpoint for testing: ") and "TEST.ALLOW_RANDOM_INIT True" in line
    assert not (tmp_path / "out" / "checkpoints").exists()


def test_a_checkpoint_of_another_width_is_summarised(tmp_path):
    """The README's demo command with the synthetic SF-ShuffleNetV2 W0.5 checkpoint: one error line and a
    short summary (the loader's), not hundreds of shape lines."""
    from slowfast.config.loader import load_config
    from slowfast.models.build import build_model

    cfg = load_config(None, os.path.join(REPO, "configs", "Synthetic", "SLOWFAST_SHUFFLENETV2_tiny.yaml"), ["NUM_GPUS", "0"])
    checkpoint = tmp_path / "other.pyth"
    torch.save({"model_state": build_model(cfg).state_dict(), "cfg": cfg.dump(), "epoch": 1}, checkpoint)
    result = run_net(tmp_path, "--cfg", DEMO_CONFIG, "DEMO.INPUT_VIDEO", DEMO_CLIP, "TEST.CHECKPOINT_FILE_PATH", str(checkpoint),
                     "DEMO.OUTPUT_FILE", str(tmp_path / "o.mp4"), "OUTPUT_DIR", str(tmp_path / "out"))
    line = the_error(result)
    assert line.startswith(f"error: checkpoint {checkpoint} does not fit the model")
