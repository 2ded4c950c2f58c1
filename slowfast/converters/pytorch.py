"""``pytorch``: this framework's ``.pyth`` and the public SlowFast model zoo's ``.pyth``.

Both name tensors as this framework's modules do (``s2.pathway0_res0.branch2.a_bn.running_mean``),
so conversion is the identity; the caller checks every name and shape against the model. The
public files differ in their training state only: their optimizer groups are ordered by another
rule than ours and carry no parameter names, so ``slowfast.engine.checkpoint`` restores optimizer
state only from files that record the name of every parameter of every group (ours do).
"""
from typing import Dict

import torch

from slowfast.converters import LAYOUT_REGISTRY, Converted


@LAYOUT_REGISTRY.register()
class PytorchLayout:
    """Names already ours: the fallback of ``CHECKPOINT_TYPE auto`` when no foreign layout matches."""

    NAME = "pytorch"

    @staticmethod
    def matches(state: Dict[str, torch.Tensor]) -> bool:
        return bool(state)

    @staticmethod
    def convert(state: Dict[str, torch.Tensor], model, cfg) -> Converted:
        return Converted(state=dict(state))
