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
    assert set(raw) == {"epoch", "model_state", "optimizer_state", "optimizer_param_names", "scaler_state", "cfg"}
    assert raw["epoch"] == 4 and "OUTPUT_DIR" in raw["cfg"]
    assert raw["optimizer_param_names"] == cu.optimizer_param_names(model, optimizer)

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
    with pytest.raises(cu.CheckpointError, match=r"refusing to load checkpoint .*evil\.pyth.*pickled") as refused:
        cu.load_checkpoint(path, ToyTwoPathway(cfg))
    assert "a pickled Python object (io.open)" in refused.value.message  # the blocked class, named
    assert "re-save its weights once as plain tensors" in refused.value.hint  # the safe way out
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


def test_public_slowfast_layout_with_module_prefix_loads(cfg, tmp_path, caplog):
    model, optimizer = trained_pair(cfg)
    state = {"module." + k: v for k, v in model.state_dict().items()}
    path = str(tmp_path / "SLOWFAST_8x8_R50.pyth")
    torch.save({"epoch": 195, "model_state": state, "optimizer_state": optimizer.state_dict(), "cfg": "x: 1\n"}, path)
    fresh = ToyTwoPathway(cfg)
    fresh_optimizer = optim.construct_optimizer(fresh, cfg)
    assert cu.load_checkpoint(path, fresh, fresh_optimizer) == 195
    assert all(torch.equal(fresh.state_dict()[k], v) for k, v in model.state_dict().items())
    # Its optimizer groups name no parameters: the optimizer starts fresh, and says so.
    assert fresh_optimizer.state_dict()["state"] == {}
    assert "optimizer starts fresh: the checkpoint does not name the parameters" in caplog.text
    assert f"loaded 6/6 tensors from {path} (pytorch)" in caplog.text
    assert cu.load_checkpoint(path, fresh, epoch_reset=True) == -1


def test_public_slowfast_optimizer_groups_do_not_break_fine_tuning(cfg, tmp_path, caplog):
    """Public SlowFast groups parameters by another rule (and names none): a fresh optimizer, no crash."""
    model, _ = trained_pair(cfg)
    theirs = torch.optim.SGD([{"params": [model.slow.weight]}, {"params": [p for n, p in model.named_parameters()
                                                                          if n != "slow.weight"]}], lr=0.1, momentum=0.9)
    model(([torch.rand(2, 3, 2, 8, 8), torch.rand(2, 3, 4, 8, 8)])).sum().backward()
    theirs.step()
    path = str(tmp_path / "SLOWFAST_8x8_R50.pyth")
    torch.save({"epoch": 195, "model_state": model.state_dict(), "optimizer_state": theirs.state_dict(), "cfg": ""}, path)
    fresh = ToyTwoPathway(cfg)
    ours = optim.construct_optimizer(fresh, cfg)
    assert cu.load_checkpoint(path, fresh, ours, cfg=cfg, purpose="finetune") == 195
    assert ours.state_dict()["state"] == {} and "optimizer starts fresh" in caplog.text


def test_resuming_a_run_saved_before_parameter_names_restores_its_optimizer(cfg, caplog):
    model, optimizer = trained_pair(cfg)
    path = cu.save_checkpoint(cfg.OUTPUT_DIR, model, optimizer, 0, cfg)
    legacy = torch.load(path, weights_only=True)
    del legacy["optimizer_param_names"]
    torch.save(legacy, path)
    fresh = ToyTwoPathway(cfg)
    fresh_optimizer = optim.construct_optimizer(fresh, cfg)
    cu.load_checkpoint(path, fresh, fresh_optimizer, cfg=cfg, purpose="resume")
    assert fresh_optimizer.state_dict()["state"].keys() == optimizer.state_dict()["state"].keys()
    assert "restored the optimizer state" in caplog.text
    fine_tuned = optim.construct_optimizer(fresh, cfg)  # the same file as fine-tuning weights: names needed
    cu.load_checkpoint(path, fresh, fine_tuned, cfg=cfg, purpose="finetune")
    assert fine_tuned.state_dict()["state"] == {}


def test_optimizer_groups_of_other_parameters_start_fresh(cfg, tmp_path, caplog):
    model, optimizer = trained_pair(cfg)
    path = cu.save_checkpoint(cfg.OUTPUT_DIR, model, optimizer, 0, cfg)
    fresh = ToyTwoPathway(cfg)
    reordered = torch.optim.SGD(list(fresh.parameters())[::-1], lr=0.1, momentum=0.9)  # same sizes, other order
    cu.load_checkpoint(path, fresh, reordered)
    assert reordered.state_dict()["state"] == {}
    assert "optimizer starts fresh: its optimizer groups hold other parameters" in caplog.text


