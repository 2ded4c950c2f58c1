"""Optimiser construction, learning-rate policies and gradient clipping.

The LR is a pure function of the config and a fractional epoch (``epoch + iter / iters``), set
before every iteration, so a resumed run follows exactly the same schedule. Policies:

* ``cosine``: ``end + (base - end) * (1 + cos(pi * e / MAX_EPOCH)) / 2``;
* ``steps_with_relative_lrs``: ``BASE_LR * LRS[i]`` for ``STEPS[i] <= e < STEPS[i+1]``;
* ``constant``: ``BASE_LR``;

each preceded, for ``e < WARMUP_EPOCHS``, by a linear ramp from ``WARMUP_START_LR`` to the
policy's value at ``WARMUP_EPOCHS``. With ``SOLVER.BASE_LR_SCALE_NUM_SHARDS`` every LR of the
schedule is multiplied by ``NUM_SHARDS``.
"""
import math
from typing import Callable, Dict, List

import torch
from slowfast.utils.errors import ConfigError

OPTIMIZERS = ("sgd", "adamw")


def _lr_cosine(cfg, epoch: float) -> float:
    base, end = cfg.SOLVER.BASE_LR, cfg.SOLVER.COSINE_END_LR
    return end + (base - end) * (math.cos(math.pi * epoch / cfg.SOLVER.MAX_EPOCH) + 1.0) * 0.5


def get_step_index(cfg, epoch: float) -> int:
    """Index of the LR step containing ``epoch`` (``STEPS`` are the steps' first epochs)."""
    step_starts = list(cfg.SOLVER.STEPS) + [cfg.SOLVER.MAX_EPOCH]
    for index, start in enumerate(step_starts):
        if epoch < start:
            return max(index - 1, 0)
    return len(step_starts) - 2  # epoch >= MAX_EPOCH: stay in the last step


def _lr_steps_with_relative_lrs(cfg, epoch: float) -> float:
    return cfg.SOLVER.LRS[get_step_index(cfg, epoch)] * cfg.SOLVER.BASE_LR


def _lr_constant(cfg, epoch: float) -> float:
    return cfg.SOLVER.BASE_LR


LR_POLICIES: Dict[str, Callable] = {
    "cosine": _lr_cosine,
    "steps_with_relative_lrs": _lr_steps_with_relative_lrs,
    "constant": _lr_constant,
}


def get_lr_at_epoch(cfg, epoch: float) -> float:
    """The learning rate at fractional epoch ``epoch`` (warm-up included)."""
    policy = LR_POLICIES.get(cfg.SOLVER.LR_POLICY)
    if policy is None:
        raise ConfigError(f"SOLVER.LR_POLICY '{cfg.SOLVER.LR_POLICY}' is unknown; known: {sorted(LR_POLICIES)}")
    warmup_epochs = cfg.SOLVER.WARMUP_EPOCHS
    if epoch < warmup_epochs:
        lr_after_warmup = policy(cfg, warmup_epochs)
        slope = (lr_after_warmup - cfg.SOLVER.WARMUP_START_LR) / warmup_epochs
        lr = cfg.SOLVER.WARMUP_START_LR + epoch * slope
    else:
        lr = policy(cfg, epoch)
    if cfg.SOLVER.BASE_LR_SCALE_NUM_SHARDS:
        lr *= cfg.NUM_SHARDS
    return lr


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


# ---------------------------------------------------------------------------- #
# Parameter groups and optimisers
# ---------------------------------------------------------------------------- #
_NORM_TYPES = (torch.nn.modules.batchnorm._NormBase, torch.nn.GroupNorm, torch.nn.LayerNorm)


