"""Checkpoints: format, atomic rank-0 saving, safe loading, loud key mismatches."""
import logging
import os

import pytest
import torch

from slowfast.engine import checkpoint as cu
from slowfast.engine import optim
from tests.engine.toy import ToyTwoPathway, ToyTwoPathwayBN, toy_cfg


@pytest.fixture
def cfg(tmp_path):
    return toy_cfg(tmp_path)


def trained_pair(cfg):
    """A model and an optimizer with momentum state after one step."""
    torch.manual_seed(0)
    model = ToyTwoPathway(cfg)
    optimizer = optim.construct_optimizer(model, cfg)
    inputs = [torch.rand(2, 3, 2, 8, 8), torch.rand(2, 3, 4, 8, 8)]
    model(inputs).sum().backward()
    optimizer.step()
    return model, optimizer


def test_save_format_names_and_roundtrip(cfg):
    model, optimizer = trained_pair(cfg)
    path = cu.save_checkpoint(cfg.OUTPUT_DIR, model, optimizer, epoch=4, cfg=cfg)
    assert path == os.path.join(cfg.OUTPUT_DIR, "checkpoints", "checkpoint_epoch_00005.pyth")
    assert os.listdir(os.path.dirname(path)) == ["checkpoint_epoch_00005.pyth"]  # no temp file left
    raw = torch.load(path, weights_only=True)
    assert set(raw) == {"epoch", "model_state", "optimizer_state", "scaler_state", "cfg"}
    assert raw["epoch"] == 4 and "OUTPUT_DIR" in raw["cfg"]

    torch.manual_seed(1)
    fresh = ToyTwoPathway(cfg)
    fresh_optimizer = optim.construct_optimizer(fresh, cfg)
    assert cu.load_checkpoint(path, fresh, fresh_optimizer) == 4
    for key, value in model.state_dict().items():
        assert torch.equal(fresh.state_dict()[key], value)
    momentum = [s["momentum_buffer"] for s in fresh_optimizer.state_dict()["state"].values()]
    expected = [s["momentum_buffer"] for s in optimizer.state_dict()["state"].values()]
    assert all(torch.equal(a, b) for a, b in zip(momentum, expected)) and len(momentum) == 6


def test_newest_checkpoint_is_by_epoch_number(cfg):
    model, optimizer = trained_pair(cfg)
    for epoch in (8, 9, 99999):  # 99999 -> file epoch 100000 (six digits)
        cu.save_checkpoint(cfg.OUTPUT_DIR, model, optimizer, epoch, cfg)
    assert cu.get_last_checkpoint(cfg.OUTPUT_DIR).endswith("checkpoint_epoch_100000.pyth")
    assert cu.get_last_checkpoint(str(cfg.OUTPUT_DIR) + "/nothing") is None


class CreatesFileWhenUnpickled:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickled_object_is_refused_and_never_runs(cfg, tmp_path):
    marker = tmp_path / "pwned"
    path = str(tmp_path / "evil.pyth")
    torch.save({"model_state": {}, "payload": CreatesFileWhenUnpickled(str(marker))}, path)
    assert not marker.exists()
    with pytest.raises(cu.CheckpointError, match=r"refusing to load checkpoint .*evil\.pyth.*pickled"):
        cu.load_checkpoint(path, ToyTwoPathway(cfg))
    assert not marker.exists()


def test_damaged_file_names_the_path(cfg, tmp_path):
    model, optimizer = trained_pair(cfg)
    path = cu.save_checkpoint(cfg.OUTPUT_DIR, model, optimizer, 0, cfg)
    data = open(path, "rb").read()
    with open(path, "wb") as damaged:
        damaged.write(data[: len(data) // 2])
    with pytest.raises(cu.CheckpointError, match=r"cannot read checkpoint .*checkpoint_epoch_00001\.pyth"):
        cu.load_checkpoint(path, model)
    with pytest.raises(FileNotFoundError, match="missing.pyth"):
        cu.read_checkpoint(str(tmp_path / "missing.pyth"))


def test_public_slowfast_layout_with_module_prefix_loads(cfg, tmp_path):
    model, _ = trained_pair(cfg)
    state = {"module." + k: v for k, v in model.state_dict().items()}
    path = str(tmp_path / "SLOWFAST_8x8_R50.pyth")
    torch.save({"epoch": 195, "model_state": state, "optimizer_state": None, "cfg": "x: 1\n"}, path)
    fresh = ToyTwoPathway(cfg)
    assert cu.load_checkpoint(path, fresh) == 195
    assert all(torch.equal(fresh.state_dict()[k], v) for k, v in model.state_dict().items())
    assert cu.load_checkpoint(path, fresh, epoch_reset=True) == -1


def test_shape_mismatch_is_listed_loudly_or_raises(cfg, tmp_path, caplog):
    model, _ = trained_pair(cfg)
    path = str(tmp_path / "k400.pyth")
    torch.save({"epoch": 3, "model_state": model.state_dict()}, path)
    cfg.MODEL.NUM_CLASSES = 5  # a new head
    target = ToyTwoPathway(cfg)
    head_before = target.head.weight.detach().clone()
    with pytest.raises(cu.CheckpointError, match=r"head\.weight: checkpoint \(3, 6\) vs model \(5, 6\)"):
        cu.load_checkpoint(path, target, allow_shape_mismatch=False)
    with caplog.at_level(logging.WARNING, logger="slowfast"):
        cu.load_checkpoint(path, target, allow_shape_mismatch=True)
    assert "head.weight: checkpoint (3, 6) vs model (5, 6)" in caplog.text
    assert "head.bias" in caplog.text
    assert torch.equal(target.head.weight, head_before)
    assert torch.equal(target.slow.weight, model.slow.weight)


def test_missing_and_unexpected_keys_are_listed(cfg, tmp_path, caplog):
    model, _ = trained_pair(cfg)
    path = str(tmp_path / "plain.pyth")
    state = dict(model.state_dict(), extra_branch_weight=torch.zeros(1))
    torch.save({"model_state": state}, path)
    target = ToyTwoPathwayBN(cfg)
    with caplog.at_level(logging.WARNING, logger="slowfast"):
        cu.load_checkpoint(path, target)
    assert "extra_branch_weight" in caplog.text  # unexpected
    assert "fast_norm.running_mean" in caplog.text  # missing


def test_a_failed_save_leaves_the_previous_file_and_no_temp(cfg, monkeypatch):
    model, optimizer = trained_pair(cfg)
    path = cu.save_checkpoint(cfg.OUTPUT_DIR, model, optimizer, 0, cfg)
    before = open(path, "rb").read()

    def crash_mid_write(obj, handle):
        handle.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash_mid_write)
    with pytest.raises(OSError, match="disk full"):
        cu.save_checkpoint(cfg.OUTPUT_DIR, model, optimizer, 0, cfg)
    assert open(path, "rb").read() == before
    assert os.listdir(os.path.dirname(path)) == ["checkpoint_epoch_00001.pyth"]
