"""The multi-label engine: AVA detection training and evaluation (boxes into the model, BCE, mAP
from all processes' boxes, the detections CSV) and Charades multi-view testing (max over views)."""
import csv
import json
import math
import os

import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from slowfast.datasets.loader import collate
from slowfast.engine import ava_metrics
from slowfast.engine import distributed as du
from slowfast.engine import multilabel
from slowfast.engine.trainer import Trainer
from slowfast.models.build import build_model
from tests.engine import toy_ava


@pytest.fixture
def restore_ava_files(monkeypatch):
    """``toy_ava.use_annotations`` replaces ``ava_metrics.ava_files``; put it back afterwards."""
    monkeypatch.setattr(ava_metrics, "ava_files", ava_metrics.ava_files)


def csv_rows(path):
    with open(path) as f:
        return sorted(tuple(row) for row in csv.reader(f))


def test_bce_loss_and_multilabel_hits():
    logits = torch.tensor([[2.0, -1.0, 0.5], [0.0, 3.0, -2.0]])
    labels = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    expected = torch.nn.functional.binary_cross_entropy(torch.sigmoid(logits), labels)
    assert multilabel.bce_with_logits(logits, labels).item() == pytest.approx(expected.item(), rel=1e-6)
    empty = torch.zeros(0, 3, requires_grad=True)
    assert multilabel.bce_with_logits(empty, torch.zeros(0, 3)).item() == 0.0
    top1, top2 = multilabel.multilabel_topks_correct(logits, labels, (1, 2))
    assert (top1.item(), top2.item()) == (1.0, 1.0)  # row 2: best class 1 is negative, top-2 misses class 2 too
    top3 = multilabel.multilabel_topks_correct(logits, labels, (3,))[0]
    assert top3.item() == 2.0


def test_two_process_evaluation_gives_the_same_map(tmp_path, restore_ava_files):
    torch.manual_seed(0)
    outputs = {}
    for processes in (1, 2):  # 1: in this process; 2: two spawned gloo processes
        cfg = toy_ava.toy_ava_cfg(tmp_path / f"p{processes}", DIST_CPU_PROCESSES=processes)
        os.makedirs(cfg.OUTPUT_DIR)
        if processes == 1:
            state = build_model(cfg).state_dict()
        torch.save(state, os.path.join(cfg.OUTPUT_DIR, "model.pt"))
        if processes == 1:
            toy_ava.evaluate_saved_model(cfg)
        else:
            du.launch_job(cfg, f"file://{tmp_path}/rendezvous", toy_ava.evaluate_saved_model)
        outputs[processes] = torch.load(os.path.join(cfg.OUTPUT_DIR, "stats.pt"), weights_only=False)
        outputs[processes]["rows"] = csv_rows(multilabel.detections_csv_path(cfg, "test"))
    one, two = outputs[1], outputs[2]
    assert one["num_boxes"] == two["num_boxes"] == 24  # 12 keyframes with 1, 2, 3 boxes
    assert 0.0 < one["map"] <= 1.0
    assert two["map"] == pytest.approx(one["map"], abs=1e-12)
    assert two["per_class_ap"] == pytest.approx(one["per_class_ap"], abs=1e-12)
    assert sorted(one["per_class_ap"]) == ["action 1", "action 2", "action 4"]  # the label map's classes
    assert len(one["rows"]) == 24 * 3  # one row per box and evaluated class
    assert [r[:7] for r in two["rows"]] == [r[:7] for r in one["rows"]]


class ToyAVATrainer(Trainer):
    """The real Trainer on :mod:`tests.engine.toy_ava` loaders."""

    def construct_loader(self, split, cfg=None):
        return toy_ava.toy_loader(batch_size=2)

    def shuffle_loader(self, loader, epoch):
        pass


def test_detection_training_passes_boxes_and_validates_map(tmp_path, restore_ava_files):
    torch.manual_seed(0)
    toy_ava.use_annotations(str(tmp_path / "annotations"))
    cfg = toy_ava.toy_ava_cfg(tmp_path, **{"SOLVER.MAX_EPOCH": 6, "SOLVER.BASE_LR": 0.2, "TRAIN.EVAL_PERIOD": 3,
                                           "TRAIN.CHECKPOINT_PERIOD": 6, "LOG_PERIOD": 100})
    trainer = ToyAVATrainer(cfg)
    final = trainer.fit()
    records = [json.loads(line.split("json_stats: ", 1)[1]) for line in open(tmp_path / "json_stats.log")]
    train = [r for r in records if r.get("_type") == "train_epoch"]
    val = [r for r in records if r.get("_type") == "val_epoch"]
    assert len(val) == 2 and all(0.0 <= r["map"] <= 1.0 for r in val)
    assert final["map"] == pytest.approx(val[-1]["map"], abs=1e-6)
    assert set(final["per_class_ap"]) == {"action 1", "action 2", "action 4"}
    losses = [r["loss"] for r in train]
    assert all(math.isfinite(v) for v in losses) and losses[-1] < losses[0]
    rows = csv_rows(multilabel.detections_csv_path(cfg, "val"))
    assert len(rows) == 24 * 3 and {r[0] for r in rows} == set(toy_ava.VIDEOS)


# ---------------------------------------------------------------------------- #
# Charades: views aggregated by max, then mAP over classes with positives
# ---------------------------------------------------------------------------- #
class ViewLogits(torch.nn.Module):
    """Returns the logits stored in the clip: ``inputs[0][:, :, 0, 0, 0]``."""

    def __init__(self):
        super().__init__()
        self.unused = torch.nn.Linear(1, 1)  # a parameter, so device lookups work

    def forward(self, inputs):
        return inputs[0][:, :, 0, 0, 0]


class TwoVideos(Dataset):
    """2 videos x 2 views; view logits chosen so that max and sum aggregation rank differently."""

    num_videos = 2
    logits = [[2.0, 0.0], [-5.0, 3.0], [0.0, -1.0], [1.0, 1.0]]
    labels = [[1.0, 0.0], [0.0, 1.0]]

    def __len__(self):
        return 4

    def __getitem__(self, index):
        clip = torch.tensor(self.logits[index]).view(2, 1, 1, 1)
        return [clip], torch.tensor(self.labels[index // 2]), index // 2, {"view_index": index % 2}


@pytest.mark.parametrize("method,expected", [("max", 0.75), ("sum", 0.5)])
def test_charades_views_aggregated_then_map(tmp_path, method, expected):
    """max: video 0 = sigmoid([2, 3]), video 1 = sigmoid([1, 1]): class 0 AP 1, class 1 AP 1/2.
    sum: class 0 ranks video 1 first (0.50 + 0.73 > 0.88 + 0.01): AP 1/2; class 1 AP 1/2."""
    cfg = toy_ava.toy_ava_cfg(tmp_path, **{
        "DETECTION.ENABLE": False, "MODEL.NUM_CLASSES": 2, "TEST.NUM_ENSEMBLE_VIEWS": 2,
        "TEST.NUM_SPATIAL_CROPS": 1, "TEST.ENSEMBLE_METHOD": method,
    })
    assert multilabel.task(cfg) == "multilabel"
    loader = DataLoader(TwoVideos(), batch_size=3, collate_fn=collate)
    stats, scores = multilabel.test_videos(ViewLogits(), loader, cfg, torch.device("cpu"))
    assert stats["map"] == pytest.approx(expected)
    assert stats["num_videos"] == 2
    if method == "max":
        assert torch.allclose(scores, torch.sigmoid(torch.tensor([[2.0, 3.0], [1.0, 1.0]])))
