"""Test-set visualisation hook: input clips, Grad-CAM overlays and wrong predictions in TensorBoard."""
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from slowfast.visualization.model_vis import TestSetVisualizer


def _batch(seed, batch=2):
    fast = torch.randn(batch, 3, 8, 16, 16, generator=torch.Generator().manual_seed(seed))
    return [fast[:, :, ::4].contiguous(), fast]


def test_visualizer_logs_inputs_gradcam_and_wrong_predictions(toy_cfg, toy_model):
    cfg = toy_cfg
    cfg.TENSORBOARD.ENABLE = True
    cfg.TENSORBOARD.MODEL_VIS.ENABLE = True
    cfg.TENSORBOARD.MODEL_VIS.INPUT_VIDEO = True
    cfg.TENSORBOARD.MODEL_VIS.GRAD_CAM.ENABLE = True
    cfg.TENSORBOARD.MODEL_VIS.GRAD_CAM.LAYER_LIST = ["s2"]
    cfg.TENSORBOARD.MODEL_VIS.NUM_CLIPS = 3
    cfg.TENSORBOARD.WRONG_PRED_VIS.ENABLE = True
    assert TestSetVisualizer.enabled(cfg)
    visualizer = TestSetVisualizer(cfg, toy_model)
    wrong = 0
    with torch.no_grad():  # as in the test loop
        for seed in range(2):
            inputs = _batch(seed)
            logits = toy_model(inputs)
            labels = (logits.argmax(dim=1) + torch.tensor([0, 1])) % 3  # clip 1 of each batch is wrong
            wrong += 1
            visualizer.visualize_batch(inputs, labels, logits, torch.tensor([10 * seed, 10 * seed + 1]))
    visualizer.close()
    events = EventAccumulator(visualizer.writer.log_dir, size_guidance={"images": 0})
    events.Reload()
    tags = events.Tags()["images"]
    inputs_logged = sorted(t for t in tags if t.startswith("Input/"))
    assert inputs_logged == [f"Input/video {v} pathway {p}" for v in (0, 1, 10) for p in (0, 1)]
    gradcam = [t for t in tags if t.startswith("Grad-CAM/s2/")]
    assert len(gradcam) == 6  # 3 clips x 2 pathways
    wrong_tags = [t for t in tags if t.startswith(cfg.TENSORBOARD.WRONG_PRED_VIS.TAG)]
    assert len(wrong_tags) == 2 * wrong
    assert all(not p.requires_grad or p.grad is None for p in toy_model.parameters())


def test_gradcam_without_layers_is_a_config_error(toy_cfg, toy_model):
    toy_cfg.TENSORBOARD.ENABLE = True
    toy_cfg.TENSORBOARD.MODEL_VIS.ENABLE = True
    toy_cfg.TENSORBOARD.MODEL_VIS.GRAD_CAM.ENABLE = True
    with pytest.raises(ValueError, match="GRAD_CAM.LAYER_LIST"):
        TestSetVisualizer(toy_cfg, toy_model)


def test_disabled_by_default(toy_cfg):
    assert not TestSetVisualizer.enabled(toy_cfg)
