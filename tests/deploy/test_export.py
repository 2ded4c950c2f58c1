"""ONNX and TorchScript export: graph contract, dynamic batch, attention, and the eager check."""
from typing import List

import onnx
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from slowfast.deploy.export import (
    ExportMismatchError,
    export_and_verify,
    export_onnx,
    onnx_session,
    random_inputs,
    run_onnx,
    verify_onnx,
)
from tests.deploy.conftest import clip_inputs


class ToyAttentionNet(nn.Module):
    """Two pathways, an unscaled position attention on the slow one (as CMDA), a linear head."""

    def __init__(self, seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        self.slow = nn.Conv3d(3, 4, 3, padding=1)
        self.fast = nn.Conv3d(3, 2, 3, padding=1)
        self.query, self.key, self.value = nn.Conv3d(4, 4, 1), nn.Conv3d(4, 4, 1), nn.Conv3d(4, 4, 1)
        self.fc = nn.Linear(6, 3)

    def forward(self, x: List[torch.Tensor]) -> torch.Tensor:
        slow, fast = self.slow(x[0]), self.fast(x[1])
        query, key, value = (conv_out.flatten(2).transpose(1, 2).unsqueeze(1)  # (N, 1, L, C)
                             for conv_out in (self.query(slow), self.key(slow), self.value(slow)))
        attended = F.scaled_dot_product_attention(query, key, value, scale=1.0).squeeze(1)
        slow = slow + 0.5 * attended.transpose(1, 2).reshape(slow.shape)
        return self.fc(torch.cat([slow.mean((2, 3, 4)), fast.mean((2, 3, 4))], dim=1))


def toy_example():
    return [torch.randn(1, 3, 2, 6, 6), torch.randn(1, 3, 8, 6, 6)]


def op_types(path):
    return {node.op_type for node in onnx.load(path).graph.node}


@pytest.mark.parametrize("attention", ["fused", "plain"])
def test_onnx_contract_and_attention(tmp_path, attention, capsys):
    model, path = ToyAttentionNet().eval(), str(tmp_path / "toy.onnx")
    diff = export_and_verify(model, toy_example(), path, fmt="onnx", attention=attention, verify_batch_size=3)
    assert diff <= 1e-5
    assert "ONNX (onnxruntime) vs eager: max |diff|" in capsys.readouterr().out
    graph = onnx.load(path)
    assert max(o.version for o in graph.opset_import if o.domain in ("", "ai.onnx")) >= 17
    assert [i.name for i in graph.graph.input] == ["slow", "fast"] and [o.name for o in graph.graph.output] == ["logits"]
    for value in list(graph.graph.input) + list(graph.graph.output):
        assert value.type.tensor_type.shape.dim[0].dim_param == "N"  # dynamic batch axis
    fused = "MultiHeadAttention" in op_types(path)
    assert fused == (attention == "fused") and (("Softmax" in op_types(path)) == (attention == "plain"))


def test_onnx_runs_any_batch_size(tmp_path):
    model, path = ToyAttentionNet().eval(), str(tmp_path / "toy.onnx")
    export_onnx(model, toy_example(), path)
    assert not model.training  # the exporter must not leave the caller's model in train mode
    session = onnx_session(path, intra_op_threads=1)
    for batch in (1, 4):
        inputs = random_inputs(toy_example(), batch, seed=batch)
        with torch.no_grad():
            torch.testing.assert_close(run_onnx(session, inputs), model(inputs), atol=1e-5, rtol=0)


def test_mismatch_is_an_error(tmp_path):
    path = str(tmp_path / "toy.onnx")
    export_onnx(ToyAttentionNet(seed=0).eval(), toy_example(), path)
    with pytest.raises(ExportMismatchError, match="differs from eager"):
        verify_onnx(ToyAttentionNet(seed=1).eval(), path, toy_example())


def test_bad_arguments_are_named(tmp_path):
    with pytest.raises(ValueError, match=r"opset \(DEPLOY.ONNX_OPSET / --opset\) must be >= 17"):
        export_onnx(ToyAttentionNet(), toy_example(), str(tmp_path / "a.onnx"), opset=13)
    with pytest.raises(ValueError, match="DEPLOY.ONNX_ATTENTION"):
        export_onnx(ToyAttentionNet(), toy_example(), str(tmp_path / "a.onnx"), attention="flash")
    with pytest.raises(ValueError, match="'onnx' or 'torchscript'"):
        export_and_verify(ToyAttentionNet(), toy_example(), str(tmp_path / "a.x"), fmt="tflite")


@pytest.mark.parametrize("method", ["trace", "script"])
def test_torchscript_takes_the_pathway_list(tmp_path, method):
    model, path = ToyAttentionNet().eval(), str(tmp_path / f"toy_{method}.pt")
    assert export_and_verify(model, toy_example(), path, fmt="torchscript", script_method=method) <= 1e-6
    loaded = torch.jit.load(path)
    inputs = random_inputs(toy_example(), 5)
    with torch.no_grad():
        torch.testing.assert_close(loaded(inputs), model(inputs), atol=1e-6, rtol=0)


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_efficient_models_export_within_1e_4(efficient_model, tmp_path, fmt):
    """Every efficient two-pathway model (CMDA attention gates on, BN statistics perturbed)
    exports and matches eager to 1e-4 at another batch size than the export's."""
    cfg, model = efficient_model
    diff = export_and_verify(model, clip_inputs(cfg), str(tmp_path / f"model.{fmt}"), fmt=fmt, tolerance=1e-4,
                             verify_batch_size=2)
    assert diff <= 1e-4
