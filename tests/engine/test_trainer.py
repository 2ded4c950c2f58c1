"""The Trainer on a toy model: exact resume, NaN stop, fine-tuning, AMP, precise BN, schedule hooks."""
import json
import logging
import os
import sys
import types

import pytest
import torch

from slowfast.engine import checkpoint as cu
from slowfast.engine.trainer import NonFiniteLossError
from tests.engine.toy import ToyTrainer, construct_toy_loader, toy_cfg


def make_trainer(cfg, noise=0.0, hooks=(), fail_items=()):
    trainer = ToyTrainer(cfg)
    trainer.noise, trainer.hooks, trainer.fail_items = noise, hooks, fail_items
    return trainer


def records(output_dir, kind):
    lines = open(os.path.join(output_dir, "json_stats.log")).read().splitlines()
    parsed = [json.loads(line[len("json_stats: "):]) for line in lines]
    return [record for record in parsed if record.get("_type") == kind]


def crash_at(epoch_to_crash):
    def hook(trainer, epoch):
        if epoch == epoch_to_crash:
            raise KeyboardInterrupt("simulated kill")
    return hook


def test_trains_logs_and_checkpoints(tmp_path):
    cfg = toy_cfg(tmp_path)
    val = make_trainer(cfg).fit()
    train_epochs = records(tmp_path, "train_epoch")
    assert [r["epoch"] for r in train_epochs] == ["1/3", "2/3", "3/3"]
    assert train_epochs[-1]["loss"] < train_epochs[0]["loss"]
    assert [r["iter"] for r in records(tmp_path, "train_iter_")] == ["2/4", "4/4"] * 3
    assert val["_type"] == "val_epoch" and len(records(tmp_path, "val_epoch")) == 3
    assert [os.path.basename(p) for p in cu.list_checkpoints(str(tmp_path))] == [
        f"checkpoint_epoch_0000{i}.pyth" for i in (1, 2, 3)]
    assert "training from scratch" in (tmp_path / "stdout.log").read_text()


