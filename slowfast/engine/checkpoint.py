"""Checkpoints: ``OUTPUT_DIR/checkpoints/checkpoint_epoch_{epoch:05d}.pyth``.

A checkpoint is ``{"epoch", "model_state", "optimizer_state", "optimizer_param_names",
"scaler_state", "cfg"}`` (the public SlowFast format plus the name of every parameter of every
optimizer group, so that optimizer state is restored only onto the same parameters; ``epoch`` is the
0-based index of the epoch just finished, the file name counts from 1). Saving happens on rank 0
only, without the DDP ``module.`` prefix, and atomically (a temporary file in the same directory,
flushed, fsynced and renamed), so a crash mid-save never leaves a truncated newest checkpoint.

Loading (:func:`load_checkpoint`, the one path for resume, fine-tuning, testing, the demo, Grad-CAM,
export and ``tools/convert_checkpoint.py``): read the file safely (``torch.load(weights_only=True)``;
Caffe2 ``.pkl`` through a numpy-only unpickler: nothing in a file ever runs), map its names onto the
model with the layout :mod:`slowfast.converters` detects or ``CHECKPOINT_TYPE`` names, check every
shape, count N = parameters + running statistics (``num_batches_tracked`` counters are not weights)
and refuse any gap the purpose does not allow, naming it; every load logs
``loaded N/N tensors from PATH (layout)``.
"""
import os
import re
import tempfile
import zipfile
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import torch

from slowfast.engine import distributed as du
from slowfast.engine.optim import load_optimizer_state
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
        "optimizer_param_names": optimizer_param_names(model, optimizer) if optimizer is not None else None,
        "scaler_state": scaler.state_dict() if scaler is not None else None,
        "cfg": cfg.dump(),
    }
    path = get_checkpoint_path(output_dir, epoch)
    atomic_torch_save(checkpoint, path)
    logger.info(f"saved checkpoint {path}")
    return path


# ---------------------------------------------------------------------------- #
# Reading files
# ---------------------------------------------------------------------------- #
_BLOCKED_GLOBAL = re.compile(r"GLOBAL ([\w.]+) was not an allowed global")


def read_checkpoint(path: str, checkpoint_type: str = "auto") -> Dict:
    """Read a checkpoint file safely onto the CPU, whatever codebase wrote it.

    Returns ``{"model_state": {name: tensor}, ...}`` plus what the file has of ``epoch``,
    ``optimizer_state``, ``optimizer_param_names``, ``scaler_state``, ``cfg`` (its config as YAML
    text) and ``arch``. ``.pyth``/``.pth`` files are read with ``torch.load(weights_only=True)``;
    an Efficient-3DCNNs file's ``state_dict``/``optimizer`` become ``model_state``/``optimizer_state``.
    Caffe2 ``.pkl`` files (or ``checkpoint_type`` ``caffe2``) are read with the restricted
    unpickler of :mod:`slowfast.converters.safe_pickle`: numpy arrays and plain containers only.
    """
    if not os.path.isfile(path):
        from slowfast.utils.suggest import missing_checkpoint

        raise missing_checkpoint(path)  # lists the checkpoints that do exist in that folder
    if checkpoint_type == "caffe2" or (checkpoint_type == "auto" and path.endswith(".pkl") and not zipfile.is_zipfile(path)):
        return _read_caffe2(path)
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises UnpicklingError, RuntimeError, EOFError, ... here
        text = str(error)
        if "weights only" in text.lower() or "weights_only" in text.lower():
            blocked = _BLOCKED_GLOBAL.search(text)
            what = f"a pickled Python object ({blocked.group(1)})" if blocked else "pickled Python objects"
            raise CheckpointError(
                f"refusing to load checkpoint {path}: it contains {what}, not only tensors and plain "
                f"containers (read with weights_only=True; nothing in it was run)",
                hint="if you trust its source, re-save its weights once as plain tensors "
                     "(torch.save({'model_state': torch.load(path, weights_only=False)['model_state']}, new_path)) "
                     "and load that file",
            ) from error
        raise CheckpointError(f"cannot read checkpoint {path} (damaged or not a PyTorch file): {error}") from error
    return _normalise_checkpoint(checkpoint, path)