def param_groups(model: torch.nn.Module, cfg) -> List[Dict]:
    """Split trainable parameters by weight decay.

    Norm-layer parameters get ``BN.WEIGHT_DECAY``; with ``SOLVER.ZERO_WD_1D_PARAM`` biases and
    every other 1-D parameter get none; the rest get ``SOLVER.WEIGHT_DECAY``. Empty groups are
    dropped (optimisers reject them).
    """
    norm, no_decay, decay = [], [], []
    for module in model.modules():
        is_norm = isinstance(module, _NORM_TYPES)
        for param in module.parameters(recurse=False):
            if not param.requires_grad:
                continue
            if is_norm:
                norm.append(param)
            elif cfg.SOLVER.ZERO_WD_1D_PARAM and param.ndim <= 1:
                no_decay.append(param)
            else:
                decay.append(param)
    groups = [
        {"params": decay, "weight_decay": cfg.SOLVER.WEIGHT_DECAY},
        {"params": norm, "weight_decay": cfg.BN.WEIGHT_DECAY},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return [group for group in groups if group["params"]]


# Devices with fused SGD / AdamW kernels in the pinned torch.
_FUSED_DEVICE_TYPES = ("cpu", "cuda")


def use_fused_kernel(groups: List[Dict]) -> bool:
    """Whether the optimiser can update every parameter in one fused kernel per group.

    Why: the default per-tensor loop dispatches a dozen ops per parameter tensor, and the
    efficient families have hundreds of small ones (SF-GhostNet tiny: 554), so on CPU the AdamW
    step took 17.5 ms against 4.5 ms fused (``docs/benchmarks.md`` "Optimiser step"). The fused
    kernels need floating-point parameters on one device of a supported type.
    """
    params = [param for group in groups for param in group["params"]]
    devices = {param.device for param in params}
    return (
        len(devices) == 1
        and next(iter(devices)).type in _FUSED_DEVICE_TYPES
        and all(param.dtype.is_floating_point for param in params)
    )


def construct_optimizer(model: torch.nn.Module, cfg) -> torch.optim.Optimizer:
    """SGD (momentum, dampening, Nesterov) or AdamW over :func:`param_groups`, with the fused
    kernels where :func:`use_fused_kernel` allows (so build it after moving the model)."""
    groups = param_groups(model, cfg)
    lr = cfg.SOLVER.BASE_LR
    method = cfg.SOLVER.OPTIMIZING_METHOD
    fused = use_fused_kernel(groups)
    if method == "sgd":
        return torch.optim.SGD(
            groups,
            lr=lr,
            momentum=cfg.SOLVER.MOMENTUM,
            dampening=cfg.SOLVER.DAMPENING,
            nesterov=cfg.SOLVER.NESTEROV,
            fused=fused,
        )
    if method == "adamw":
        return torch.optim.AdamW(groups, lr=lr, betas=tuple(cfg.SOLVER.BETAS), fused=fused)
    raise ConfigError(f"SOLVER.OPTIMIZING_METHOD '{method}' is unknown; known: {list(OPTIMIZERS)}")


# Group options that describe how this machine runs the step, not the training state.
_KERNEL_OPTIONS = ("fused", "foreach")


def use_per_tensor_loop(optimizer: torch.optim.Optimizer) -> None:
    """Switch ``optimizer`` to torch's per-tensor loop (the side-by-side baseline of the fused
    kernel in ``tools/benchmark.py`` and the tests)."""
    for group in optimizer.param_groups:
        group.update(dict.fromkeys(_KERNEL_OPTIONS, False))


def load_optimizer_state(optimizer: torch.optim.Optimizer, state: Dict) -> None:
    """``optimizer.load_state_dict(state)``, keeping this optimiser's kernel choice: a state saved
    by the per-tensor loop (an older checkpoint) or on another device resumes in the kernel
    :func:`construct_optimizer` chose here, not in the file's."""
    kernels = [{key: group.get(key) for key in _KERNEL_OPTIONS} for group in optimizer.param_groups]
    optimizer.load_state_dict(state)
    for group, kernel in zip(optimizer.param_groups, kernels):
        group.update(kernel)


def clip_gradients(parameters, cfg) -> None:
    """Clip by value (``SOLVER.CLIP_GRAD_VAL``) and/or global L2 norm (``SOLVER.CLIP_GRAD_L2NORM``).
    Call after unscaling mixed-precision gradients."""
    parameters = [p for p in parameters if p.grad is not None]
    if cfg.SOLVER.CLIP_GRAD_VAL is not None:
        torch.nn.utils.clip_grad_value_(parameters, cfg.SOLVER.CLIP_GRAD_VAL)
    if cfg.SOLVER.CLIP_GRAD_L2NORM is not None:
        torch.nn.utils.clip_grad_norm_(parameters, cfg.SOLVER.CLIP_GRAD_L2NORM)