def test_shape_mismatch_is_refused_or_listed_loudly(cfg, tmp_path, caplog):
    model, _ = trained_pair(cfg)
    path = str(tmp_path / "k400.pyth")
    torch.save({"epoch": 3, "model_state": model.state_dict(), "cfg": cfg.dump()}, path)
    trained_classes = cfg.MODEL.NUM_CLASSES
    cfg.MODEL.NUM_CLASSES = 5  # a new head
    target = ToyTwoPathway(cfg)
    head_before = target.head.weight.detach().clone()
    with pytest.raises(cu.CheckpointError) as refused:
        cu.load_checkpoint(path, target, cfg=cfg)
    error = refused.value
    assert error.message == f"checkpoint {path} does not fit the model: loaded 4/6 tensors (pytorch)"
    assert error.details[0] == f"checkpoint: ToyTwoPathway, {trained_classes} classes; config: 5 classes"
    assert error.details[1] == "2 tensors with other shapes: head.weight: checkpoint (3, 6) vs model (5, 6)"
    assert "ALLOW_SHAPE_MISMATCH" not in str(error)  # the escape hatch is for fine-tuning only
    with caplog.at_level(logging.WARNING, logger="slowfast"):
        cu.load_checkpoint(path, target, allow_shape_mismatch=True)
    assert "head.weight: checkpoint (3, 6) vs model (5, 6)" in caplog.text
    assert "head.bias" in caplog.text
    assert torch.equal(target.head.weight, head_before)
    assert torch.equal(target.slow.weight, model.slow.weight)


def test_fine_tuning_starts_a_new_head_only(cfg, tmp_path, caplog):
    model, _ = trained_pair(cfg)
    path = str(tmp_path / "k400.pyth")
    torch.save({"epoch": 3, "model_state": model.state_dict()}, path)
    cfg.MODEL.NUM_CLASSES = 5
    target = ToyTwoPathway(cfg)
    assert cu.load_checkpoint(path, target, cfg=cfg, purpose="finetune") == 3
    assert "re-initialised head.weight: checkpoint (3, 6) vs model (5, 6), head.bias" in caplog.text
    assert torch.equal(target.slow.weight, model.slow.weight)
    # Any other gap is an error, and only here is the escape hatch suggested.
    wider = ToyTwoPathwayBN(cfg)
    with pytest.raises(cu.CheckpointError) as refused:
        cu.load_checkpoint(path, wider, cfg=cfg, purpose="finetune")
    assert "TRAIN.CHECKPOINT_ALLOW_SHAPE_MISMATCH True" in refused.value.hint
    assert any("model tensors not in the checkpoint: fast_norm." in line for line in refused.value.details)


def test_missing_and_unexpected_keys_are_named(cfg, tmp_path, caplog):
    model, _ = trained_pair(cfg)
    path = str(tmp_path / "plain.pyth")
    state = dict(model.state_dict(), extra_branch_weight=torch.zeros(1))
    torch.save({"model_state": state}, path)
    target = ToyTwoPathwayBN(cfg)
    with pytest.raises(cu.CheckpointError) as refused:
        cu.load_checkpoint(path, target)
    text = str(refused.value)
    assert "extra_branch_weight" in text  # unexpected
    assert "fast_norm.running_mean" in text  # missing
    assert "num_batches_tracked" not in text  # counters are not weights
    with caplog.at_level(logging.WARNING, logger="slowfast"):
        cu.load_checkpoint(path, target, allow_shape_mismatch=True)
    assert "extra_branch_weight" in caplog.text and "fast_norm.running_mean" in caplog.text


def test_inference_without_any_checkpoint_is_refused_unless_allowed(cfg):
    model = ToyTwoPathway(cfg)
    with pytest.raises(cu.CheckpointError, match="no checkpoint for the demo") as refused:
        cu.load_inference_weights(model, cfg, what="the demo")
    assert "TEST.ALLOW_RANDOM_INIT True" in refused.value.hint
    cfg.TEST.ALLOW_RANDOM_INIT = True
    assert cu.load_inference_weights(model, cfg) is None


def test_inference_falls_back_to_the_training_checkpoint(cfg, tmp_path):
    model, optimizer = trained_pair(cfg)
    path = str(tmp_path / "finetuned_from.pyth")
    torch.save({"model_state": model.state_dict()}, path)
    cfg.TRAIN.CHECKPOINT_FILE_PATH = path  # TEST.CHECKPOINT_FILE_PATH empty, nothing in OUTPUT_DIR
    fresh = ToyTwoPathway(cfg)
    assert cu.load_inference_weights(fresh, cfg) == path
    assert torch.equal(fresh.slow.weight, model.slow.weight)


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


def test_architecture_summary_of_another_width_and_class_count():
    """The README's demo command with the first run's checkpoint: one line instead of 587 mismatches."""
    from slowfast.config.loader import load_config
    from tests.tools.tool_loader import REPO

    trained = load_config(path_to_config=os.path.join(REPO, "configs", "Synthetic", "SLOWFAST_SHUFFLENETV2_tiny.yaml"))
    demo = load_config(path_to_config=os.path.join(
        REPO, "demo", "Jester", "SLOWFAST_SHUFFLENETV2_8x8_R50_stepwise_multigrid.yaml"))
    assert cu.describe_architecture({"cfg": trained.dump()}, demo) == \
        "checkpoint: SlowFastShuffleNetV2 W0.5, 9 classes; config: W2.0, 27 classes"
    assert cu.describe_architecture({"cfg": trained.dump()}, trained) == \
        "checkpoint: SlowFastShuffleNetV2 W0.5, 9 classes; config: the same"
    assert cu.describe_architecture({}, demo) is None