def _normalise_checkpoint(checkpoint, path: str) -> Dict:
    if isinstance(checkpoint, dict) and "model_state" in checkpoint:
        return checkpoint
    if isinstance(checkpoint, dict) and isinstance(checkpoint.get("state_dict"), dict):  # Efficient-3DCNNs
        return {"model_state": checkpoint["state_dict"], "epoch": checkpoint.get("epoch"),
                "optimizer_state": checkpoint.get("optimizer"), "arch": checkpoint.get("arch")}
    if isinstance(checkpoint, dict) and checkpoint and all(torch.is_tensor(v) for v in checkpoint.values()):
        return {"model_state": checkpoint}  # a bare state dict
    keys = list(checkpoint)[:10] if isinstance(checkpoint, dict) else type(checkpoint).__name__
    raise CheckpointError(f"checkpoint {path} has no model weights ('model_state' or 'state_dict'; found {keys})")


def _read_caffe2(path: str) -> Dict:
    import numpy as np

    from slowfast.converters.safe_pickle import UnsafePickleError, load_weights_pickle

    try:
        data = load_weights_pickle(path)
    except UnsafePickleError as error:
        raise CheckpointError(
            f"refusing to load checkpoint {path}: it references {error.global_name}, which would run code "
            f"(only numpy arrays and plain containers are read; nothing in it was run)",
            hint="use the file from the SlowFast model zoo itself, or convert it where you trust it",
        ) from None
    except Exception as error:  # truncated or not a pickle
        raise CheckpointError(f"cannot read checkpoint {path} (damaged or not a Caffe2 .pkl): {error}") from error
    blobs = data.get("blobs", data) if isinstance(data, dict) else None
    if not isinstance(blobs, dict) or not blobs:
        raise CheckpointError(f"checkpoint {path} is not a Caffe2 weights file (no 'blobs' of arrays)")
    return {"model_state": {name: torch.from_numpy(np.array(value)) for name, value in blobs.items()}}


# ---------------------------------------------------------------------------- #
# Matching a checkpoint to a model
# ---------------------------------------------------------------------------- #
_NOT_WEIGHTS = "num_batches_tracked"  # BN step counters: neither counted nor required
_TRAINING_STATE = ("optimizer_state", "scaler_state")
_SHOWN_PER_KIND = 3


def counted_names(model) -> List[str]:
    """The model tensors a checkpoint must fill: parameters and running statistics."""
    return [name for name in model.state_dict() if not name.endswith(_NOT_WEIGHTS)]


@dataclass
class LoadReport:
    """How a checkpoint's tensors meet a model's (``loaded k/N``, and every gap by name)."""

    path: str
    layout: str
    total: int
    loaded: int
    missing: List[str] = field(default_factory=list)  # model tensors the checkpoint does not have
    mismatched: List[Tuple[str, tuple, tuple]] = field(default_factory=list)  # (name, file, model shape)
    unexpected: List[str] = field(default_factory=list)  # checkpoint tensors not used
    ignored: List[str] = field(default_factory=list)  # training state, recognised and dropped
    reinitialised: List[str] = field(default_factory=list)  # a new head (fine-tuning)
    architecture: Optional[str] = None  # "checkpoint: X W0.5, 9 classes; config: W2.0, 27 classes"

    @property
    def complete(self) -> bool:
        return not (self.missing or self.mismatched or self.unexpected or self.reinitialised)

    def summary(self) -> str:
        return f"loaded {self.loaded}/{self.total} tensors from {self.path} ({self.layout})"

    def gap_lines(self, per_kind: int = _SHOWN_PER_KIND) -> List[str]:
        """The architecture line, then per kind of gap a count and its first ``per_kind`` names."""
        lines = [self.architecture] if self.architecture else []
        kinds = [
            ("tensors with other shapes", [f"{n}: checkpoint {a} vs model {b}" for n, a, b in self.mismatched]),
            ("model tensors not in the checkpoint", self.missing),
            ("checkpoint tensors not used", self.unexpected),
        ]
        for label, names in kinds:
            if names:
                lines.append(f"{len(names)} {label}: {names[0]}")
                lines += [f"  {name}" for name in names[1:per_kind]]
        return lines


