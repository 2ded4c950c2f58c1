"""Multi-view aggregation on known scores, exclusion of failed videos, results files."""
import csv
import json
import os

import pytest
import torch

from slowfast.engine import evaluator
from tests.engine.toy import ToyTwoPathway, construct_toy_loader, toy_cfg

# 3 videos x 2 views, 3 classes.
SCORES = torch.tensor([
    [0.6, 0.3, 0.1],  # video 0
    [0.1, 0.5, 0.4],  # video 1
    [0.2, 0.2, 0.6],  # video 0
    [0.2, 0.7, 0.1],  # video 2
    [0.3, 0.3, 0.4],  # video 2
    [0.1, 0.4, 0.5],  # video 1
])
VIDEO_INDEX = torch.tensor([0, 1, 0, 2, 2, 1])


def test_sum_aggregation():
    video_scores, counts = evaluator.aggregate_views(SCORES, VIDEO_INDEX, num_videos=4, method="sum")
    expected = torch.tensor([[0.8, 0.5, 0.7], [0.2, 0.9, 0.9], [0.5, 1.0, 0.5], [0.0, 0.0, 0.0]])
    assert torch.allclose(video_scores, expected)
    assert counts.tolist() == [2, 2, 2, 0]


def test_max_aggregation():
    video_scores, _ = evaluator.aggregate_views(SCORES, VIDEO_INDEX, num_videos=3, method="max")
    assert torch.equal(video_scores, torch.tensor([[0.6, 0.3, 0.6], [0.1, 0.5, 0.5], [0.3, 0.7, 0.4]]))
    with pytest.raises(ValueError, match="ENSEMBLE_METHOD 'mean'"):
        evaluator.aggregate_views(SCORES, VIDEO_INDEX, 3, "mean")


def test_video_accuracies():
    video_scores = torch.tensor([[0.8, 0.5, 0.7], [0.2, 0.9, 0.8], [0.5, 1.0, 0.5], [0.1, 0.2, 0.7]])
    labels = torch.tensor([0, 2, 1, 2])  # hits: yes, no (2nd), yes, yes
    result = evaluator.video_accuracies(video_scores, labels, (1, 2))
    assert result["top1_acc"] == 75.0 and result["top2_acc"] == 100.0
    assert result["mean_class_acc"] == pytest.approx((1.0 + 1.0 + 0.5) / 3 * 100)


def test_videos_with_failed_views_are_excluded(tmp_path):
    cfg = toy_cfg(tmp_path)  # 2 views per video
    predictions = {
        "scores": SCORES[:5],  # video 1 lost one view
        "video_index": VIDEO_INDEX[:5],
        "labels": torch.tensor([0, 1, 0, 1, 1]),
        "failed": ["videos/b.mp4"],
    }
    stats, rows = evaluator.evaluate_predictions(predictions, num_videos=3, cfg=cfg)
    assert (stats["num_videos"], stats["num_excluded"], stats["failed_paths"]) == (2, 1, ["videos/b.mp4"])
    assert stats["excluded_videos"] == [1]
    assert stats["top1_acc"] == 100.0 and stats["split"] == "test_final"
    assert [row["video_index"] for row in rows] == [0, 2]
    assert rows[1] == {"video_index": 2, "label": 1, "pred": 1, "score": pytest.approx(1.0), "top3": [1, 0, 2]}


def test_views_seen_twice_are_an_error(tmp_path):
    cfg = toy_cfg(tmp_path)
    predictions = {"scores": SCORES[:3], "video_index": torch.tensor([0, 0, 0]), "labels": torch.zeros(3, dtype=torch.long), "failed": []}
    with pytest.raises(RuntimeError, match="not sharded exactly once"):
        evaluator.evaluate_predictions(predictions, 1, cfg)


@pytest.mark.parametrize("results_path", ["preds.json", "sub/preds.csv"])
def test_multi_view_test_end_to_end(tmp_path, results_path):
    cfg = toy_cfg(tmp_path, **{"TEST.SAVE_RESULTS_PATH": results_path})
    loader = construct_toy_loader(cfg, "test", fail_items=(5,))  # item 5 = view 1 of video 2
    stats = evaluator.test(cfg, model=ToyTwoPathway(cfg), loader=loader)
    assert (stats["num_videos"], stats["num_excluded"]) == (15, 1)
    assert stats["failed_paths"] == stats["excluded_videos"] == ["toy/video_002.mp4"]
    record = (tmp_path / "json_stats.log").read_text().strip().splitlines()[-1]
    assert record.startswith('json_stats: {"mean_class_acc": ') and '"split": "test_final"' in record
    path = tmp_path / results_path
    if results_path.endswith(".json"):
        rows = json.loads(path.read_text())
    else:
        rows = list(csv.DictReader(path.open()))
    assert len(rows) == 15 and 2 not in [int(row["video_index"]) for row in rows]
    assert set(rows[0]) == {"video_index", "path", "label", "pred", "score", "top3"}
    assert rows[0]["path"] == "toy/video_000.mp4"


def _tiny_resnet_cfg(*opts):
    from slowfast.config.loader import load_config

    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return load_config(None, os.path.join(repo, "configs", "Synthetic", "SLOWFAST_R50_tiny.yaml"), opts=[
        "DATA.TEST_CROP_SIZE", "32", "DATA.NUM_FRAMES", "8", *opts])


def test_inference_model_folds_batchnorm_and_keeps_the_logits():
    from slowfast.engine.evaluator import inference_model, input_layout
    from slowfast.models.build import build_model

    cfg = _tiny_resnet_cfg()
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    for module in model.modules():  # non-trivial statistics, so folding has something to get right
        if isinstance(module, torch.nn.BatchNorm3d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 1.5)
            module.weight.data.uniform_(0.5, 1.5)
    optimized = inference_model(model, cfg)
    assert optimized is not model
    assert not any(isinstance(m, torch.nn.BatchNorm3d) for m in optimized.modules())
    inputs = [torch.randn(2, 3, 2, 32, 32), torch.randn(2, 3, 8, 32, 32)]
    with torch.no_grad():
        expected = model(inputs)
        actual = optimized([x.contiguous(memory_format=input_layout(optimized, cfg)) for x in inputs])
    torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-4)


def test_inference_model_is_skipped_when_off_or_when_grad_cam_needs_gradients():
    from slowfast.engine.evaluator import inference_model, input_layout
    from slowfast.models.build import build_model

    model = build_model(_tiny_resnet_cfg())
    assert inference_model(model, _tiny_resnet_cfg("TEST.OPTIMIZE", "False")) is model
    grad_cam = _tiny_resnet_cfg("TENSORBOARD.ENABLE", "True", "TENSORBOARD.MODEL_VIS.ENABLE", "True")
    assert inference_model(model, grad_cam) is model
    assert input_layout(model, _tiny_resnet_cfg()) == torch.channels_last_3d  # MODEL.CHANNELS_LAST True
