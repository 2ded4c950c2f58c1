"""Export a video model to ONNX or TorchScript, then prove the export computes what eager does.

Both exports keep the model's input contract visible:

* ONNX: one graph input per pathway (``slow``, ``fast`` for two-pathway models, ``x`` for
  single-stream ones), each ``(N, C, T, H, W)`` float32 with a dynamic batch axis ``N``; one output
  ``logits (N, K)``. Opset >= 17, written by the TorchScript-based exporter (``dynamo=False``: it
  needs no extra package). ``scaled_dot_product_attention`` (CMDA) is written either as onnxruntime's
  fused ``com.microsoft.MultiHeadAttention`` (``attention="fused"``, default: onnxruntime runs it with
  a tiled flash-attention kernel, so the L x L matrix -- 157 M entries per clip in SF-GhostNet's first
  fuse -- is never materialised) or as portable MatMul/Softmax/MatMul (``attention="plain"``, for
  other runtimes; materialises the matrix). A detection model (RoI head) also takes
  ``boxes (K, 5)`` (batch index, x1, y1, x2, y2 in input pixels; dynamic ``K``) and outputs
  ``logits (K, classes)``.
* TorchScript: ``trace`` (default; works for every model) or ``script``; the saved module takes the
  same ``List[Tensor]`` (and boxes) as the eager model.

After writing, ``verify_*`` loads the file (onnxruntime / ``torch.jit.load``), runs it on random
input at a *different* batch size than the export used (so a batch size baked into the graph is
caught), prints the largest absolute difference against eager and raises ``ExportMismatchError``
above the tolerance.
"""
import contextlib
import logging
import warnings
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn

from slowfast.models.heads import example_args, example_boxes, takes_boxes

logger = logging.getLogger(__name__)

DEFAULT_OPSET = 17
DEFAULT_TOLERANCE = 1e-4
OUTPUT_NAME = "logits"
# Graph input of a detection model: (K, 5) rows of (batch index, x1, y1, x2, y2) in input pixels.
BOXES_NAME = "boxes"


class ExportMismatchError(RuntimeError):
    """The exported model's output differs from eager by more than the tolerance."""


def _ignore_deprecation_noise() -> None:
    """Inside a ``warnings.catch_warnings()`` block: silence the exporters' deprecation notices
    (torch.jit and the TorchScript-based ONNX exporter are deprecated but are what runs here)."""
    warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", message="Constant folding - Only steps=1")


def pathway_input_names(num_pathways: int) -> List[str]:
    """Graph input names: ``["slow", "fast"]`` for two pathways, ``["x"]`` for one."""
    if num_pathways == 2:
        return ["slow", "fast"]
    if num_pathways == 1:
        return ["x"]
    return [f"pathway{i}" for i in range(num_pathways)]


