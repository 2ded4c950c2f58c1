"""Model statistics: parameters, GFLOPs and activations (fvcore), per-stage output shapes.

Used by ``tools/model_info.py`` and by the trainer, which logs parameters and GFLOPs at start.
FLOPs follow fvcore's convention: one multiply-add = one flop.
"""
import copy
import glob
import logging
import os
import warnings
from typing import Dict, List, Sequence, Tuple

import torch
import torch.nn as nn

with warnings.catch_warnings():  # fvcore's import uses the deprecated torch.jit.script
    warnings.simplefilter("ignore", FutureWarning)
    from fvcore.nn import ActivationCountAnalysis, FlopCountAnalysis

from slowfast.models.heads import example_args  # noqa: E402

Shape = Tuple[int, ...]


def params_count(model: nn.Module) -> int:
    """Number of parameters (trainable or not) of ``model``."""
    return sum(p.numel() for p in model.parameters())


def is_multi_pathway(cfg) -> bool:
    """True when ``MODEL.ARCH`` takes ``[slow, fast]`` inputs."""
    return cfg.MODEL.ARCH in cfg.MODEL.MULTI_PATHWAY_ARCH


def input_shapes(cfg, mode: str = "train") -> List[Shape]:
    """Per-pathway input shapes ``(C, T, H, W)`` (no batch axis) at the config's clip size.

    ``T = DATA.NUM_FRAMES`` (the fast pathway; slow gets ``T // SLOWFAST.ALPHA``); the crop is
    ``DATA.TRAIN_CROP_SIZE`` for mode "train" and ``DATA.TEST_CROP_SIZE`` for "test".
    """
    if mode not in ("train", "test"):
        raise ValueError(f"mode must be 'train' or 'test', got '{mode}'")
    crop = cfg.DATA.TRAIN_CROP_SIZE if mode == "train" else cfg.DATA.TEST_CROP_SIZE
    frames = cfg.DATA.NUM_FRAMES
    channels = cfg.DATA.INPUT_CHANNEL_NUM
    if is_multi_pathway(cfg):
        if frames % cfg.SLOWFAST.ALPHA:
            raise ValueError(f"DATA.NUM_FRAMES {frames} must be divisible by SLOWFAST.ALPHA {cfg.SLOWFAST.ALPHA}")
        return [(channels[0], frames // cfg.SLOWFAST.ALPHA, crop, crop), (channels[1], frames, crop, crop)]
    return [(channels[0], frames, crop, crop)]


def dummy_inputs(model: nn.Module, shapes: Sequence[Shape], batch_size: int = 1) -> List[torch.Tensor]:
    """Zero tensors of ``(batch_size, *shape)`` on the model's device."""
    device = next(model.parameters()).device
    return [torch.zeros(batch_size, *shape, device=device) for shape in shapes]


def _sdpa_flop_jit(inputs, outputs) -> int:
    """fvcore handle of ``aten::scaled_dot_product_attention``: q·kᵀ plus A·v multiply-adds."""
    from fvcore.nn.jit_handles import get_shape

    query, key, value = (get_shape(v) for v in inputs[:3])
    *batch, length_q, dim = query
    length_k, dim_v = key[-2], value[-1]
    batch_size = 1
    for b in batch:
        batch_size *= b
    return batch_size * length_q * length_k * (dim + dim_v)


def _analysis(analysis_cls, model: nn.Module, cfg, mode: str):
    """Run an fvcore analysis on an eval-mode deep copy, silencing tracer and fvcore warnings."""
    model = copy.deepcopy(model).eval()
    # A detection model is counted with two boxes per clip (heads.example_args).
    analysis = analysis_cls(model, example_args(model, dummy_inputs(model, input_shapes(cfg, mode))))
    if analysis_cls is FlopCountAnalysis:
        analysis.set_op_handle("aten::scaled_dot_product_attention", _sdpa_flop_jit)
    analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False).tracer_warnings("none")
    fvcore_logger = logging.getLogger("fvcore")
    level = fvcore_logger.level
    fvcore_logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            return analysis.total()
    finally:
        fvcore_logger.setLevel(level)


def gflops(model: nn.Module, cfg, mode: str = "train") -> float:
    """GFLOPs of one clip at the config's train or test input size (fvcore, 1 multiply-add = 1 flop)."""
    return _analysis(FlopCountAnalysis, model, cfg, mode) / 1e9


def activations_count(model: nn.Module, cfg, mode: str = "train") -> float:
    """Millions of activations (conv/linear outputs, fvcore) for one clip at the config's input size."""
    return _analysis(ActivationCountAnalysis, model, cfg, mode) / 1e6


def feature_module_names(model: nn.Module) -> List[str]:
    """Names of the stages/fusions a forward goes through before the head (``s1``, ``s1_fuse``, ...)."""
    names = getattr(model, "feature_names", None)
    if names is not None:
        return list(names)
    return [name for name, _ in model.named_children() if name != "head"]


@torch.no_grad()
def stage_output_shapes(model: nn.Module, cfg, mode: str = "train", batch_size: int = 1) -> Dict[str, List[Shape]]:
    """Per named stage/fusion, the output shape ``(N, C, T, H, W)`` of every pathway (forward hooks).

    Runs one forward of zeros at the config's input size on an eval-mode deep copy.
    """
    model = copy.deepcopy(model).eval()
    shapes: Dict[str, List[Shape]] = {}

    def record(name):
        def hook(_module, _inputs, output):
            outputs = output if isinstance(output, (list, tuple)) else [output]
            shapes[name] = [tuple(o.shape) for o in outputs]
        return hook

    handles = [getattr(model, name).register_forward_hook(record(name)) for name in feature_module_names(model)]
    try:
        model(*example_args(model, dummy_inputs(model, input_shapes(cfg, mode), batch_size)))
    finally:
        for handle in handles:
            handle.remove()
    return shapes


def model_summary(model: nn.Module, cfg) -> str:
    """A printable table: params, GFLOPs and activations at train and test sizes, stage shapes."""
    lines = [f"model {cfg.MODEL.MODEL_NAME} (arch {cfg.MODEL.ARCH}, {cfg.MODEL.NUM_CLASSES} classes)",
             f"  params           {params_count(model) / 1e6:10.2f} M"]
    for mode in ("train", "test"):
        sizes = " + ".join("x".join(str(d) for d in s) for s in input_shapes(cfg, mode))
        lines.append(f"  {mode:5s} input     {sizes}")
        lines.append(f"  {mode:5s} GFLOPs    {gflops(model, cfg, mode):10.2f}")
        lines.append(f"  {mode:5s} activations {activations_count(model, cfg, mode):8.2f} M")
    shapes = stage_output_shapes(model, cfg, "train")
    width = max(len(n) for n in shapes) if shapes else 5
    lines.append(f"  {'stage':{width}s}  " + "  ".join(f"pathway{p} (N, C, T, H, W)" for p in range(len(next(iter(shapes.values()))))))
    for name, per_pathway in shapes.items():
        lines.append(f"  {name:{width}s}  " + "  ".join(f"{str(s):24s}" for s in per_pathway))
    return "\n".join(lines)


def config_files(roots: Sequence[str] = ("configs", "demo")) -> List[str]:
    """Every ``*.yaml`` under the given directories, sorted."""
    files = []
    for root in roots:
        files.extend(glob.glob(os.path.join(root, "**", "*.yaml"), recursive=True))
    return sorted(files)
