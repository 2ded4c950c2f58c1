"""assert_and_infer_cfg: one-line errors naming key and value; inference; no side effects."""
import os

import pytest
import torch

from slowfast.config import get_cfg
from slowfast.config.loader import ConfigError
from slowfast.config.validate import assert_and_infer_cfg
from slowfast.utils.errors import DeviceUnavailableError


def valid_cfg(tmp_path):
    cfg = get_cfg()
    cfg.NUM_GPUS = 0
    cfg.OUTPUT_DIR = str(tmp_path / "out")
    cfg.DATA.PATH_TO_DATA_DIR = str(tmp_path)
    return cfg


def set_key(cfg, key, value):
    node = cfg
    *parents, leaf = key.split(".")
    for parent in parents:
        node = node[parent]
    node[leaf] = value


def test_valid_config_passes_infers_and_writes_nothing(tmp_path):
    cfg = valid_cfg(tmp_path)
    before = sorted(os.listdir(tmp_path))
    assert assert_and_infer_cfg(cfg) is cfg
    assert (cfg.MULTIGRID.DEFAULT_B, cfg.MULTIGRID.DEFAULT_T, cfg.MULTIGRID.DEFAULT_S) == (64, 8, 224)
    assert sorted(os.listdir(tmp_path)) == before
    dumped = cfg.dump()
    assert_and_infer_cfg(cfg)  # idempotent
    assert cfg.dump() == dumped


BAD_VALUES = [
    # (overrides, key named in the message, value named in the message)
    ({"TRAIN.BATCH_SIZE": 30, "DIST_CPU_PROCESSES": 4}, "TRAIN.BATCH_SIZE", "30"),
    ({"TEST.BATCH_SIZE": 3, "NUM_SHARDS": 2}, "TEST.BATCH_SIZE", "3"),
    ({"DATA.NUM_FRAMES": 12}, "DATA.NUM_FRAMES", "12"),  # ALPHA 8, two-pathway
    ({"DATA.PATH_TO_DATA_DIR": ""}, "DATA.PATH_TO_DATA_DIR", "''"),
    ({"SOLVER.LR_POLICY": "exp"}, "SOLVER.LR_POLICY", "exp"),
    ({"SOLVER.OPTIMIZING_METHOD": "lamb"}, "SOLVER.OPTIMIZING_METHOD", "lamb"),
    ({"TEST.NUM_ENSEMBLE_VIEWS": 0}, "TEST.NUM_ENSEMBLE_VIEWS", "0"),
    ({"TEST.NUM_SPATIAL_CROPS": 2}, "TEST.NUM_SPATIAL_CROPS", "2"),
    ({"TEST.ENSEMBLE_METHOD": "mean"}, "TEST.ENSEMBLE_METHOD", "mean"),
    ({"TEST.OPTIMIZE_LAYOUT": "fastest"}, "TEST.OPTIMIZE_LAYOUT", "fastest"),
    ({"DETECTION.ENABLE": True}, "MODEL.LOSS_FUNC", "cross_entropy"),
    ({"DETECTION.ENABLE": True, "MODEL.LOSS_FUNC": "bce"}, "MODEL.HEAD_ACT", "softmax"),
    ({"DETECTION.ENABLE": True, "MODEL.LOSS_FUNC": "bce", "MODEL.HEAD_ACT": "sigmoid",
      "DETECTION.ROI_XFORM_RESOLUTION": 0}, "DETECTION.ROI_XFORM_RESOLUTION", "0"),
    ({"SOLVER.LR_POLICY": "steps_with_relative_lrs", "SOLVER.STEPS": [0, 10], "SOLVER.LRS": [1]}, "SOLVER.LRS", "[1]"),
    ({"SOLVER.LR_POLICY": "steps_with_relative_lrs", "SOLVER.STEPS": [5], "SOLVER.LRS": [1]}, "SOLVER.STEPS", "[5]"),
    ({"SOLVER.WARMUP_EPOCHS": 400.0}, "SOLVER.WARMUP_EPOCHS", "400.0"),
    ({"SOLVER.MOMENTUM": 0.0}, "SOLVER.NESTEROV", "True"),
    ({"MODEL.ARCH": "x3d"}, "MODEL.ARCH", "x3d"),
    ({"MODEL.HEAD_ACT": "relu"}, "MODEL.HEAD_ACT", "relu"),
    ({"BN.NORM_TYPE": "sync_batchnorm"}, "BN.NORM_TYPE", "sync_batchnorm"),
    ({"DIST_BACKEND": "nccl"}, "DIST_BACKEND", "nccl"),
    ({"DIST_BACKEND": "mpi"}, "DIST_BACKEND", "mpi"),
    ({"SHARD_ID": 1}, "SHARD_ID", "1"),
    ({"TEST.SAVE_RESULTS_PATH": "preds.txt"}, "TEST.SAVE_RESULTS_PATH", "preds.txt"),
    ({"DIST_TIMEOUT_S": 0}, "DIST_TIMEOUT_S", "0"),
    ({"SOLVER.CLIP_GRAD_L2NORM": -1.0}, "SOLVER.CLIP_GRAD_L2NORM", "-1.0"),
    ({"DATA.TRAIN_JITTER_SCALES": [320, 256]}, "DATA.TRAIN_JITTER_SCALES", "[320, 256]"),
    ({"TEST.CHECKPOINT_FILE_PATH": "missing.pyth"}, "TEST.CHECKPOINT_FILE_PATH", "missing.pyth"),
    ({"TRAIN.CHECKPOINT_FILE_PATH": "k400.pyth"}, "TRAIN.CHECKPOINT_FILE_PATH", "k400.pyth"),
    ({"TEST.CHECKPOINT_TYPE": "efficient"}, "TEST.CHECKPOINT_TYPE", "efficient"),
]


