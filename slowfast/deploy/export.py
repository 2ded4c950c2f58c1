"""Export a video model to ONNX or TorchScript, then prove the export computes what eager does.

Both exports keep the model's input contract visible:

* ONNX: one graph input per pathway (``slow``, ``fast`` for two-pathway models, ``x`` for
  single-stream ones), each ``(N, C, T, H, W)`` float32 with a dynamic batch axis ``N``; one output
  ``logits (N, K)``. Opset >= 17, written by the TorchScript-based exporter (``dynamo=False``: it needs
  no extra package and writes ``scaled_dot_product_attention`` as plain MatMul/Softmax ops).
* TorchScript: ``trace`` (default; works for every model) or ``script``; the saved module takes the
  same ``List[Tensor]`` as the eager model.

After writing, ``verify_*`` loads the file (onnxruntime / ``torch.jit.load``), runs it on random
input at a *different* batch size than the export used (so a batch size baked into the graph is
caught), prints the largest absolute difference against eager and raises ``ExportMismatchError``
above the tolerance.
"""
import logging
import warnings
from typing import List, Optional, Sequence

import numpy as np
import torch
from torch import nn

logger = logging.getLogger(__name__)

DEFAULT_OPSET = 17
DEFAULT_TOLERANCE = 1e-4
OUTPUT_NAME = "logits"


class ExportMismatchError(RuntimeError):
    """The exported model's output differs from eager by more than the tolerance."""


def pathway_input_names(num_pathways: int) -> List[str]:
    """Graph input names: ``["slow", "fast"]`` for two pathways, ``["x"]`` for one."""
    if num_pathways == 2:
        return ["slow", "fast"]
    if num_pathways == 1:
        return ["x"]
    return [f"pathway{i}" for i in range(num_pathways)]


class PathwaysAsArguments(nn.Module):
    """Adapter for exporters that want positional tensors: ``forward(*pathways) = model(list(pathways))``."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, *pathways: torch.Tensor) -> torch.Tensor:
        return self.model(list(pathways))


def random_inputs(example_inputs: Sequence[torch.Tensor], batch_size: int, seed: int = 0) -> List[torch.Tensor]:
    """Random normal inputs shaped like ``example_inputs`` but with batch ``batch_size``."""
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn((batch_size,) + tuple(x.shape[1:]), generator=generator, dtype=x.dtype)
            for x in example_inputs]


def export_onnx(
    model: nn.Module,
    example_inputs: Sequence[torch.Tensor],
    path: str,
    opset: int = DEFAULT_OPSET,
) -> str:
    """Write ``model`` (eval mode) as ONNX with a dynamic batch axis; returns ``path``.

    Args:
        model: ``forward(List[Tensor]) -> (N, K)`` video model.
        example_inputs: one ``(N, C, T, H, W)`` tensor per pathway (T, H, W are fixed in the graph).
        path: output ``.onnx`` file.
        opset: ONNX opset, at least 17.
    """
    if opset < 17:
        raise ValueError(f"ONNX opset must be >= 17, got {opset}")
    model = model.eval()
    names = pathway_input_names(len(example_inputs))
    dynamic_axes = {name: {0: "N"} for name in names + [OUTPUT_NAME]}
    inputs = tuple(x.contiguous() for x in example_inputs)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export.*")
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        torch.onnx.export(
            PathwaysAsArguments(model),
            inputs,
            path,
            dynamo=False,
            opset_version=opset,
            input_names=names,
            output_names=[OUTPUT_NAME],
            dynamic_axes=dynamic_axes,
            do_constant_folding=True,
        )
    logger.info("wrote ONNX (opset %d, inputs %s) to %s", opset, names, path)
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
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        if method == "trace":
            scripted = torch.jit.trace(model, (list(example_inputs),), check_trace=False)
        elif method == "script":
            scripted = torch.jit.script(model)
        else:
            raise ValueError(f"TorchScript method must be 'trace' or 'script', got '{method}'")
        torch.jit.save(scripted, path)
    logger.info("wrote TorchScript (%s) to %s", method, path)
    return path


def onnx_session(path: str, intra_op_threads: int = 0):
    """An onnxruntime CPU session for ``path`` (``intra_op_threads`` 0 = onnxruntime's default)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = intra_op_threads
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
        expected = model.eval()(inputs)
    return _check("ONNX (onnxruntime)", run_onnx(onnx_session(path), inputs), expected, tolerance)


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
    loaded = torch.jit.load(path, map_location="cpu")
    with torch.no_grad():
        expected = model.eval()(inputs)
        exported = loaded(inputs)
    return _check("TorchScript", exported, expected, tolerance)


def export_and_verify(
    model: nn.Module,
    example_inputs: Sequence[torch.Tensor],
    path: str,
    fmt: str = "onnx",
    opset: int = DEFAULT_OPSET,
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
        export_onnx(model, example_inputs, path, opset=opset)
        return verify_onnx(model, path, example_inputs, batch_size=batch, tolerance=tolerance)
    if fmt == "torchscript":
        export_torchscript(model, example_inputs, path, method=script_method)
        return verify_torchscript(model, path, example_inputs, batch_size=batch, tolerance=tolerance)
    raise ValueError(f"export format must be 'onnx' or 'torchscript', got '{fmt}'")
