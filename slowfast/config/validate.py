"""Cross-key validation of a merged config: ``assert_and_infer_cfg(cfg)``.

Every check raises :class:`ConfigError` with one line naming the key and its value. Values that
follow from others (the multigrid defaults) are filled in; nothing is written to disk. Unknown
keys and type mismatches are already rejected by yacs when merging (see ``loader.py``).
"""
import os

import torch

from slowfast.config.loader import ConfigError
from slowfast.converters import LAYOUT_NAMES
from slowfast.datasets.build import get_dataset_class
from slowfast.engine import distributed as du
from slowfast.engine.optim import LR_POLICIES, OPTIMIZERS
from slowfast.inference.optimize import LAYOUTS as INFERENCE_LAYOUTS
from slowfast.utils.errors import DeviceUnavailableError
from slowfast.utils.suggest import missing_checkpoint

_HEAD_ACTS = ("softmax", "sigmoid")
_MULTI_LABEL_LOSSES = ("bce", "bce_logit")
_LOSSES = ("cross_entropy", "soft_cross_entropy") + _MULTI_LABEL_LOSSES
_NORM_TYPES = ("batchnorm", "sub_batchnorm", "sync_batchnorm")
_ENSEMBLE_METHODS = ("sum", "max")
_BACKENDS = ("auto", "nccl", "gloo")
_DECODERS = ("pyav", "frames", "torchcodec")
CHECKPOINT_TYPES = ("auto",) + LAYOUT_NAMES


def _require(condition: bool, key: str, value, reason: str) -> None:
    if not condition:
        raise ConfigError(f"{key}={value!r}: {reason}")


def _check_choice(cfg, key: str, choices) -> None:
    value = _get(cfg, key)
    _require(value in choices, key, value, f"must be one of {list(choices)}")


def _get(cfg, key: str):
    node = cfg
    for part in key.split("."):
        node = node[part]
    return node


def _check_positive(cfg, *keys: str) -> None:
    for key in keys:
        value = _get(cfg, key)
        _require(value > 0, key, value, "must be positive")


def _check_distributed(cfg) -> None:
    _require(cfg.NUM_GPUS >= 0, "NUM_GPUS", cfg.NUM_GPUS, "must be >= 0 (0 = CPU)")
    if cfg.NUM_GPUS > 0 and not torch.cuda.is_available():
        raise DeviceUnavailableError(f"NUM_GPUS={cfg.NUM_GPUS}: CUDA is not available on this machine",
                                     "set NUM_GPUS 0 to run on the CPU")
    if cfg.NUM_GPUS > torch.cuda.device_count():
        raise DeviceUnavailableError(f"NUM_GPUS={cfg.NUM_GPUS}: only {torch.cuda.device_count()} CUDA devices are visible",
                                     f"set NUM_GPUS {torch.cuda.device_count()} (or check CUDA_VISIBLE_DEVICES)")
    _check_positive(cfg, "NUM_SHARDS", "DIST_CPU_PROCESSES", "DIST_TIMEOUT_S")
    _require(0 <= cfg.SHARD_ID < cfg.NUM_SHARDS, "SHARD_ID", cfg.SHARD_ID, f"must be in [0, NUM_SHARDS={cfg.NUM_SHARDS})")
    _check_choice(cfg, "DIST_BACKEND", _BACKENDS)
    _require(
        not (cfg.DIST_BACKEND == "nccl" and cfg.NUM_GPUS == 0), "DIST_BACKEND", cfg.DIST_BACKEND,
        "nccl needs CUDA (NUM_GPUS > 0); use gloo or auto on the CPU",
    )
    world_size = du.expected_world_size(cfg)
    for key in ("TRAIN.BATCH_SIZE", "TEST.BATCH_SIZE"):
        batch_size = _get(cfg, key)
        _require(batch_size > 0, key, batch_size, "must be positive")
        _require(
            batch_size % world_size == 0, key, batch_size,
            f"the global batch must be divisible by the world size {world_size} "
            f"(processes per machine {du.processes_per_machine(cfg)} x NUM_SHARDS {cfg.NUM_SHARDS})",
        )


