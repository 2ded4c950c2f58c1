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
"""
from dataclasses import dataclass, field
from typing import Dict, List

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