class PathwaysAsArguments(nn.Module):
    """Adapter for exporters that want positional tensors: ``forward(*pathways) = model(list(pathways))``;
    a detection model takes its ``(K, 5)`` boxes last: ``forward(*pathways, boxes)``."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.with_boxes = takes_boxes(model)

    def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
        if self.with_boxes:
            return self.model(list(tensors[:-1]), tensors[-1])
        return self.model(list(tensors))


def graph_inputs(model: nn.Module, inputs: Sequence[torch.Tensor]) -> Tuple[List[str], List[torch.Tensor]]:
    """Names and tensors of the exported graph's inputs: the pathways, then ``boxes`` (``(K, 5)``,
    ``heads.example_boxes``) for a detection model."""
    names, tensors = pathway_input_names(len(inputs)), [x.contiguous() for x in inputs]
    if takes_boxes(model):
        names, tensors = names + [BOXES_NAME], tensors + [example_boxes(tensors)]
    return names, tensors


def random_inputs(example_inputs: Sequence[torch.Tensor], batch_size: int, seed: int = 0) -> List[torch.Tensor]:
    """Random normal inputs shaped like ``example_inputs`` but with batch ``batch_size``."""
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn((batch_size,) + tuple(x.shape[1:]), generator=generator, dtype=x.dtype)
            for x in example_inputs]


def _fused_sdpa_symbolic(g, query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                         enable_gqa=False):
    """``scaled_dot_product_attention`` -> ``com.microsoft.MultiHeadAttention`` (no mask, no dropout).

    SDPA takes ``(B, H, L, d)``; MultiHeadAttention takes ``(B, L, H*d)`` with ``num_heads = H``, so
    the inputs are transposed/reshaped around it. Anything else (masks, causal, unknown shapes)
    falls back to the standard opset-14 decomposition.
    """
    from torch.onnx import symbolic_helper, symbolic_opset14

    q_sizes = symbolic_helper._get_tensor_sizes(query)
    v_sizes = symbolic_helper._get_tensor_sizes(value)
    plain_mask = attn_mask is None or symbolic_helper._is_none(attn_mask)
    dropout = symbolic_helper._maybe_get_const(dropout_p, "f")
    causal = symbolic_helper._maybe_get_const(is_causal, "b")
    gqa = symbolic_helper._maybe_get_const(enable_gqa, "b")
    scale_value = None if scale is None or symbolic_helper._is_none(scale) else symbolic_helper._maybe_get_const(scale, "f")
    # The exporter knows the head count (dim 1) statically; L and d may be symbolic.
    heads = q_sizes[1] if q_sizes is not None and len(q_sizes) == 4 else None
    head_dim = q_sizes[3] if heads is not None else None
    if scale_value is None and isinstance(head_dim, int):
        scale_value = head_dim ** -0.5
    fusable = (isinstance(heads, int) and v_sizes is not None and len(v_sizes) == 4 and v_sizes[1] == heads
               and plain_mask and not dropout and not causal and not gqa and isinstance(scale_value, float))
    if not fusable:
        return symbolic_opset14.scaled_dot_product_attention(
            g, query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa)
    swap_heads_and_tokens = [0, 2, 1, 3]

    def merge_heads(x):  # (B, H, L, d) -> (B, L, H*d)
        x = g.op("Transpose", x, perm_i=swap_heads_and_tokens)
        return g.op("Reshape", x, g.op("Constant", value_t=torch.tensor([0, 0, -1], dtype=torch.int64)))

    out = g.op("com.microsoft::MultiHeadAttention", merge_heads(query), merge_heads(key), merge_heads(value),
               num_heads_i=heads, scale_f=scale_value)
    out = g.op("Reshape", out, g.op("Constant", value_t=torch.tensor([0, 0, heads, -1], dtype=torch.int64)))
    return g.op("Transpose", out, perm_i=swap_heads_and_tokens)


@contextlib.contextmanager
def _attention_symbolic(attention: str, opset: int):
    """Within the block, the ONNX exporter writes SDPA as ``attention`` ("fused" or "plain")."""
    if attention == "plain":
        yield
        return
    if attention != "fused":
        raise ValueError(f"ONNX attention (DEPLOY.ONNX_ATTENTION / --attention) must be 'fused' or 'plain', "
                         f"got '{attention}'")
    torch.onnx.register_custom_op_symbolic("aten::scaled_dot_product_attention", _fused_sdpa_symbolic, opset)
    try:
        yield
    finally:
        torch.onnx.unregister_custom_op_symbolic("aten::scaled_dot_product_attention", opset)


def export_onnx(
    model: nn.Module,
    example_inputs: Sequence[torch.Tensor],
    path: str,
    opset: int = DEFAULT_OPSET,
    attention: str = "fused",
) -> str:
    """Write ``model`` (eval mode) as ONNX with a dynamic batch axis; returns ``path``.

    Args:
        model: ``forward(List[Tensor]) -> (N, K)`` video model.
        example_inputs: one ``(N, C, T, H, W)`` tensor per pathway (T, H, W are fixed in the graph).
        path: output ``.onnx`` file.
        opset: ONNX opset, at least 17.
        attention: how ``scaled_dot_product_attention`` is written: "fused" (onnxruntime's
            memory-efficient MultiHeadAttention) or "plain" (portable standard ops).
    """
    if opset < 17:
        raise ValueError(f"ONNX opset (DEPLOY.ONNX_OPSET / --opset) must be >= 17, got {opset}")
    model = model.eval()
    names, inputs = graph_inputs(model, example_inputs)
    dynamic_axes = {name: {0: "N"} for name in names + [OUTPUT_NAME]}
    if BOXES_NAME in names:  # one output row per box
        dynamic_axes[BOXES_NAME] = dynamic_axes[OUTPUT_NAME] = {0: "K"}
    inputs = tuple(inputs)
    with warnings.catch_warnings(), _attention_symbolic(attention, opset):
        _ignore_deprecation_noise()
        torch.onnx.export(
            # .eval(): the exporter restores the wrapper's mode afterwards, recursively; a wrapper
            # left in its default train mode would switch the caller's model to training.
            PathwaysAsArguments(model).eval(),
            inputs,
            path,
            dynamo=False,
            opset_version=opset,
            input_names=names,
            output_names=[OUTPUT_NAME],
            dynamic_axes=dynamic_axes,
            do_constant_folding=True,
        )
    logger.info("wrote ONNX (opset %d, inputs %s, %s attention) to %s", opset, names, attention, path)
    return path


def export_torchscript(
    model: nn.Module,
    example_inputs: Sequence[torch.Tensor],
    path: str,
    method: str = "trace",
) -> str:
    """Write ``model`` (eval mode) as TorchScript taking ``List[Tensor]``; returns ``path``.

    Args:
        method: ``"trace"`` (records the ops run on ``example_inputs``) or ``"script"`` (compiles
            the Python source; fails with TorchScript's message on unsupported code).
    """
    model = model.eval()
    with torch.no_grad(), warnings.catch_warnings():
        _ignore_deprecation_noise()
        if method == "trace":
            scripted = torch.jit.trace(model, example_args(model, example_inputs), check_trace=False)
        elif method == "script":
            scripted = torch.jit.script(model)
        else:
            raise ValueError(f"TorchScript method must be 'trace' or 'script', got '{method}'")
        torch.jit.save(scripted, path)
    logger.info("wrote TorchScript (%s) to %s", method, path)
    return path


def onnx_session(path: str, intra_op_threads: int = 0, spin_wait: bool = True):
    """An onnxruntime CPU session for ``path`` (``intra_op_threads`` 0 = onnxruntime's default).

    ``spin_wait`` False makes idle worker threads sleep instead of spinning (fairer on a shared machine).
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = intra_op_threads
    if not spin_wait:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(path, sess_options=options, providers=["CPUExecutionProvider"])


def run_onnx(session, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
    """Run an onnxruntime session on per-pathway tensors; returns the logits as a tensor."""
    names = [i.name for i in session.get_inputs()]
    if len(names) != len(inputs):
        raise ValueError(f"the ONNX model takes {len(names)} inputs ({names}), got {len(inputs)} pathways")
    feed = {name: np.ascontiguousarray(x.detach().cpu().numpy(), dtype=np.float32) for name, x in zip(names, inputs)}
    return torch.from_numpy(session.run([OUTPUT_NAME], feed)[0])


def _check(kind: str, exported: torch.Tensor, expected: torch.Tensor, tolerance: float) -> float:
    if exported.shape != expected.shape:
        raise ExportMismatchError(f"{kind} output shape {tuple(exported.shape)} != eager {tuple(expected.shape)}")
    max_abs_diff = (exported.float() - expected.float()).abs().max().item()
    print(f"{kind} vs eager: max |diff| = {max_abs_diff:.3g} (tolerance {tolerance:g})")
    if not max_abs_diff <= tolerance:  # also catches NaN
        raise ExportMismatchError(f"{kind} output differs from eager by {max_abs_diff:.3g} > tolerance {tolerance:g}")
    return max_abs_diff


def verify_onnx(
    model: nn.Module,
    path: str,
    example_inputs: Sequence[torch.Tensor],
    batch_size: int = 2,
    tolerance: float = DEFAULT_TOLERANCE,
    seed: int = 0,
) -> float:
    """Largest |ONNX - eager| on random input of ``batch_size``; raises above ``tolerance``."""
    inputs = random_inputs(example_inputs, batch_size, seed)
    with torch.no_grad():
        expected = model.eval()(*example_args(model, inputs))
    return _check("ONNX (onnxruntime)", run_onnx(onnx_session(path), graph_inputs(model, inputs)[1]), expected,
                  tolerance)


def verify_torchscript(
    model: nn.Module,
    path: str,
    example_inputs: Sequence[torch.Tensor],
    batch_size: int = 2,
    tolerance: float = DEFAULT_TOLERANCE,
    seed: int = 0,
) -> float:
    """Largest |TorchScript - eager| on random input of ``batch_size``; raises above ``tolerance``."""
    inputs = random_inputs(example_inputs, batch_size, seed)
    with warnings.catch_warnings():
        _ignore_deprecation_noise()
        loaded = torch.jit.load(path, map_location="cpu")
    with torch.no_grad():
        args = example_args(model, inputs)
        expected = model.eval()(*args)
        exported = loaded(*args)
    return _check("TorchScript", exported, expected, tolerance)


def export_and_verify(
    model: nn.Module,
    example_inputs: Sequence[torch.Tensor],
    path: str,
    fmt: str = "onnx",
    opset: int = DEFAULT_OPSET,
    attention: str = "fused",
    script_method: str = "trace",
    tolerance: float = DEFAULT_TOLERANCE,
    verify_batch_size: Optional[int] = None,
) -> float:
    """Export ``model`` in ``fmt`` ("onnx" or "torchscript") to ``path`` and verify it against eager.

    Verification runs at ``verify_batch_size`` (default: export batch + 1, to exercise the dynamic
    batch axis). Returns the largest absolute difference; raises ``ExportMismatchError`` above
    ``tolerance``.
    """
    batch = verify_batch_size or example_inputs[0].shape[0] + 1
    if fmt == "onnx":
        export_onnx(model, example_inputs, path, opset=opset, attention=attention)
        return verify_onnx(model, path, example_inputs, batch_size=batch, tolerance=tolerance)
    if fmt == "torchscript":
        export_torchscript(model, example_inputs, path, method=script_method)
        return verify_torchscript(model, path, example_inputs, batch_size=batch, tolerance=tolerance)
    raise ValueError(f"export format must be 'onnx' or 'torchscript', got '{fmt}'")