def _check_model(cfg) -> None:
    arch = cfg.MODEL.ARCH
    _require(
        arch in cfg.MODEL.SINGLE_PATHWAY_ARCH or arch in cfg.MODEL.MULTI_PATHWAY_ARCH, "MODEL.ARCH", arch,
        f"must be listed in MODEL.SINGLE_PATHWAY_ARCH {cfg.MODEL.SINGLE_PATHWAY_ARCH} "
        f"or MODEL.MULTI_PATHWAY_ARCH {cfg.MODEL.MULTI_PATHWAY_ARCH}",
    )
    if arch in cfg.MODEL.MULTI_PATHWAY_ARCH:
        _check_positive(cfg, "SLOWFAST.ALPHA", "SLOWFAST.BETA_INV")
        _require(
            cfg.DATA.NUM_FRAMES % cfg.SLOWFAST.ALPHA == 0, "DATA.NUM_FRAMES", cfg.DATA.NUM_FRAMES,
            f"must be divisible by SLOWFAST.ALPHA={cfg.SLOWFAST.ALPHA} for the two-pathway arch '{arch}'",
        )
    _check_positive(cfg, "MODEL.NUM_CLASSES")
    _check_choice(cfg, "MODEL.HEAD_ACT", _HEAD_ACTS)
    _check_choice(cfg, "MODEL.LOSS_FUNC", _LOSSES)
    _require(0.0 <= cfg.MODEL.DROPOUT_RATE < 1.0, "MODEL.DROPOUT_RATE", cfg.MODEL.DROPOUT_RATE, "must be in [0, 1)")
    _check_choice(cfg, "BN.NORM_TYPE", _NORM_TYPES)
    _require(
        cfg.BN.NORM_TYPE != "sync_batchnorm" or cfg.NUM_GPUS > 0, "BN.NORM_TYPE", cfg.BN.NORM_TYPE,
        "SyncBatchNorm needs CUDA (NUM_GPUS > 0)",
    )
    if cfg.DETECTION.ENABLE:
        _check_detection(cfg)


def _check_detection(cfg) -> None:
    """The RoI head scores each box with independent sigmoids (a box may carry several actions)."""
    _require(
        cfg.MODEL.LOSS_FUNC in _MULTI_LABEL_LOSSES, "MODEL.LOSS_FUNC", cfg.MODEL.LOSS_FUNC,
        f"detection labels are multi-hot; use one of {list(_MULTI_LABEL_LOSSES)} with DETECTION.ENABLE",
    )
    _require(
        cfg.MODEL.HEAD_ACT == "sigmoid", "MODEL.HEAD_ACT", cfg.MODEL.HEAD_ACT,
        "a box may carry several actions; use sigmoid with DETECTION.ENABLE",
    )
    _check_positive(cfg, "DETECTION.ROI_XFORM_RESOLUTION")
    # Both recompute BN statistics by calling the model on clips alone; the RoI head needs boxes.
    _require(
        not cfg.BN.USE_PRECISE_STATS, "BN.USE_PRECISE_STATS", cfg.BN.USE_PRECISE_STATS,
        "is not supported with DETECTION.ENABLE (the precise-BN pass has no boxes)",
    )
    _require(
        not (cfg.MULTIGRID.LONG_CYCLE or cfg.MULTIGRID.SHORT_CYCLE), "MULTIGRID.LONG_CYCLE",
        cfg.MULTIGRID.LONG_CYCLE, "multigrid is not supported with DETECTION.ENABLE",
    )
    _require(
        cfg.DETECTION.SPATIAL_SCALE_FACTOR >= 0, "DETECTION.SPATIAL_SCALE_FACTOR", cfg.DETECTION.SPATIAL_SCALE_FACTOR,
        "must be >= 0 (0 = derived from the backbone's strides)",
    )


