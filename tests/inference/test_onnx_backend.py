"""DEMO.BACKEND onnx: the onnxruntime predictor behind the demo's predictor interface."""
import os

import pytest
import torch

from slowfast.inference.onnx_backend import OnnxPredictor, default_onnx_path
from slowfast.models.build import build_model
from slowfast.inference.predictor import PytorchPredictor, build_predictor
from tests.deploy.conftest import EFFICIENT_MODELS, clip_inputs, perturb, tiny_cfg


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(cfg, checkpoint path) of a tiny SF-ShuffleNetV2 with non-trivial weights, DEMO.BACKEND onnx."""
    out = tmp_path_factory.mktemp("onnx_predictor")
    cfg = tiny_cfg(*EFFICIENT_MODELS["SlowFastShuffleNetV2"])
    torch.manual_seed(0)
    model = perturb(build_model(cfg))
    checkpoint = str(out / "model.pyth")
    torch.save({"model_state": model.state_dict(), "epoch": 0}, checkpoint)
    cfg.merge_from_list(["DEMO.BACKEND", "onnx", "TEST.CHECKPOINT_FILE_PATH", checkpoint, "OUTPUT_DIR", str(out)])
    return cfg, checkpoint


def test_backend_onnx_exports_on_first_clip_and_matches_pytorch(trained):
    cfg, _ = trained
    predictor = build_predictor(cfg)
    assert isinstance(predictor, OnnxPredictor)
    inputs = clip_inputs(cfg, batch_size=2)
    probabilities = predictor(inputs)
    assert os.path.isfile(default_onnx_path(cfg))
    assert probabilities.shape == (2, cfg.MODEL.NUM_CLASSES)
    torch.testing.assert_close(probabilities.sum(1), torch.ones(2))
    expected = PytorchPredictor(cfg)(inputs)  # same checkpoint, PyTorch (optimised) path
    torch.testing.assert_close(probabilities, expected, atol=1e-5, rtol=1e-4)


def test_given_onnx_file_is_run_and_shapes_are_checked(trained):
    cfg, _ = trained
    if not os.path.isfile(default_onnx_path(cfg)):  # normally written by the test above
        build_predictor(cfg)(clip_inputs(cfg))
    given = cfg.clone()
    given.merge_from_list(["DEPLOY.ONNX_PATH", default_onnx_path(cfg), "TEST.CHECKPOINT_FILE_PATH", ""])
    predictor = build_predictor(given)
    assert predictor.session is not None  # loaded eagerly, no model built
    assert predictor(clip_inputs(cfg)).shape == (1, cfg.MODEL.NUM_CLASSES)
    wrong = [torch.randn(1, 3, 1, 48, 48), torch.randn(1, 3, 4, 48, 48)]
    with pytest.raises(ValueError, match="input 'slow' expects"):
        predictor(wrong)


def test_missing_onnx_file_names_the_key(tmp_path):
    cfg = tiny_cfg(*EFFICIENT_MODELS["SlowFastShuffleNetV2"])
    cfg.merge_from_list(["DEMO.BACKEND", "onnx", "DEPLOY.ONNX_PATH", str(tmp_path / "missing.onnx")])
    with pytest.raises(FileNotFoundError, match="DEPLOY.ONNX_PATH"):
        build_predictor(cfg)