def test_auto_resume_equals_uninterrupted_run(tmp_path):
    """Killed at the start of epoch 2 and restarted: bitwise the same weights (noise augmentation on)."""
    whole = toy_cfg(tmp_path / "whole", **{"TRAIN.CHECKPOINT_PERIOD": 5})
    uninterrupted = make_trainer(whole, noise=0.1)
    uninterrupted.fit()

    resumed_cfg = toy_cfg(tmp_path / "resumed")
    with pytest.raises(KeyboardInterrupt):
        make_trainer(resumed_cfg, noise=0.1, hooks=(crash_at(1),)).fit()
    assert [os.path.basename(p) for p in cu.list_checkpoints(resumed_cfg.OUTPUT_DIR)] == ["checkpoint_epoch_00001.pyth"]
    restarted = make_trainer(resumed_cfg, noise=0.1)
    assert restarted.start_epoch == 1
    restarted.fit()

    final = uninterrupted.model.state_dict()
    for key, value in restarted.model.state_dict().items():
        assert torch.equal(value, final[key]), key


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
    def poison(trainer, epoch):
        if epoch == 1:
            with torch.no_grad():
                trainer.model.head.bias.fill_(float("nan"))

    cfg = toy_cfg(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        make_trainer(cfg, hooks=(crash_at(1),)).fit()
    good = cu.get_last_checkpoint(cfg.OUTPUT_DIR)
    good_bytes = open(good, "rb").read()
    with pytest.raises(NonFiniteLossError, match=r"training loss is nan at epoch 2 iteration 1 .*checkpoint_epoch_00001"):
        make_trainer(cfg, hooks=(poison,)).fit()
    assert cu.list_checkpoints(cfg.OUTPUT_DIR) == [good]
    assert open(good, "rb").read() == good_bytes


def test_fine_tune_new_head_lists_mismatch(tmp_path, caplog):
    source = toy_cfg(tmp_path / "source", **{"SOLVER.MAX_EPOCH": 1})
    make_trainer(source).fit()
    weights = cu.get_last_checkpoint(source.OUTPUT_DIR)

    cfg = toy_cfg(tmp_path / "target", **{"MODEL.NUM_CLASSES": 4, "TRAIN.CHECKPOINT_FILE_PATH": weights,
                                          "TRAIN.CHECKPOINT_EPOCH_RESET": True, "SOLVER.MAX_EPOCH": 1})
    assert not cfg.TRAIN.CHECKPOINT_ALLOW_SHAPE_MISMATCH  # a new head needs no escape hatch
    with caplog.at_level(logging.WARNING, logger="slowfast"):
        trainer = make_trainer(cfg)
    assert trainer.start_epoch == 0
    assert "re-initialised head.weight: checkpoint (3, 6) vs model (4, 6)" in caplog.text
    source_state = torch.load(weights, weights_only=True)["model_state"]
    assert torch.equal(trainer.model.slow.weight, source_state["slow.weight"])

    # Any other gap (here: a model with one more norm layer) is an error unless explicitly allowed.
    cfg.MODEL.MODEL_NAME = "ToyTwoPathwayBN"
    with pytest.raises(cu.CheckpointError, match="fast_norm"):
        make_trainer(cfg)
    cfg.TRAIN.CHECKPOINT_ALLOW_SHAPE_MISMATCH = True
    assert make_trainer(cfg).start_epoch == 0


def test_bf16_autocast_on_cpu(tmp_path):
    cfg = toy_cfg(tmp_path, **{"TRAIN.MIXED_PRECISION": True, "SOLVER.MAX_EPOCH": 1})
    trainer = make_trainer(cfg)
    dtypes = []
    trainer.model.slow.register_forward_hook(lambda module, inputs, output: dtypes.append(output.dtype))
    trainer.fit()
    assert dtypes[0] == torch.bfloat16  # training under autocast
    assert dtypes[-1] == torch.float32  # validation runs in full precision
    assert not trainer.scaler.is_enabled()
    assert trainer.model.slow.weight.dtype == torch.float32


def test_precise_bn_uses_training_batches(tmp_path):
    cfg = toy_cfg(tmp_path, **{"MODEL.MODEL_NAME": "ToyTwoPathwayBN", "BN.USE_PRECISE_STATS": True,
                               "BN.NUM_BATCHES_PRECISE": 2, "SOLVER.MAX_EPOCH": 1})
    trainer = make_trainer(cfg)
    trainer.fit()
    loader = construct_toy_loader(cfg, "train")
    loader.sampler.set_epoch(0)
    batches = [batch[0][1] for _, batch in zip(range(2), loader)]
    with torch.no_grad():
        means = [trainer.model.fast(fast).mean(dim=(0, 2, 3, 4)) for fast in batches]
    assert torch.allclose(trainer.model.fast_norm.running_mean, torch.stack(means).mean(0), atol=1e-6)


def test_tensorboard_and_decode_failures(tmp_path, monkeypatch, caplog):
    calls = []

    class FakeWriter:
        def __init__(self, cfg):
            calls.append(("init", cfg.OUTPUT_DIR))

        def add_scalars(self, scalars, global_step):
            calls.extend(("scalar", tag) for tag in scalars)

        def plot_eval(self, preds, labels, global_step):
            calls.append(("plot_eval", tuple(preds.shape)))

        def close(self):
            calls.append(("close",))

    monkeypatch.setitem(sys.modules, "slowfast.visualization.tensorboard", types.SimpleNamespace(TensorboardWriter=FakeWriter))
    cfg = toy_cfg(tmp_path, **{"TENSORBOARD.ENABLE": True, "SOLVER.MAX_EPOCH": 1})
    with caplog.at_level(logging.WARNING, logger="slowfast"):
        make_trainer(cfg, fail_items=(3,)).fit()
    tags = {call[1] for call in calls if call[0] == "scalar"}
    assert {"Train/loss", "Train/lr", "Train/Top1_err", "Val/Top1_err"} <= tags
    assert ("plot_eval", (15, 3)) in calls  # val lost the failed clip too and calls[-1] == ("close",)
    assert records(tmp_path, "train_epoch")[0]["num_failed"] == 1
    assert "1 clips failed to decode" in caplog.text and "toy/video_003.mp4" in caplog.text


class HalvingSchedule:
    """Epoch 1 onwards: half the global batch and half the LR; validate only at the end."""

    def __init__(self):
        self.rebuilds = []

    def update_shape(self, cfg, epoch):
        if epoch == 1 and cfg.TRAIN.BATCH_SIZE == 4:
            cfg.TRAIN.BATCH_SIZE = 2
            return True
        return False

    def lr_factor(self, epoch_float):
        return 0.5 if epoch_float >= 1 else 1.0

    def is_eval_epoch(self, epoch):
        return epoch == 2

    def is_checkpoint_epoch(self, epoch):
        return epoch == 2


def test_schedule_changes_shape_keeps_optimizer_state(tmp_path):
    cfg = toy_cfg(tmp_path, **{"SOLVER.LR_POLICY": "constant"})
    trainer = ToyTrainer(cfg, schedule=HalvingSchedule())
    trainer.on_epoch_start(0)
    trainer.train_epoch(0)
    momentum_before = [s["momentum_buffer"].clone() for s in trainer.optimizer.state_dict()["state"].values()]
    weights_before = trainer.model.slow.weight.detach().clone()
    trainer.on_epoch_start(1)
    assert trainer.train_loader.batch_size == 2
    momentum_after = [s["momentum_buffer"] for s in trainer.optimizer.state_dict()["state"].values()]
    assert all(torch.equal(a, b) for a, b in zip(momentum_before, momentum_after)) and momentum_after
    assert torch.equal(trainer.model.slow.weight, weights_before)
    assert trainer.optimizer.param_groups[0]["params"][0] is next(trainer.model.parameters())
    trainer.train_epoch(1)
    trainer.on_epoch_end(1)
    trainer.on_epoch_start(2)
    trainer.train_epoch(2)
    trainer.on_epoch_end(2)
    assert [r["iter"] for r in records(tmp_path, "train_iter_")][-1] == "8/8"
    assert records(tmp_path, "train_iter_")[-1]["lr"] == 0.05
    assert len(records(tmp_path, "val_epoch")) == 1
    assert [os.path.basename(p) for p in cu.list_checkpoints(cfg.OUTPUT_DIR)] == ["checkpoint_epoch_00003.pyth"]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_fp16_autocast_with_grad_scaler_on_cuda(tmp_path):
    cfg = toy_cfg(tmp_path, **{"NUM_GPUS": 1, "TRAIN.MIXED_PRECISION": True, "SOLVER.MAX_EPOCH": 1})
    trainer = make_trainer(cfg)
    dtypes = []
    trainer.model.slow.register_forward_hook(lambda module, inputs, output: dtypes.append(output.dtype))
    trainer.fit()
    assert dtypes[0] == torch.float16 and trainer.scaler.is_enabled()
    saved = torch.load(cu.get_last_checkpoint(cfg.OUTPUT_DIR), weights_only=True)
    assert saved["scaler_state"]["scale"] > 0


def test_progress_bar_only_on_a_terminal(tmp_path, monkeypatch):
    trainer = make_trainer(toy_cfg(tmp_path))
    loader = construct_toy_loader(trainer.cfg, "train")
    monkeypatch.setattr(sys.stdout, "isatty", lambda: False, raising=False)
    assert trainer.progress(loader, 0) is loader
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    bar = trainer.progress(loader, 0)
    assert type(bar).__name__ == "tqdm" and bar.total == 4 and bar.desc == "epoch 1/3"
    bar.close()