def _check_data(cfg) -> None:
    used = [("TRAIN.DATASET", cfg.TRAIN.DATASET)] if cfg.TRAIN.ENABLE else []
    used += [("TEST.DATASET", cfg.TEST.DATASET)] if cfg.TEST.ENABLE else []
    for key, name in used:
        try:
            dataset_class = get_dataset_class(name)
        except KeyError as error:
            raise ConfigError(f"{key}={name!r}: {error.args[0]}") from None
        _require(
            bool(cfg.DATA.PATH_TO_DATA_DIR) or not dataset_class.REQUIRES_DATA_DIR, "DATA.PATH_TO_DATA_DIR",
            cfg.DATA.PATH_TO_DATA_DIR, f"is required by {key}={name!r} (the directory of its annotation files)",
        )
    _check_positive(cfg, "DATA.NUM_FRAMES", "DATA.SAMPLING_RATE", "DATA.TARGET_FPS",
                    "DATA.TRAIN_CROP_SIZE", "DATA.TEST_CROP_SIZE")
    scales = cfg.DATA.TRAIN_JITTER_SCALES
    _require(len(scales) == 2 and 0 < scales[0] <= scales[1], "DATA.TRAIN_JITTER_SCALES", scales, "must be [min, max] with 0 < min <= max")
    _require(len(cfg.DATA.MEAN) == len(cfg.DATA.STD), "DATA.STD", cfg.DATA.STD, f"must have as many values as DATA.MEAN {cfg.DATA.MEAN}")
    _require(all(s > 0 for s in cfg.DATA.STD), "DATA.STD", cfg.DATA.STD, "must be positive")
    _check_choice(cfg, "DATA.DECODING_BACKEND", _DECODERS)
    _require(cfg.DATA_LOADER.NUM_WORKERS >= 0, "DATA_LOADER.NUM_WORKERS", cfg.DATA_LOADER.NUM_WORKERS, "must be >= 0")
    _require(cfg.DATA.DECODED_CACHE_MB >= 0, "DATA.DECODED_CACHE_MB", cfg.DATA.DECODED_CACHE_MB, "must be >= 0 (0 = no cache)")
    _require(
        cfg.DATA.DECODED_CACHE_MB == 0 or cfg.DATA_LOADER.NUM_WORKERS == 0, "DATA.DECODED_CACHE_MB",
        cfg.DATA.DECODED_CACHE_MB, f"needs DATA_LOADER.NUM_WORKERS 0 (got {cfg.DATA_LOADER.NUM_WORKERS}): loader "
        "workers restart every epoch and their caches with them",
    )


def _check_solver(cfg) -> None:
    _check_choice(cfg, "SOLVER.LR_POLICY", LR_POLICIES)
    _check_choice(cfg, "SOLVER.OPTIMIZING_METHOD", OPTIMIZERS)
    _check_positive(cfg, "SOLVER.BASE_LR", "SOLVER.MAX_EPOCH")
    _require(cfg.SOLVER.WARMUP_EPOCHS >= 0, "SOLVER.WARMUP_EPOCHS", cfg.SOLVER.WARMUP_EPOCHS, "must be >= 0")
    _require(
        cfg.SOLVER.WARMUP_EPOCHS <= cfg.SOLVER.MAX_EPOCH, "SOLVER.WARMUP_EPOCHS", cfg.SOLVER.WARMUP_EPOCHS,
        f"must not exceed SOLVER.MAX_EPOCH={cfg.SOLVER.MAX_EPOCH}",
    )
    if cfg.SOLVER.LR_POLICY == "steps_with_relative_lrs":
        steps, lrs = list(cfg.SOLVER.STEPS), list(cfg.SOLVER.LRS)
        _require(len(steps) > 0 and steps[0] == 0, "SOLVER.STEPS", steps, "must start with 0 (the first step's first epoch)")
        _require(steps == sorted(steps), "SOLVER.STEPS", steps, "must be increasing")
        _require(len(lrs) >= len(steps), "SOLVER.LRS", lrs, f"needs one relative LR per step of SOLVER.STEPS {steps}")
    if cfg.SOLVER.OPTIMIZING_METHOD == "sgd" and cfg.SOLVER.NESTEROV:
        _require(
            cfg.SOLVER.MOMENTUM > 0 and cfg.SOLVER.DAMPENING == 0, "SOLVER.NESTEROV", cfg.SOLVER.NESTEROV,
            f"needs SOLVER.MOMENTUM > 0 and SOLVER.DAMPENING 0 (got {cfg.SOLVER.MOMENTUM}, {cfg.SOLVER.DAMPENING})",
        )
    for key in ("SOLVER.CLIP_GRAD_VAL", "SOLVER.CLIP_GRAD_L2NORM"):
        value = _get(cfg, key)
        _require(value is None or value > 0, key, value, "must be None (off) or positive")


