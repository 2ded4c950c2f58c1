"""Checkpoints: ``OUTPUT_DIR/checkpoints/checkpoint_epoch_{epoch:05d}.pyth``.

A checkpoint is ``{"epoch", "model_state", "optimizer_state", "scaler_state", "cfg"}`` (the public
SlowFast format: ``epoch`` is the 0-based index of the epoch just finished, the file name counts
from 1). Saving happens on rank 0 only, without the DDP ``module.`` prefix, and atomically (a
temporary file in the same directory, flushed, fsynced and renamed), so a crash mid-save never
leaves a truncated newest checkpoint. Loading uses ``torch.load(weights_only=True)``: a file that
contains pickled objects is refused and none of its code runs.
"""
import os
import re
import tempfile
from typing import Dict, List, Optional

import torch

from slowfast.engine import distributed as du
from slowfast.utils.errors import CheckpointError  # noqa: F401  (re-exported)
from slowfast.utils.logging import get_logger

logger = get_logger(__name__)

CHECKPOINT_SUBDIR = "checkpoints"
_CHECKPOINT_NAME = re.compile(r"^checkpoint_epoch_(\d{5,})\.pyth$")
_DDP_PREFIX = "module."


def get_checkpoint_dir(output_dir: str) -> str:
    return os.path.join(output_dir, CHECKPOINT_SUBDIR)


def get_checkpoint_path(output_dir: str, epoch: int) -> str:
    """Path of the checkpoint written after 0-based epoch ``epoch`` (named ``epoch + 1``)."""
    return os.path.join(get_checkpoint_dir(output_dir), f"checkpoint_epoch_{epoch + 1:05d}.pyth")


def list_checkpoints(output_dir: str) -> List[str]:
    """Checkpoint files of ``output_dir``, oldest epoch first."""
    directory = get_checkpoint_dir(output_dir)
    if not os.path.isdir(directory):
        return []
    names = [name for name in os.listdir(directory) if _CHECKPOINT_NAME.match(name)]
    names.sort(key=lambda name: int(_CHECKPOINT_NAME.match(name).group(1)))
    return [os.path.join(directory, name) for name in names]


def get_last_checkpoint(output_dir: str) -> Optional[str]:
    """The newest checkpoint of ``output_dir``, or None."""
    checkpoints = list_checkpoints(output_dir)
    return checkpoints[-1] if checkpoints else None