def _shape(value) -> tuple:
    return tuple(value.shape)


def match_checkpoint(checkpoint: Dict, model, cfg=None, checkpoint_type: str = "auto", path: str = ""):
    """Convert ``checkpoint["model_state"]`` to ``model``'s names and check every shape.

    Returns ``(loadable, report)``: the tensors to load (our names, shapes equal) and the
    :class:`LoadReport`. Nothing is loaded.
    """
    from slowfast.converters import convert_checkpoint

    own = model.state_dict()
    try:
        layout, converted = convert_checkpoint(checkpoint["model_state"], model, cfg, checkpoint_type)
    except (KeyError, ValueError) as error:
        raise CheckpointError(f"cannot map checkpoint {path} onto the model ({checkpoint_type} layout): {error}",
                              hint="check TRAIN/TEST.CHECKPOINT_TYPE (auto detects the layout)") from error
    loadable, mismatched, unexpected = {}, [], list(converted.unused)
    for name, value in converted.state.items():
        if name not in own:
            if not name.endswith(_NOT_WEIGHTS):
                unexpected.append(name)
        elif _shape(value) != _shape(own[name]):
            mismatched.append((name, _shape(value), _shape(own[name])))
        else:
            loadable[name] = value
    counted = counted_names(model)
    other_shape = {name for name, _, _ in mismatched}
    report = LoadReport(
        path=path, layout=layout, total=len(counted),
        loaded=sum(name in loadable for name in counted),
        missing=[name for name in counted if name not in loadable and name not in other_shape],
        mismatched=mismatched, unexpected=unexpected,
        ignored=list(converted.ignored) + [key for key in _TRAINING_STATE if checkpoint.get(key)],
        architecture=describe_architecture(checkpoint, cfg, layout),
    )
    return loadable, report


# What the architecture line compares: (label, config key, format, always shown).
_ARCH_FIELDS = [
    ("name", "MODEL.MODEL_NAME", "{}", True),
    ("depth", "RESNET.DEPTH", "R{}", False),
    ("width", "SLOWFAST.WIDTH_MULTI", "W{}", None),  # shown for the efficient families
    ("groups", "SLOWFAST.GROUPS", "g{}", False),
    ("classes", "MODEL.NUM_CLASSES", "{} classes", True),
]
_EFFICIENT_FAMILIES = re.compile(r"shuffle|mobile|moible|ghost", re.IGNORECASE)  # the release spells "Moible"


def _same_value(key: str, theirs, mine) -> bool:
    """Equal values; model names are equal when they name the same model (the release's aliases)."""
    if key != "MODEL.MODEL_NAME" or theirs == mine:
        return theirs == mine
    from slowfast.models.build import MODEL_REGISTRY

    try:
        theirs_class, mine_class = MODEL_REGISTRY.get(theirs), MODEL_REGISTRY.get(mine)
    except KeyError:
        return False
    return issubclass(theirs_class, mine_class) or issubclass(mine_class, theirs_class)


def _lookup(tree, key: str):
    for part in key.split("."):
        if not isinstance(tree, dict) or part not in tree:
            return None
        tree = tree[part]
    return tree


def _stored_architecture(checkpoint: Dict, layout: str) -> Optional[Dict]:
    """The checkpoint's config as a tree: the YAML it stores, else what its layout reads from the
    tensors (a layout's optional ``describe(state) -> {"MODEL.NUM_CLASSES": 27, ...}``)."""
    stored = checkpoint.get("cfg")
    if isinstance(stored, str):
        try:
            import yaml

            tree = yaml.safe_load(stored)
        except Exception:  # a config we cannot parse is simply not described
            return None
        return tree if isinstance(tree, dict) else None
    from slowfast.converters import get_layout, strip_data_parallel

    describe = getattr(get_layout(layout), "describe", None) if layout else None
    if describe is None:
        return None
    try:
        described = describe(strip_data_parallel(checkpoint["model_state"]))
    except Exception:  # an incomplete file tells less; the gap lines still name every tensor
        return None
    tree: Dict = {}
    for key, value in described.items():
        section, _, leaf = key.rpartition(".")
        tree.setdefault(section, {})[leaf] = value.item() if hasattr(value, "item") else value
    return tree