def _check_train_test(cfg) -> None:
    _check_positive(cfg, "TRAIN.EVAL_PERIOD", "TRAIN.CHECKPOINT_PERIOD", "TRAIN.TOPK", "LOG_PERIOD",
                    "TEST.NUM_ENSEMBLE_VIEWS", "TEST.NUM_SPATIAL_CROPS")
    _check_choice(cfg, "TRAIN.CHECKPOINT_TYPE", CHECKPOINT_TYPES)
    _check_choice(cfg, "TEST.CHECKPOINT_TYPE", CHECKPOINT_TYPES)
    _check_choice(cfg, "TEST.NUM_SPATIAL_CROPS", (1, 3))
    _check_choice(cfg, "TEST.ENSEMBLE_METHOD", _ENSEMBLE_METHODS)
    _check_choice(cfg, "TEST.OPTIMIZE_LAYOUT", INFERENCE_LAYOUTS)
    # Weights are checked now, not after hours of training; the demo reads TEST's weights too.
    for enabled, key in ((cfg.TRAIN.ENABLE, "TRAIN.CHECKPOINT_FILE_PATH"),
                         (cfg.TEST.ENABLE or cfg.DEMO.ENABLE, "TEST.CHECKPOINT_FILE_PATH")):
        weights = _get(cfg, key)
        if enabled and weights and not os.path.isfile(weights):
            missing = missing_checkpoint(weights)  # lists the checkpoints of that folder
            raise ConfigError(f"{key}={weights!r}: checkpoint not found", missing.hint, missing.details)
    path = cfg.TEST.SAVE_RESULTS_PATH
    _require(not path or path.endswith((".json", ".csv")), "TEST.SAVE_RESULTS_PATH", path, "must end in .json or .csv")
    _require(cfg.OUTPUT_DIR != "", "OUTPUT_DIR", cfg.OUTPUT_DIR, "must name a directory")


def _check_multigrid(cfg) -> None:
    if cfg.MULTIGRID.LONG_CYCLE and cfg.TRAIN.ENABLE:
        from slowfast.engine.multigrid import check_long_cycle_solver

        check_long_cycle_solver(cfg)


def _infer_demo_enable(cfg) -> None:
    """A demo input with training and testing off means "run the demo" (the published demo
    commands give ``DEMO.INPUT_VIDEO`` without ``DEMO.ENABLE True``)."""
    demo = cfg.DEMO
    if not (cfg.TRAIN.ENABLE or cfg.TEST.ENABLE or demo.ENABLE) and (demo.INPUT_VIDEO or demo.DATA_SOURCE):
        demo.ENABLE = True


def _infer_multigrid_defaults(cfg) -> None:
    """The multigrid schedule scales shapes relative to the configured ones; remember them once."""
    if cfg.MULTIGRID.DEFAULT_B == 0:
        cfg.MULTIGRID.DEFAULT_B = cfg.TRAIN.BATCH_SIZE
    if cfg.MULTIGRID.DEFAULT_T == 0:
        cfg.MULTIGRID.DEFAULT_T = cfg.DATA.NUM_FRAMES
    if cfg.MULTIGRID.DEFAULT_S == 0:
        cfg.MULTIGRID.DEFAULT_S = cfg.DATA.TRAIN_CROP_SIZE


def assert_and_infer_cfg(cfg):
    """Check every cross-key constraint of ``cfg`` and fill in inferred values; returns ``cfg``.

    Idempotent: calling it twice changes nothing more.
    """
    _infer_demo_enable(cfg)
    _check_distributed(cfg)
    _check_model(cfg)
    _check_data(cfg)
    _check_solver(cfg)
    _check_train_test(cfg)
    _check_multigrid(cfg)
    _infer_multigrid_defaults(cfg)
    return cfg
