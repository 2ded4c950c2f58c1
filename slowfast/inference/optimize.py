"""Fast inference path: BatchNorm folding, eval mode and a deterministic memory-format choice.

``optimize_for_inference(model, example_inputs)`` is what the test loop, the demo, the exporter
and the benchmark call. It returns a copy of ``model`` that computes the same function (to float
rounding) with fewer kernels:

* every ``BatchNorm{1,2,3}d`` whose *only* input is the output of a ``Conv{1,2,3}d`` (and which is
  that convolution's only consumer) is folded into the convolution's weight and bias and replaced
  by ``nn.Identity``;
* the copy is in eval mode, with gradients off;
* weights (and, through ``prepare_inputs``, inputs) are in the memory layout ``layout`` names;
  the default, ``"auto"``, is a fixed rule, not a measurement, so every run of the same model on the
  same kind of device takes the same path (``inference_channels_last``): ``channels_last_3d`` on
  CPU for any model with a ``Conv3d``. Measured side by side at batch 8 it is faster for every
  family we ship, depthwise-heavy or dense; at batch 1 the layouts are within noise (see
  docs/benchmarks.md, "Inference path"). The timing probe it replaces flipped between processes
  on a loaded machine (3D-ShuffleNetV2: 122.7 clips/s in one process, 47.9 in the next).
  ``layout="probe"`` still times both (opt-in, e.g. for a new kind of model or device).

Which convolution feeds which BatchNorm is read from the data flow of one real forward pass
(module hooks + the autograd graph), not from module registration order, so arbitrary Python in
``forward`` (list plumbing, channel splits, residual adds) is handled exactly: a BN is folded only
when folding provably cannot change the result.
"""
import copy
import logging
import statistics
import time
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn

from slowfast.models.blocks.depthwise import DepthwiseConv3d
from slowfast.models.heads import example_args

logger = logging.getLogger(__name__)

# DepthwiseConv3d computes what nn.Conv3d does (only its CPU backward differs): it folds too.
_CONV_TYPES = (nn.Conv1d, nn.Conv2d, nn.Conv3d, DepthwiseConv3d)
_BN_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


def _is_plain(module: nn.Module, types: Tuple[type, ...]) -> bool:
    """Exactly one of ``types`` (subclasses such as SyncBatchNorm change semantics: not folded)."""
    return type(module) in types


def _set_submodule(root: nn.Module, qualified_name: str, new: nn.Module) -> None:
    parent_name, _, child_name = qualified_name.rpartition(".")
    parent = root.get_submodule(parent_name) if parent_name else root
    setattr(parent, child_name, new)


def _consumer_counts(outputs: Sequence[torch.Tensor]) -> Dict[torch.autograd.graph.Node, int]:
    """How many autograd nodes (or model outputs) consume each node's result, over the graph that
    produced ``outputs``."""
    counts: Dict[torch.autograd.graph.Node, int] = {}
    for output in outputs:
        if output.grad_fn is not None:
            counts[output.grad_fn] = counts.get(output.grad_fn, 0) + 1
    seen = set()
    stack = [output.grad_fn for output in outputs]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        for next_node, _ in node.next_functions:
            if next_node is not None:
                counts[next_node] = counts.get(next_node, 0) + 1
                stack.append(next_node)
    return counts


