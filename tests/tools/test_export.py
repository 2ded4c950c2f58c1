"""tools/export.py: config + checkpoint -> a verified ONNX / TorchScript file."""

import onnx
import pytest
import torch

from slowfast.models.build import build_model
from tests.deploy.conftest import EFFICIENT_MODELS, perturb, tiny_cfg
from tests.tools.tool_loader import load_tool



def _tool():
    return load_tool("export")


@pytest.fixture(scope="module")
def config_and_checkpoint(tmp_path_factory):
    """A tiny SF-MobileNetV2 config file and a checkpoint of it with non-trivial weights."""
    out = tmp_path_factory.mktemp("export_tool")
    cfg = tiny_cfg(*EFFICIENT_MODELS["SlowFastMobileNetV2"])
    torch.manual_seed(0)
    model = perturb(build_model(cfg))
    checkpoint = out / "model.pyth"
    torch.save({"model_state": model.state_dict(), "epoch": 3}, checkpoint)
    config = out / "tiny.yaml"
    config.write_text(cfg.dump())
    return str(config), str(checkpoint), model


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_export_writes_a_verified_file_with_the_checkpoint_weights(config_and_checkpoint, tmp_path, capsys, fmt):
    config, checkpoint, model = config_and_checkpoint
    output = tmp_path / "out" / f"model.{fmt}"
    code = _tool().main(["--cfg", config, "--checkpoint", checkpoint, "--format", fmt, "--output", str(output)])
    assert code == 0 and output.is_file()
    printed = capsys.readouterr().out
    assert "vs eager: max |diff|" in printed and f"wrote {fmt} model to {output}" in printed
    inputs = [torch.randn(2, 3, 1, 32, 32), torch.randn(2, 3, 4, 32, 32)]
    with torch.no_grad():
        expected = model(inputs)  # the checkpoint's weights, not a fresh random init
        if fmt == "torchscript":
            actual = torch.jit.load(str(output))(inputs)
        else:
            from slowfast.deploy.export import onnx_session, run_onnx

            assert [i.name for i in onnx.load(str(output)).graph.input] == ["slow", "fast"]
            actual = run_onnx(onnx_session(str(output)), inputs)
    torch.testing.assert_close(actual, expected, atol=1e-4, rtol=0)


def test_overrides_and_input_size_are_honoured(config_and_checkpoint, tmp_path):
    config, checkpoint, _ = config_and_checkpoint
    output = tmp_path / "model.onnx"
    code = _tool().main(["--cfg", config, "--checkpoint", checkpoint, "--format", "onnx", "--output", str(output),
                         "--input-size", "32", "64", "--attention", "plain", "DEPLOY.ONNX_OPSET", "18"])
    assert code == 0
    graph = onnx.load(str(output))
    assert [d.dim_value for d in graph.graph.input[1].type.tensor_type.shape.dim[1:]] == [3, 4, 32, 64]
    assert max(o.version for o in graph.opset_import if o.domain in ("", "ai.onnx")) == 18
    assert "MultiHeadAttention" not in {n.op_type for n in graph.graph.node}


def test_exactly_one_config_is_required(tmp_path):
    with pytest.raises(SystemExit):
        _tool().main(["--format", "onnx", "--output", str(tmp_path / "m.onnx")])


def test_no_checkpoint_is_refused_unless_random_weights_are_intended(config_and_checkpoint, tmp_path):
    from slowfast.utils.errors import CheckpointError

    config, _, _ = config_and_checkpoint
    output = tmp_path / "model.onnx"
    args = ["--cfg", config, "--format", "onnx", "--output", str(output), "OUTPUT_DIR", str(tmp_path)]
    with pytest.raises(CheckpointError, match="no checkpoint for export"):
        _tool().main(args)
    assert not output.exists()
    assert _tool().main(args + ["TEST.ALLOW_RANDOM_INIT", "True"]) == 0 and output.is_file()


def test_a_checkpoint_of_another_model_is_refused(config_and_checkpoint, tmp_path):
    from slowfast.utils.errors import CheckpointError

    config, checkpoint, _ = config_and_checkpoint
    with pytest.raises(CheckpointError, match=r"does not fit the model: loaded \d+/\d+ tensors \(pytorch\)"):
        _tool().main(["--cfg", config, "--checkpoint", checkpoint, "--format", "onnx",
                      "--output", str(tmp_path / "m.onnx"), "SLOWFAST.WIDTH_MULTI", "1.0"])