def describe_architecture(checkpoint: Dict, cfg=None, layout: str = "") -> Optional[str]:
    """``checkpoint: SlowFastShuffleNetV2 W0.5, 9 classes; config: W2.0, 27 classes`` from the config
    a checkpoint stores or its layout reads from its tensors (the config part lists what differs),
    or None when neither tells."""
    tree = _stored_architecture(checkpoint, layout)
    if tree is None:
        return None
    ours = cfg if cfg is not None else {}
    name = str(_lookup(tree, "MODEL.MODEL_NAME") or "")
    theirs_parts, ours_parts = [], []
    for label, key, fmt, always in _ARCH_FIELDS:
        theirs, mine = _lookup(tree, key), _lookup(ours, key)
        if theirs is None:
            continue
        differs = mine is not None and not _same_value(key, theirs, mine)
        shown = always if always is not None else bool(_EFFICIENT_FAMILIES.search(name))
        if shown or differs:
            theirs_parts.append(fmt.format(theirs))
        if differs:
            ours_parts.append(fmt.format(mine))
    if not theirs_parts:
        return None
    if ours_parts and _lookup(ours, "MODEL.MODEL_NAME") and not _same_value(
            "MODEL.MODEL_NAME", _lookup(tree, "MODEL.MODEL_NAME"), _lookup(ours, "MODEL.MODEL_NAME")):
        ours_parts = ours_parts[:1]  # another model: its name says it; widths of another family do not
    line = "checkpoint: " + ", ".join(theirs_parts).replace(", W", " W", 1).replace(", R", " R", 1)
    if cfg is not None:
        line += "; config: " + (", ".join(ours_parts) if ours_parts else "the same")
    return line


# ---------------------------------------------------------------------------- #
# Loading
# ---------------------------------------------------------------------------- #
PURPOSES = ("inference", "resume", "finetune")
_HINTS = {
    "inference": "use the checkpoint trained for this config, or the config (and overrides) it was trained with",
    "resume": "OUTPUT_DIR holds a run of another model: use another OUTPUT_DIR, or TRAIN.AUTO_RESUME False",
    "finetune": "use a checkpoint of this architecture, or set TRAIN.CHECKPOINT_ALLOW_SHAPE_MISMATCH True "
                "to keep the tensors listed at their initial values",
}


def _new_head(report: LoadReport, num_classes: Optional[int]) -> List[str]:
    """Mismatched tensors that are only a classifier of another class count (fine-tuning)."""
    if not num_classes:
        return []
    return [name for name, theirs, mine in report.mismatched
            if mine and theirs and mine[0] == num_classes and theirs[0] != num_classes and theirs[1:] == mine[1:]]


def check_fit(report: LoadReport, purpose: str = "inference", allow_shape_mismatch: bool = False,
              num_classes: Optional[int] = None) -> None:
    """Raise :class:`CheckpointError` for any gap ``purpose`` does not allow; log what is allowed.

    Fine-tuning may start a new head when ``num_classes`` (MODEL.NUM_CLASSES) differs from the
    checkpoint's: those tensors move to ``report.reinitialised``. ``allow_shape_mismatch`` turns
    every other gap into a warning.
    """
    if purpose == "finetune":
        head = set(_new_head(report, num_classes))
        if head:
            report.reinitialised = [name for name, _, _ in report.mismatched if name in head]
            logger.warning(
                f"new head for MODEL.NUM_CLASSES {num_classes}: re-initialised "
                + ", ".join(f"{n}: checkpoint {a} vs model {b}" for n, a, b in report.mismatched if n in head)
            )
            report.mismatched = [m for m in report.mismatched if m[0] not in head]
    gaps = report.gap_lines(per_kind=10 ** 9)
    if not (report.mismatched or report.missing or report.unexpected):
        return
    if not allow_shape_mismatch:
        raise CheckpointError(
            f"checkpoint {report.path} does not fit the model: loaded {report.loaded}/{report.total} tensors "
            f"({report.layout})",
            hint=_HINTS[purpose], details=_first_lines(report),
        )
    logger.warning(f"{report.path} does not fit the model; these keep their initial values:\n  " + "\n  ".join(gaps))


