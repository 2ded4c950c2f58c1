"""Normalisation layers selected by the config.

Every block takes the norm-layer *constructor* (``norm_layer(num_features) -> nn.Module``) as an
argument instead of hard-coding ``nn.BatchNorm3d``, so that multigrid training can swap in
sub-batch or synchronised batch norm for the whole model from one place: :func:`get_norm`.
"""
from typing import Callable

import torch.nn as nn

NormLayer = Callable[[int], nn.Module]


def get_norm(cfg) -> NormLayer:
    """Return the constructor of the normalisation layer named by ``cfg.BN.NORM_TYPE``.

    Args:
        cfg: the config; reads ``BN.NORM_TYPE``.
    Returns:
        A callable ``norm_layer(num_features)`` building a norm over ``(N, C, T, H, W)`` tensors.
    """
    norm_type = cfg.BN.NORM_TYPE
    if norm_type == "batchnorm":
        return nn.BatchNorm3d
    raise NotImplementedError(
        f"BN.NORM_TYPE '{norm_type}' is not supported yet; known: 'batchnorm'"
    )
