"""TensorboardWriter: scalars, evaluation figures, GIF videos and wrong-prediction clips."""
import io

import numpy as np
import pytest
import torch
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from slowfast.config.defaults import get_cfg
from slowfast.visualization.tensorboard import TensorboardWriter, confusion_matrix, tensorboard_log_dir


def _events(log_dir):
    accumulator = EventAccumulator(str(log_dir), size_guidance={"images": 0, "scalars": 0})
    accumulator.Reload()
    return accumulator


@pytest.fixture
def cfg(tmp_path):
    cfg = get_cfg()
    cfg.OUTPUT_DIR = str(tmp_path)
    cfg.MODEL.NUM_CLASSES = 3
    cfg.TENSORBOARD.ENABLE = True
    return cfg


def test_log_dir_defaults_to_runs_dataset(cfg, tmp_path):
    cfg.TRAIN.DATASET = "synthetic"
    assert tensorboard_log_dir(cfg) == str(tmp_path / "runs-synthetic")
    cfg.TENSORBOARD.LOG_DIR = "tb"
    assert tensorboard_log_dir(cfg) == str(tmp_path / "tb")


def test_confusion_matrix_counts():
    preds = torch.tensor([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.1, 0.8, 0.1], [0.0, 0.0, 1.0]])
    labels = torch.tensor([0, 1, 0, 2])
    expected = torch.tensor([[1, 1, 0], [0, 1, 0], [0, 0, 1]])
    assert torch.equal(confusion_matrix(preds, labels, 3), expected)
    assert torch.equal(confusion_matrix([preds[:2], preds[2:]], [labels[:2], labels[2:]], 3), expected)


def test_scalars_figures_and_videos_are_written(cfg, tmp_path):
    cfg.TENSORBOARD.CONFUSION_MATRIX.ENABLE = True
    cfg.TENSORBOARD.HISTOGRAM.ENABLE = True
    cfg.TENSORBOARD.HISTOGRAM.TOPK = 2
    names = tmp_path / "names.txt"
    names.write_text("left\nright\nstop\n")
    cfg.TENSORBOARD.CLASS_NAMES_PATH = str(names)
    with TensorboardWriter(cfg) as writer:
        writer.add_scalars({"Train/loss": 1.5, "Train/lr": torch.tensor(0.1)}, global_step=3)
        preds = torch.tensor([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1]])
        cmtx = writer.plot_eval(preds, torch.tensor([0, 0]), global_step=3)
        clip = torch.rand(3, 4, 8, 10)  # (C, T, H, W)
        writer.add_video("Input/clip", clip, global_step=3)
    assert cmtx[0].tolist() == [1, 1, 0]
    events = _events(writer.log_dir)
    assert events.Scalars("Train/loss")[0].value == pytest.approx(1.5)
    assert events.Scalars("Train/lr")[0].step == 3
    tags = events.Tags()["images"]
    assert "Val/Confusion_Matrix" in tags
    assert "Val/Top2_Predictions/left" in tags  # only classes that occur get a histogram
    assert not any(tag.endswith("/right") for tag in tags)
    gif = events.Images("Input/clip")[0]
    image = Image.open(io.BytesIO(gif.encoded_image_string))
    assert image.format == "GIF" and image.size == (10, 8) and image.n_frames == 4


def test_plot_eval_does_nothing_when_disabled(cfg):
    with TensorboardWriter(cfg) as writer:
        assert writer.plot_eval(torch.rand(2, 3), torch.tensor([0, 1])) is None


def test_wrong_predictions_logs_one_video_per_pathway(cfg):
    cfg.TENSORBOARD.WRONG_PRED_VIS.ENABLE = True
    inputs = [torch.zeros(2, 3, 2, 6, 6), torch.zeros(2, 3, 8, 6, 6)]
    preds = torch.tensor([[0.9, 0.1, 0.0], [0.9, 0.1, 0.0]])
    with TensorboardWriter(cfg) as writer:
        logged = writer.add_wrong_predictions(inputs, preds, torch.tensor([0, 2]), 1, torch.tensor([5, 7]))
    assert logged == 1
    tags = _events(writer.log_dir).Tags()["images"]
    assert sorted(tags) == [
        f"{cfg.TENSORBOARD.WRONG_PRED_VIS.TAG}/video 7 pathway {p}: true 2, predicted 0" for p in (0, 1)
    ]
    # A zero normalised input is the mean colour once unnormalised.
    gif = _events(writer.log_dir).Images(tags[0])[0].encoded_image_string
    pixel = np.asarray(Image.open(io.BytesIO(gif)).convert("RGB"))[0, 0]
    assert np.all(np.abs(pixel.astype(int) - round(0.45 * 255)) <= 2)