def find_conv_bn_pairs(model: nn.Module, example_inputs: Sequence[torch.Tensor]) -> List[Tuple[str, str]]:
    """``(conv_name, bn_name)`` pairs whose BN can be folded into the conv.

    Runs one eval-mode forward on ``example_inputs`` (the model's ``List[Tensor]`` input) with hooks.
    A pair qualifies when each module ran exactly once, the BN's input *is* the conv's output
    tensor, the conv output has no other consumer, and the channel counts match.
    """
    # Per module call: (input, input.grad_fn, output, output.grad_fn), the grad_fns taken at call
    # time so that an in-place op between conv and BN (which rebases grad_fn) breaks the pair.
    calls: Dict[str, List[tuple]] = {}
    handles = []
    for name, module in model.named_modules():
        if _is_plain(module, _CONV_TYPES) or (_is_plain(module, _BN_TYPES) and module.track_running_stats):
            def hook(mod, args, out, name=name):
                calls.setdefault(name, []).append((args[0], args[0].grad_fn, out, out.grad_fn))
            handles.append(module.register_forward_hook(hook))
    was_training = model.training
    model.eval()
    # Inputs that require grad make every conv output carry a grad_fn, even for frozen weights.
    inputs = [x.detach() for x in example_inputs]
    try:
        # The autograd graph is the data-flow record: force it on even inside inference_mode/no_grad.
        with torch.inference_mode(False), torch.enable_grad():
            inputs = [x.clone().requires_grad_(True) for x in inputs]
            output = model(*example_args(model, inputs))  # a detection model also takes boxes
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    outputs = [output] if isinstance(output, torch.Tensor) else [o for o in output if isinstance(o, torch.Tensor)]
    consumers = _consumer_counts(outputs)

    conv_by_output_node = {}
    for name, records in calls.items():
        if len(records) == 1 and _is_plain(model.get_submodule(name), _CONV_TYPES):
            _, _, _, out_node = records[0]
            if out_node is not None:
                conv_by_output_node[out_node] = name
    pairs = []
    for bn_name, records in calls.items():
        bn = model.get_submodule(bn_name)
        if len(records) != 1 or not _is_plain(bn, _BN_TYPES):
            continue
        _, in_node, _, _ = records[0]
        conv_name = conv_by_output_node.get(in_node)
        if conv_name is None or consumers.get(in_node, 0) != 1:
            continue
        if model.get_submodule(conv_name).out_channels == bn.num_features:
            pairs.append((conv_name, bn_name))
    return pairs


@torch.no_grad()
def fold_conv_bn(conv: nn.Module, bn: nn.Module) -> nn.Module:
    """A new conv computing ``bn(conv(x))`` (eval-mode BN statistics), with a bias.

    ``w' = w * gamma / sqrt(var + eps)`` per output channel, ``b' = (b - mean) * gamma / sqrt(var + eps) + beta``.
    """
    scale = torch.rsqrt(bn.running_var.double() + bn.eps)
    if bn.affine:
        scale = scale * bn.weight.double()
    shift = -bn.running_mean.double() * scale
    if bn.affine:
        shift = shift + bn.bias.double()
    if conv.bias is not None:
        shift = shift + conv.bias.double() * scale
    fused = copy.deepcopy(conv)
    weight_shape = (-1,) + (1,) * (conv.weight.dim() - 1)
    fused.weight = nn.Parameter((conv.weight.double() * scale.view(weight_shape)).to(conv.weight.dtype))
    fused.bias = nn.Parameter(shift.to(conv.weight.dtype))
    return fused


def fold_batchnorm(model: nn.Module, example_inputs: Sequence[torch.Tensor], inplace: bool = False) -> nn.Module:
    """Fold every foldable BN of ``model`` into its convolution; the BN becomes ``nn.Identity``.

    Args:
        model: any module with the ``forward(List[Tensor])`` contract.
        example_inputs: one ``(N, C, T, H, W)`` tensor per pathway; batch 1 and a small crop suffice
            as long as the model accepts them.
        inplace: modify ``model`` itself instead of a deep copy.
    Returns:
        The folded model, in eval mode.
    """
    with torch.inference_mode(False):  # a copy made in inference mode could not be traced by autograd
        model = model if inplace else copy.deepcopy(model)
    pairs = find_conv_bn_pairs(model, example_inputs)
    for conv_name, bn_name in pairs:
        _set_submodule(model, conv_name, fold_conv_bn(model.get_submodule(conv_name), model.get_submodule(bn_name)))
        _set_submodule(model, bn_name, nn.Identity())
    remaining = sum(isinstance(m, _BN_TYPES) for m in model.modules())
    logger.info("folded %d BatchNorm layers into convolutions (%d left unfolded)", len(pairs), remaining)
    return model.eval()


def _to_memory_format(inputs: Sequence[torch.Tensor], channels_last: bool) -> List[torch.Tensor]:
    fmt = torch.channels_last_3d if channels_last else torch.contiguous_format
    return [x.contiguous(memory_format=fmt) if x.dim() == 5 else x for x in inputs]


@torch.inference_mode()
def median_forward_seconds(model: nn.Module, inputs: Sequence[torch.Tensor], repeats: int = 5, warmup: int = 1) -> float:
    """Median wall time of ``model(inputs)`` over ``repeats`` runs after ``warmup`` runs."""
    args = example_args(model, inputs)
    for _ in range(warmup):
        model(*args)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model(*args)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# TEST.OPTIMIZE_LAYOUT's values: the rule, either layout forced, or the timing probe.
