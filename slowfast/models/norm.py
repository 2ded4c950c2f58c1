"""Normalisation layers selected by the config.

Every block takes the norm-layer *constructor* (``norm_layer(num_features) -> nn.Module``) as an
argument instead of hard-coding ``nn.BatchNorm3d``, so that multigrid training can swap in
sub-batch or synchronised batch norm for the whole model from one place: :func:`get_norm`.
"""
from functools import partial
from typing import Callable

import torch
import torch.nn as nn

from slowfast.models.sub_batchnorm import SubBatchNorm3d

NormLayer = Callable[[int], nn.Module]


def get_norm(cfg) -> NormLayer:
    """Return the constructor of the normalisation layer named by ``cfg.BN.NORM_TYPE``.

    Args:
        cfg: the config; reads ``BN.NORM_TYPE`` (and ``BN.NUM_SPLITS`` for sub-batch BN,
            ``BN.NUM_SYNC_DEVICES`` for synchronised BN).
    Returns:
        A callable ``norm_layer(num_features)`` building a norm over ``(N, C, T, H, W)`` tensors.
    """
    norm_type = cfg.BN.NORM_TYPE
    if norm_type == "batchnorm":
        return nn.BatchNorm3d
    # --- multigrid (engine/multigrid.py sets these per long-cycle phase) ---
    if norm_type == "sub_batchnorm":
        # Same state dict as BatchNorm3d: checkpoints load into plain-BN models.
        return partial(SubBatchNorm3d, num_splits=cfg.BN.NUM_SPLITS)
    if norm_type == "sync_batchnorm":
        if cfg.NUM_GPUS == 0 or not torch.cuda.is_available():
            raise ValueError(
                f"BN.NORM_TYPE 'sync_batchnorm' needs CUDA (NUM_GPUS > 0 and a GPU; NUM_GPUS is "
                f"{cfg.NUM_GPUS}); use 'batchnorm' or 'sub_batchnorm' on the CPU"
            )
        from slowfast.engine.distributed import sync_bn_process_group

        # Statistics over BN.NUM_SYNC_DEVICES devices (a block of consecutive ranks).
        return partial(nn.SyncBatchNorm, process_group=sync_bn_process_group(cfg.BN.NUM_SYNC_DEVICES))
    # --- end multigrid ---
    raise NotImplementedError(
        f"BN.NORM_TYPE '{norm_type}' is not supported; known: 'batchnorm', 'sub_batchnorm', 'sync_batchnorm'"
    )