def _first_lines(report: LoadReport, limit: int = 10) -> List[str]:
    """At most ``limit`` lines: fewer names per kind until they fit."""
    for per_kind in (3, 2, 1):
        lines = report.gap_lines(per_kind)
        if len(lines) <= limit:
            return lines
    return report.gap_lines(1)[:limit]


def apply_weights(model, loadable: Dict[str, torch.Tensor]) -> None:
    """Copy ``loadable`` (our names, shapes checked) into ``model``; the rest keeps its values."""
    du.unwrap_model(model).load_state_dict(loadable, strict=False)


def optimizer_param_names(model, optimizer) -> List[List[str]]:
    """The name of every parameter of every optimizer group (what an optimizer state belongs to)."""
    names = {id(param): name for name, param in du.unwrap_model(model).named_parameters()}
    return [[names.get(id(param), "?") for param in group["params"]] for group in optimizer.param_groups]


def _same_groups(state: Dict, optimizer) -> bool:
    """Group sizes equal and every per-parameter state tensor shaped like its parameter."""
    groups = state.get("param_groups", [])
    if len(groups) != len(optimizer.param_groups):
        return False
    for saved, group in zip(groups, optimizer.param_groups):
        if len(saved["params"]) != len(group["params"]):
            return False
        for index, param in zip(saved["params"], group["params"]):
            for value in state.get("state", {}).get(index, {}).values():
                if torch.is_tensor(value) and value.dim() > 0 and value.shape != param.shape:
                    return False
    return True


def _restore_optimizer(checkpoint: Dict, model, optimizer, report: LoadReport, purpose: str) -> bool:
    """Restore ``optimizer`` when the file's groups hold exactly this model's parameters by name.

    A run's own checkpoint from before the names were saved (auto-resume only) is restored when its
    groups have this optimizer's sizes and every state tensor its parameter's shape."""
    state = checkpoint.get("optimizer_state")
    names = checkpoint.get("optimizer_param_names")
    own_legacy = purpose == "resume" and names is None and report.layout == "pytorch"
    if not state:
        reason = "the checkpoint has no optimizer state"
    elif not report.complete:
        reason = "the model did not load completely"
    elif own_legacy and not _same_groups(state, optimizer):
        reason = "its optimizer groups (saved without parameter names) do not fit this model's"
    elif not own_legacy and (report.layout != "pytorch" or names is None):
        reason = "the checkpoint does not name the parameters of its optimizer groups (not written by this framework)"
    elif not own_legacy and names != optimizer_param_names(model, optimizer):
        reason = "its optimizer groups hold other parameters than this model's"
    else:
        load_optimizer_state(optimizer, state)
        report.ignored = [key for key in report.ignored if key != "optimizer_state"]
        logger.info(f"restored the optimizer state of {report.path}")
        return True
    logger.info(f"optimizer starts fresh: {reason}")
    return False