LAYOUTS = ("auto", "channels_last", "contiguous", "probe")


def inference_channels_last(model: nn.Module) -> bool:
    """The deterministic layout rule of ``layout="auto"``: ``channels_last_3d`` for a model with a
    ``Conv3d`` whose parameters are on the CPU; contiguous otherwise.

    Why one rule for all families: on CPU, oneDNN's depthwise/grouped Conv3d is ~4x faster
    channels-last (~35 vs ~9 GFLOP/s) and the dense Conv3d of the ResNets gains too, so every
    shipped family is faster channels-last at batch 8 and none is measurably slower at batch 1
    (per family in docs/benchmarks.md, "Inference path"). On CUDA the layout was not measured:
    contiguous, the layout the models are built in.
    """
    parameter = next(model.parameters(), None)
    on_cpu = parameter is None or parameter.device.type == "cpu"
    return on_cpu and any(isinstance(module, nn.Conv3d) for module in model.modules())


@torch.inference_mode()
def prefers_channels_last(model: nn.Module, example_inputs: Sequence[torch.Tensor], repeats: int = 5,
                          warmup: int = 2) -> bool:
    """Timing probe: is ``model`` faster with ``channels_last_3d`` weights and inputs on these inputs?

    The two layouts are timed alternately (so machine noise hits both alike) and the medians compared;
    channels-last must win by 5 % to be chosen.
    """
    contiguous = model
    channels_last = copy.deepcopy(model).to(memory_format=torch.channels_last_3d)
    candidates = {False: (contiguous, example_args(model, _to_memory_format(example_inputs, False))),
                  True: (channels_last, example_args(model, _to_memory_format(example_inputs, True)))}
    times = {False: [], True: []}
    for _ in range(warmup):  # allocator and oneDNN primitive caches; one run is not enough
        for net, args in candidates.values():
            net(*args)
    for _ in range(repeats):
        for candidate, (net, args) in candidates.items():
            start = time.perf_counter()
            net(*args)
            times[candidate].append(time.perf_counter() - start)
    t_contiguous, t_channels_last = statistics.median(times[False]), statistics.median(times[True])
    logger.info("memory-format probe: contiguous %.1f ms, channels_last_3d %.1f ms",
                1e3 * t_contiguous, 1e3 * t_channels_last)
    return t_channels_last < 0.95 * t_contiguous


def optimize_for_inference(
    model: nn.Module,
    example_inputs: Sequence[torch.Tensor],
    layout: str = "auto",
    fold_bn: bool = True,
) -> nn.Module:
    """A copy of ``model`` for inference: BN folded, eval mode, no grads, in the chosen memory layout.

    Args:
        model: a ``forward(List[Tensor])`` video model (left unchanged).
        example_inputs: one ``(N, C, T, H, W)`` tensor per pathway at the shape inference will use
            (BN folding traces one forward; ``layout="probe"`` times this shape).
        layout: ``"auto"`` (``inference_channels_last``: deterministic, the default),
            ``"channels_last"`` / ``"contiguous"`` (forced) or ``"probe"`` (time both, keep the faster;
            may differ between runs on a busy machine).
        fold_bn: fold BatchNorm into the preceding convolutions.
    Returns:
        The optimised model. Its attribute ``channels_last`` tells callers which layout it chose;
        feeding inputs in that layout (``prepare_inputs``) saves one conversion.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"inference layout {layout!r} is unknown; use one of {list(LAYOUTS)}")
    optimized = fold_batchnorm(model, example_inputs) if fold_bn else copy.deepcopy(model).eval()
    for param in optimized.parameters():
        param.requires_grad_(False)
    if layout == "probe":
        channels_last = prefers_channels_last(optimized, example_inputs)
    elif layout == "auto":
        channels_last = inference_channels_last(optimized)
    else:
        channels_last = layout == "channels_last"
    if channels_last:
        optimized = optimized.to(memory_format=torch.channels_last_3d)
    optimized.channels_last = bool(channels_last)
    logger.info("inference layout (%s): %s", layout, "channels_last_3d" if channels_last else "contiguous")
    return optimized


def prepare_inputs(model: nn.Module, inputs: Sequence[torch.Tensor]) -> List[torch.Tensor]:
    """``inputs`` in the memory format ``optimize_for_inference`` chose for ``model``."""
    return _to_memory_format(inputs, getattr(model, "channels_last", False))
