"""tools/run_net.py: usage error, dispatch order per config, config.yaml, end-to-end on toy parts."""
import os
import subprocess
import sys
import types

import pytest

from slowfast.config.loader import ConfigError
from tests.engine.toy import construct_toy_loader
from tests.tools.tool_loader import load_tool

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUN_NET = os.path.join(REPO_ROOT, "tools", "run_net.py")


def load_run_net():
    return load_tool("run_net")


def toy_yaml(tmp_path, name, extra=""):
    path = tmp_path / name
    path.write_text(
        "NUM_GPUS: 0\n"
        f"OUTPUT_DIR: {tmp_path / name.replace('.yaml', '')}\n"
        # 9 classes: run_net's pre-flight checks the synthetic lists' labels (0..8) against them.
        "MODEL:\n  MODEL_NAME: ToyTwoPathway\n  NUM_CLASSES: 9\n"
        "DATA:\n  NUM_FRAMES: 4\nSLOWFAST:\n  ALPHA: 2\n"
        "TRAIN:\n  DATASET: synthetic\n  BATCH_SIZE: 4\n"
        "TEST:\n  DATASET: synthetic\n  BATCH_SIZE: 4\n  NUM_ENSEMBLE_VIEWS: 2\n  NUM_SPATIAL_CROPS: 1\n"
        "SOLVER:\n  MAX_EPOCH: 1\nLOG_MODEL_INFO: False\n" + extra
    )
    return str(path)


def test_no_config_is_a_usage_error_from_any_directory(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run([sys.executable, RUN_NET], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "usage: python tools/run_net.py --cfg" in result.stderr and "no config given" in result.stderr


@pytest.fixture
def calls(monkeypatch):
    """Replace train, test and demo by recorders."""
    recorded = []
    import slowfast.engine.evaluator as evaluator
    import slowfast.engine.trainer as trainer

    monkeypatch.setattr(trainer, "train", lambda cfg: recorded.append(("train", cfg.OUTPUT_DIR, cfg.RNG_SEED)))
    monkeypatch.setattr(evaluator, "test", lambda cfg: recorded.append(("test", cfg.OUTPUT_DIR, cfg.RNG_SEED)))
    demo = types.SimpleNamespace(run_demo=lambda cfg: recorded.append(("demo", cfg.OUTPUT_DIR, cfg.RNG_SEED)))
    monkeypatch.setitem(sys.modules, "slowfast.visualization.demo", demo)
    return recorded


def test_dispatch_per_config_in_order_with_overrides(tmp_path, calls):
    (tmp_path / "in.mp4").write_bytes(b"")  # the pre-flight checks that the demo input exists
    first = toy_yaml(tmp_path, "first.yaml", f"DEMO:\n  ENABLE: True\n  INPUT_VIDEO: {tmp_path / 'in.mp4'}\n")
    second = toy_yaml(tmp_path, "second.yaml", "TEST:\n  ENABLE: False\n")
    load_run_net().main(["--cfg", first, "--cfg", second, "RNG_SEED", "5", "--opts", "TRAIN.EVAL_PERIOD", "2"])
    out1, out2 = str(tmp_path / "first"), str(tmp_path / "second")
    assert calls == [("train", out1, 5), ("test", out1, 5), ("demo", out1, 5), ("train", out2, 5)]
    written = (tmp_path / "first" / "config.yaml").read_text()
    assert "RNG_SEED: 5" in written and "EVAL_PERIOD: 2" in written and "DEFAULT_B: 4" in written


def test_test_only_and_invalid_config(tmp_path, calls):
    path = toy_yaml(tmp_path, "only_test.yaml")
    weights = tmp_path / "ck.pyth"
    weights.write_bytes(b"")
    load_run_net().main(["--cfg", path, "TRAIN.ENABLE", "False", "TEST.CHECKPOINT_FILE_PATH", str(weights)])
    assert calls == [("test", str(tmp_path / "only_test"), 1)]
    with pytest.raises(ConfigError, match=r"^TRAIN\.BATCH_SIZE=3"):
        load_run_net().main(["--cfg", path, "TRAIN.BATCH_SIZE", "3", "DIST_CPU_PROCESSES", "2"])
    with pytest.raises(ConfigError, match=r"TRAIN\.NOT_A_KEY"):
        load_run_net().main(["--cfg", path, "TRAIN.NOT_A_KEY", "3"])
    assert len(calls) == 1


def test_end_to_end_train_then_test_on_toy_parts(tmp_path, monkeypatch):
    loader_module = types.SimpleNamespace(
        construct_loader=construct_toy_loader, shuffle_dataset=lambda loader, epoch: loader.sampler.set_epoch(epoch))
    monkeypatch.setitem(sys.modules, "slowfast.datasets.loader", loader_module)
    path = toy_yaml(tmp_path, "e2e.yaml", "")
    load_run_net().main(["--cfg", path, "TEST.SAVE_RESULTS_PATH", "preds.json"])
    out = tmp_path / "e2e"
    assert (out / "checkpoints" / "checkpoint_epoch_00001.pyth").exists()
    stats = (out / "json_stats.log").read_text().splitlines()
    assert [s.split('"_type": "')[1].split('"')[0] for s in stats if "_type" in s] == ["train_epoch", "val_epoch"]
    assert '"split": "test_final"' in stats[-1] and (out / "preds.json").exists()
    assert f"testing weights {out}/checkpoints/checkpoint_epoch_00001.pyth" in (out / "stdout.log").read_text()


def test_a_test_or_demo_run_keeps_the_training_config(tmp_path, calls):
    """Testing (or a demo) into a training run's OUTPUT_DIR writes config_test.yaml (config_demo.yaml)
    and leaves the config.yaml its checkpoints were trained with."""
    path = toy_yaml(tmp_path, "run.yaml")
    load_run_net().main(["--cfg", path, "TEST.ENABLE", "False"])  # training writes config.yaml
    trained = (tmp_path / "run" / "config.yaml").read_text()
    weights = tmp_path / "ck.pyth"
    weights.write_bytes(b"")
    load_run_net().main(["--cfg", path, "TRAIN.ENABLE", "False", "TEST.CHECKPOINT_FILE_PATH", str(weights), "RNG_SEED", "9"])
    (tmp_path / "in.mp4").write_bytes(b"")
    load_run_net().main(["--cfg", path, "TRAIN.ENABLE", "False", "TEST.ENABLE", "False",
                         "TEST.CHECKPOINT_FILE_PATH", str(weights), "DEMO.INPUT_VIDEO", str(tmp_path / "in.mp4")])
    assert (tmp_path / "run" / "config.yaml").read_text() == trained
    assert "RNG_SEED: 9" in (tmp_path / "run" / "config_test.yaml").read_text()
    assert "INPUT_VIDEO: " + str(tmp_path / "in.mp4") in (tmp_path / "run" / "config_demo.yaml").read_text()
    assert [call[0] for call in calls] == ["train", "test", "demo"]