@pytest.mark.parametrize("overrides,key,value", BAD_VALUES, ids=[case[1] for case in BAD_VALUES])
def test_rejects_with_one_line_naming_key_and_value(tmp_path, overrides, key, value):
    cfg = valid_cfg(tmp_path)
    for name, new_value in overrides.items():
        set_key(cfg, name, new_value)
    with pytest.raises(ConfigError) as error:
        assert_and_infer_cfg(cfg)
    message = str(error.value)
    assert message.startswith(f"{key}={value}") or message.startswith(f"{key}='{value}'"), message
    assert "\n" not in message


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only machine")
def test_gpus_without_cuda_rejected(tmp_path):
    cfg = valid_cfg(tmp_path)
    cfg.NUM_GPUS = 1
    with pytest.raises(DeviceUnavailableError, match=r"^NUM_GPUS=1: CUDA is not available") as error:
        assert_and_infer_cfg(cfg)
    assert error.value.hint == "set NUM_GPUS 0 to run on the CPU"


def test_synthetic_dataset_needs_no_data_dir_and_disabled_splits_are_ignored(tmp_path):
    cfg = valid_cfg(tmp_path)
    cfg.DATA.PATH_TO_DATA_DIR = ""
    cfg.TRAIN.DATASET = cfg.TEST.DATASET = "synthetic"
    assert_and_infer_cfg(cfg)
    cfg.TEST.DATASET = "kinetics"
    cfg.TEST.ENABLE = False
    assert_and_infer_cfg(cfg)


def test_single_pathway_arch_skips_alpha_check_and_world_size_counts_cpu_processes(tmp_path):
    cfg = valid_cfg(tmp_path)
    cfg.MODEL.ARCH = "slow"
    cfg.DATA.NUM_FRAMES = 12
    cfg.DIST_CPU_PROCESSES = 2
    cfg.TRAIN.BATCH_SIZE = 6
    cfg.TEST.BATCH_SIZE = 2
    assert_and_infer_cfg(cfg)


def test_unregistered_dataset_is_named_with_the_known_ones(tmp_path):
    cfg = valid_cfg(tmp_path)
    cfg.TRAIN.DATASET = "kinetcs"
    with pytest.raises(ConfigError, match=r"TRAIN.DATASET='kinetcs'.*not registered; known: .*Kinetics.*Synthetic"):
        assert_and_infer_cfg(cfg)


def test_missing_checkpoint_lists_the_ones_in_its_folder(tmp_path):
    cfg = valid_cfg(tmp_path)
    (tmp_path / "checkpoint_epoch_00004.pyth").write_bytes(b"")
    cfg.TEST.CHECKPOINT_FILE_PATH = str(tmp_path / "checkpoint_epoch_00040.pyth")
    with pytest.raises(ConfigError) as error:
        assert_and_infer_cfg(cfg)
    assert error.value.message == f"TEST.CHECKPOINT_FILE_PATH='{tmp_path}/checkpoint_epoch_00040.pyth': checkpoint not found"
    assert error.value.details == [f"{tmp_path}/checkpoint_epoch_00004.pyth"]


def test_long_cycle_with_cosine_fails_validation(tmp_path):
    cfg = valid_cfg(tmp_path)
    cfg.MULTIGRID.LONG_CYCLE = True
    cfg.SOLVER.LR_POLICY = "cosine"
    with pytest.raises(ConfigError, match=r"^MULTIGRID.LONG_CYCLE needs SOLVER.LR_POLICY 'steps_with_relative_lrs'.*got 'cosine'"):
        assert_and_infer_cfg(cfg)


def test_a_demo_input_with_the_other_jobs_off_enables_the_demo(tmp_path):
    cfg = valid_cfg(tmp_path)
    cfg.TRAIN.ENABLE = cfg.TEST.ENABLE = False
    cfg.DEMO.INPUT_VIDEO = "x.mp4"
    assert assert_and_infer_cfg(cfg).DEMO.ENABLE
    cfg = valid_cfg(tmp_path)
    cfg.DEMO.INPUT_VIDEO = "x.mp4"  # training on: the input alone does not add the demo
    assert not assert_and_infer_cfg(cfg).DEMO.ENABLE