def load_checkpoint(
    path: str,
    model,
    optimizer=None,
    scaler=None,
    allow_shape_mismatch: bool = False,
    epoch_reset: bool = False,
    cfg=None,
    checkpoint_type: str = "auto",
    purpose: str = "inference",
) -> int:
    """Load ``path`` (any layout :mod:`slowfast.converters` knows) into ``model``; the one loading path.

    Args:
        optimizer, scaler: restored when the file's optimizer groups match ``model``'s parameters by
            name (our own runs) and ``epoch_reset`` is False; otherwise they start fresh (logged).
        allow_shape_mismatch: tensors that do not fit are logged and keep their initial values
            instead of raising (TRAIN.CHECKPOINT_ALLOW_SHAPE_MISMATCH).
        cfg: the config ``model`` was built from (foreign layouts and messages need it).
        checkpoint_type: ``auto`` or a layout name (TRAIN/TEST.CHECKPOINT_TYPE).
        purpose: ``inference`` (testing, demo, Grad-CAM, export) and ``resume`` require every
            model tensor; ``finetune`` may start a new head for another MODEL.NUM_CLASSES.
    Returns the 0-based epoch stored in the checkpoint, or -1 (start at epoch 0) with
    ``epoch_reset``, for foreign layouts and when absent, so training continues at ``returned + 1``.
    Logs ``loaded N/N tensors from PATH (layout)``.
    """
    if purpose not in PURPOSES:
        raise ValueError(f"purpose must be one of {PURPOSES}, got {purpose!r}")
    checkpoint = read_checkpoint(path, checkpoint_type)
    model = du.unwrap_model(model)
    loadable, report = match_checkpoint(checkpoint, model, cfg, checkpoint_type, path)
    num_classes = cfg.MODEL.NUM_CLASSES if cfg is not None else None
    check_fit(report, purpose, allow_shape_mismatch, num_classes)
    apply_weights(model, loadable)
    logger.info(report.summary() + (f"; re-initialised {len(report.reinitialised)}: {report.reinitialised}"
                                    if report.reinitialised else ""))
    restored = False
    if optimizer is not None and not epoch_reset:
        restored = _restore_optimizer(checkpoint, model, optimizer, report, purpose)
    if scaler is not None and restored and checkpoint.get("scaler_state"):
        scaler.load_state_dict(checkpoint["scaler_state"])
    if epoch_reset or report.layout != "pytorch" or checkpoint.get("epoch") is None:
        return -1
    return int(checkpoint["epoch"])


def load_model_state(model, state: Dict[str, torch.Tensor], allow_shape_mismatch: bool, source: str) -> bool:
    """Load a state dict in our names into ``model`` through the same checks as a file.

    Returns True when every model tensor was loaded from ``state``.
    """
    model = du.unwrap_model(model)
    loadable, report = match_checkpoint({"model_state": state}, model, None, "pytorch", source)
    check_fit(report, "resume", allow_shape_mismatch)
    apply_weights(model, loadable)
    return report.complete


def resolve_test_weights(cfg) -> Tuple[Optional[str], str]:
    """The weights testing, the demo, Grad-CAM and export use, with their CHECKPOINT_TYPE:
    TEST.CHECKPOINT_FILE_PATH, else the newest checkpoint of OUTPUT_DIR, else
    TRAIN.CHECKPOINT_FILE_PATH (as public SlowFast's demo does), else ``(None, "auto")``."""
    if cfg.TEST.CHECKPOINT_FILE_PATH:
        return cfg.TEST.CHECKPOINT_FILE_PATH, cfg.TEST.CHECKPOINT_TYPE
    newest = get_last_checkpoint(cfg.OUTPUT_DIR)
    if newest:
        return newest, "pytorch"
    if cfg.TRAIN.CHECKPOINT_FILE_PATH:
        return cfg.TRAIN.CHECKPOINT_FILE_PATH, cfg.TRAIN.CHECKPOINT_TYPE
    return None, "auto"


def load_inference_weights(model, cfg, path: str = "", what: str = "inference") -> Optional[str]:
    """Load the weights the demo, Grad-CAM or export (``what``) runs: ``path``, else
    :func:`resolve_test_weights`. Every model tensor must be filled. With no checkpoint at all this
    refuses (CheckpointError) unless TEST.ALLOW_RANDOM_INIT says random weights are intended.
    Returns the path loaded (None for random weights)."""
    checkpoint_type = cfg.TEST.CHECKPOINT_TYPE
    if not path:
        path, checkpoint_type = resolve_test_weights(cfg)
    if not path:
        if not cfg.TEST.ALLOW_RANDOM_INIT:
            raise CheckpointError(
                f"no checkpoint for {what}: TEST.CHECKPOINT_FILE_PATH and TRAIN.CHECKPOINT_FILE_PATH are empty "
                f"and {get_checkpoint_dir(cfg.OUTPUT_DIR)} has none",
                hint="pass the trained weights (TEST.CHECKPOINT_FILE_PATH file.pyth), or set TEST.ALLOW_RANDOM_INIT "
                     "True to run randomly initialised weights on purpose",
            )
        logger.warning(f"{what} runs randomly initialised weights (no checkpoint; TEST.ALLOW_RANDOM_INIT True)")
        return None
    load_checkpoint(path, model, cfg=cfg, checkpoint_type=checkpoint_type, purpose="inference")
    return path
