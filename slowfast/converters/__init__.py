"""Checkpoints written by other codebases, mapped onto this framework's module names.

A *layout* is one codebase's way of naming tensors. Each layout module registers one class in
``LAYOUT_REGISTRY`` under the name ``TRAIN/TEST.CHECKPOINT_TYPE`` uses for it:

=====================  ==========================================================================
``pytorch``            this framework's and public SlowFast's ``.pyth`` (names already ours)
``caffe2``             the SlowFast model zoo's Caffe2 ``.pkl`` blobs (``caffe2.py``)
``efficient_slowfast`` the released efficient dual-attention SlowFast ``.pyth``
                       (``efficient_slowfast.py``; all five families, every width and groups)
``efficient_3dcnns``   Efficient-3DCNNs ``.pth`` single-stream models (``efficient_3dcnns.py``)
=====================  ==========================================================================

A layout class has two methods, both pure functions of their arguments:

* ``matches(state) -> bool``: whether a foreign state dict (names -> tensors, any DataParallel
  ``module.`` prefix already stripped) is in this layout; used by ``CHECKPOINT_TYPE auto``.
* ``convert(state, model, cfg) -> Converted``: our names -> tensors for ``model`` (built from
  ``cfg``). Names are mapped by a declared per-family table or rule that follows the foreign code's
  module structure, never by tensor order; the caller checks shapes and completeness.

A layout class is looked up by its ``NAME`` attribute (else its registered class name, compared
without case, underscores and a ``Layout`` suffix: ``EfficientSlowFastLayout`` ->
``efficient_slowfast``). :func:`convert_checkpoint` is the one entry point: it strips the
DataParallel prefix, picks the layout (``auto``: see :func:`detect_layout`) and converts.
"""
import importlib
from dataclasses import dataclass, field
from typing import Dict, List, Tuple

import torch
from fvcore.common.registry import Registry

LAYOUT_REGISTRY = Registry("CHECKPOINT_LAYOUT")
LAYOUT_REGISTRY.__doc__ = "Foreign checkpoint layouts, by their TRAIN/TEST.CHECKPOINT_TYPE name."


@dataclass
class Converted:
    """The result of mapping a foreign state dict onto a model.

    Attributes:
        state: our tensor names -> tensors (values possibly reshaped/transposed to our shapes).
        unused: foreign tensor names that carry weights but were not used (a mapping gap).
        ignored: foreign names recognised as training state and deliberately dropped (optimizer
            state, Caffe2 ``*_momentum``, ``lr``, ``model_iter``), reported as ignored, not unused.
    """

    state: Dict[str, torch.Tensor] = field(default_factory=dict)
    unused: List[str] = field(default_factory=list)
    ignored: List[str] = field(default_factory=list)


LAYOUT_NAMES = ("pytorch", "caffe2", "efficient_slowfast", "efficient_3dcnns")
# ``auto`` tries the foreign layouts in this order (their names are disjoint from ours and from each
# other's), after the check that every name is already one of the model's; ``pytorch`` (names
# already ours, the public SlowFast zoo included) is the fallback.
DETECTION_ORDER = ("caffe2", "efficient_3dcnns", "efficient_slowfast", "pytorch")
_DATA_PARALLEL_PREFIX = "module."
_NOT_WEIGHTS = "num_batches_tracked"  # BN step counters: neither counted nor required


def _register_all() -> None:
    """Import every layout module (each registers its class in LAYOUT_REGISTRY on import)."""
    for module in LAYOUT_NAMES:
        importlib.import_module(f"{__name__}.{module}")


def _normalise(name: str) -> str:
    name = name.lower().replace("_", "")
    return name[: -len("layout")] if name.endswith("layout") else name


def registered_layouts() -> Dict[str, type]:
    """Layout name -> registered layout class, for every layout module present."""
    _register_all()
    found = {}
    for registered, layout in LAYOUT_REGISTRY:
        for name in LAYOUT_NAMES:
            if getattr(layout, "NAME", None) == name or _normalise(registered) == _normalise(name):
                found[name] = layout
    return found


def get_layout(name: str):
    """The layout class registered for ``TRAIN/TEST.CHECKPOINT_TYPE`` value ``name``."""
    layouts = registered_layouts()
    if name not in layouts:
        raise KeyError(f"checkpoint layout '{name}' is not registered; known: {sorted(layouts)}")
    return layouts[name]


def strip_data_parallel(state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """``state`` without the DataParallel/DDP ``module.`` prefix, when every name carries it."""
    if state and all(name.startswith(_DATA_PARALLEL_PREFIX) for name in state):
        return {name[len(_DATA_PARALLEL_PREFIX):]: value for name, value in state.items()}
    return dict(state)


def detect_layout(state: Dict[str, torch.Tensor], model_names) -> str:
    """The layout of ``state`` (prefix stripped) for ``CHECKPOINT_TYPE auto``.

    Names that are all the model's own (step counters aside) are ``pytorch``, whatever their
    shapes (a new head); otherwise the first foreign layout of DETECTION_ORDER whose ``matches``
    accepts the names, else ``pytorch`` (the load then names every tensor that does not fit).
    """
    weights = [name for name in state if not name.endswith(_NOT_WEIGHTS)]
    if weights and all(name in model_names for name in weights):
        return "pytorch"
    layouts = registered_layouts()
    for name in DETECTION_ORDER:
        if name in layouts and layouts[name].matches(state):
            return name
    return "pytorch"


def convert_checkpoint(
    state: Dict[str, torch.Tensor], model, cfg, checkpoint_type: str = "auto",
) -> Tuple[str, Converted]:
    """Map a checkpoint's model state onto ``model``: ``(layout name, Converted)``.

    Args:
        state: the file's tensors (``model_state`` / ``state_dict`` / Caffe2 blobs), any
            DataParallel prefix included.
        model: the (unwrapped) model the names are mapped onto; ``cfg`` built it.
        checkpoint_type: a name of LAYOUT_NAMES, or ``auto`` to detect it.
    Returns the layout used and the converted state; BN step counters the layout leaves unmapped are
    dropped (they are not weights). Shapes and completeness are checked by the caller.
    """
    state = strip_data_parallel(state)
    layout = detect_layout(state, set(model.state_dict())) if checkpoint_type == "auto" else checkpoint_type
    converted = get_layout(layout).convert(state, model, cfg)
    converted.unused = [name for name in converted.unused if not name.endswith(_NOT_WEIGHTS)]
    return layout, converted