def strip_ddp_prefix(state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Remove the ``module.`` prefix DataParallel/DDP adds to every key (when all keys have it)."""
    if state and all(key.startswith(_DDP_PREFIX) for key in state):
        return {key[len(_DDP_PREFIX):]: value for key, value in state.items()}
    return state


# ---------------------------------------------------------------------------- #
# Saving
# ---------------------------------------------------------------------------- #
def atomic_torch_save(obj, path: str) -> None:
    """``torch.save`` to a temporary file next to ``path``, fsync, then rename over ``path``."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    handle, tmp_path = tempfile.mkstemp(prefix=".tmp_", suffix=".pyth", dir=directory)
    try:
        with os.fdopen(handle, "wb") as tmp_file:
            torch.save(obj, tmp_file)
            tmp_file.flush()
            os.fsync(tmp_file.fileno())
        os.replace(tmp_path, path)
        _fsync_directory(directory)  # make the rename itself durable
    except BaseException:
        if os.path.exists(tmp_path):
            os.remove(tmp_path)
        raise


def _fsync_directory(directory: str) -> None:
    handle = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def save_checkpoint(output_dir: str, model, optimizer, epoch: int, cfg, scaler=None) -> Optional[str]:
    """Write the checkpoint of 0-based ``epoch`` on rank 0; returns its path (None on other ranks)."""
    if not du.is_master_proc():
        return None
    checkpoint = {
        "epoch": epoch,
        "model_state": strip_ddp_prefix(du.unwrap_model(model).state_dict()),
        "optimizer_state": optimizer.state_dict() if optimizer is not None else None,
        "scaler_state": scaler.state_dict() if scaler is not None else None,
        "cfg": cfg.dump(),
    }
    path = get_checkpoint_path(output_dir, epoch)
    atomic_torch_save(checkpoint, path)
    logger.info(f"saved checkpoint {path}")
    return path


# ---------------------------------------------------------------------------- #
# Loading
# ---------------------------------------------------------------------------- #
def read_checkpoint(path: str) -> Dict:
    """Read a checkpoint safely (``weights_only``) onto the CPU; clear errors naming ``path``."""
    if not os.path.isfile(path):
        from slowfast.utils.suggest import missing_checkpoint

        raise missing_checkpoint(path)  # lists the checkpoints that do exist in that folder
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises UnpicklingError, RuntimeError, EOFError, ... here
        if "weights only" in str(error).lower() or "weights_only" in str(error).lower():
            raise CheckpointError(
                f"refusing to load checkpoint {path}: it contains pickled Python objects, not only "
                f"tensors and plain containers (loaded with weights_only=True; nothing in it was run)"
            ) from error
        raise CheckpointError(f"cannot read checkpoint {path} (damaged or not a PyTorch file): {error}") from error
    if isinstance(checkpoint, dict) and "model_state" in checkpoint:
        return checkpoint
    if isinstance(checkpoint, dict) and checkpoint and all(torch.is_tensor(v) for v in checkpoint.values()):
        return {"model_state": checkpoint}  # a bare state dict
    raise CheckpointError(f"checkpoint {path} has no 'model_state' (keys: {list(checkpoint)[:10]})")


def load_model_state(model, state: Dict[str, torch.Tensor], allow_shape_mismatch: bool, source: str) -> bool:
    """Load ``state`` into ``model``, listing every key that is not loaded.

    Keys whose shapes differ (a new classifier) are listed loudly and kept at their initial values
    when ``allow_shape_mismatch``, else they raise. Missing and unexpected keys are listed too.
    Returns True when every model key was loaded from ``state``.
    """
    model = du.unwrap_model(model)
    state = strip_ddp_prefix(state)
    own_state = model.state_dict()
    mismatched = [
        f"{key}: checkpoint {tuple(value.shape)} vs model {tuple(own_state[key].shape)}"
        for key, value in state.items()
        if key in own_state and value.shape != own_state[key].shape
    ]
    if mismatched:
        message = f"{len(mismatched)} keys of {source} have shapes that differ from the model:\n  " + "\n  ".join(mismatched)
        if not allow_shape_mismatch:
            raise CheckpointError(message + "\n(set TRAIN.CHECKPOINT_ALLOW_SHAPE_MISMATCH True to keep them initialised)")
        logger.warning(message + "\nthese keep their initial values")
    loadable = {key: value for key, value in state.items() if key in own_state and value.shape == own_state[key].shape}
    result = model.load_state_dict(loadable, strict=False)
    unexpected = sorted(set(state) - set(own_state))
    missing = [key for key in result.missing_keys if not any(m.startswith(key + ":") for m in mismatched)]
    if missing:
        logger.warning(f"{len(missing)} model keys are not in {source} and keep their initial values: {missing}")
    if unexpected:
        logger.warning(f"{len(unexpected)} keys of {source} are not in the model and were ignored: {unexpected}")
    return not (mismatched or missing or unexpected)


def load_checkpoint(
    path: str,
    model,
    optimizer=None,
    scaler=None,
    allow_shape_mismatch: bool = False,
    epoch_reset: bool = False,
) -> int:
    """Load ``path`` into ``model`` (and, when it fits exactly, ``optimizer`` and ``scaler``).

    Returns the 0-based epoch stored in the checkpoint, or -1 with ``epoch_reset`` / when absent,
    so training continues at ``returned + 1``.
    """
    checkpoint = read_checkpoint(path)
    complete = load_model_state(model, checkpoint["model_state"], allow_shape_mismatch, path)
    if optimizer is not None and not epoch_reset and checkpoint.get("optimizer_state"):
        if complete:
            optimizer.load_state_dict(checkpoint["optimizer_state"])
        else:
            logger.warning(f"optimizer state of {path} not loaded: the model did not load completely")
    if scaler is not None and not epoch_reset and checkpoint.get("scaler_state"):
        scaler.load_state_dict(checkpoint["scaler_state"])
    if epoch_reset:
        return -1
    return int(checkpoint.get("epoch", -1))
