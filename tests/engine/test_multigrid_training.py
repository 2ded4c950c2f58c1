"""Multigrid end to end: both cycles train a small efficient SlowFast on the synthetic motion data,
checkpoint, resume in the middle of a phase and finish exactly like the uninterrupted run."""
import pytest
import torch

from slowfast.config.defaults import get_cfg
from slowfast.config.validate import assert_and_infer_cfg
from slowfast.engine import checkpoint as cu
from slowfast.engine import multigrid
from slowfast.engine.trainer import Trainer, train
from slowfast.models.build import build_model
from slowfast.models.sub_batchnorm import SubBatchNorm3d


@pytest.fixture(scope="module")
def synthetic_root(tmp_path_factory):
    """Where the synthetic dataset of :func:`multigrid_cfg` is generated (once per module)."""
    return str(tmp_path_factory.mktemp("synthetic"))


def multigrid_cfg(root, output_dir):
    """T0 8, S0 32, B0 1: phases (8, 2, 23) (4, 4, 23) (2, 4, 32) (1, 8, 32) + fine-tune, on
    18 train / 9 val synthetic clips of 24 frames at 36x48 (about 2 s to generate)."""
    cfg = get_cfg()
    cfg.NUM_GPUS = 0
    cfg.OUTPUT_DIR = str(output_dir)
    cfg.TRAIN.DATASET = cfg.TEST.DATASET = "synthetic"
    cfg.SYNTHETIC.CACHE_DIR = root
    cfg.SYNTHETIC.CLIPS_PER_CLASS, cfg.SYNTHETIC.NUM_FRAMES, cfg.SYNTHETIC.FRAME_SIZE = [2, 1, 0], 24, [36, 48]
    cfg.DATA.NUM_FRAMES, cfg.DATA.SAMPLING_RATE = 8, 2
    cfg.DATA.TRAIN_JITTER_SCALES, cfg.DATA.TRAIN_CROP_SIZE, cfg.DATA.TEST_CROP_SIZE = [36, 40], 32, 32
    cfg.DATA_LOADER.NUM_WORKERS = 0
    cfg.MODEL.MODEL_NAME, cfg.MODEL.NUM_CLASSES = "SlowFastShuffleNetV2", 9
    cfg.SLOWFAST.WIDTH_MULTI, cfg.SLOWFAST.ALPHA = 0.25, 2
    cfg.TRAIN.BATCH_SIZE = 1
    cfg.SOLVER.LR_POLICY, cfg.SOLVER.STEPS, cfg.SOLVER.LRS = "steps_with_relative_lrs", [0, 4], [1, 0.1]
    cfg.SOLVER.MAX_EPOCH, cfg.SOLVER.BASE_LR, cfg.SOLVER.CLIP_GRAD_L2NORM = 5, 0.01, 1.0
    cfg.MULTIGRID.LONG_CYCLE = cfg.MULTIGRID.SHORT_CYCLE = True
    cfg.MULTIGRID.BN_BASE_SIZE = 2  # phase 0 (8 clips per device) uses sub-batch BN with 4 splits
    cfg.TEST.ENABLE, cfg.LOG_MODEL_INFO, cfg.LOG_PERIOD = False, False, 100
    return assert_and_infer_cfg(cfg)


class RecordingTrainer(Trainer):
    """Records per iteration (epoch, batch, fast T, crop, uses sub-BN) and can stop at an epoch."""

    stop_at_epoch = None

    def __init__(self, cfg, schedule):
        self.records, self.bn_refreshes = [], []
        super().__init__(cfg, schedule)

    def update_precise_bn(self, loader, num_batches):
        epoch = self.records[-1][0]
        inputs, *_ = next(iter(loader))
        self.bn_refreshes.append((epoch, num_batches, tuple(inputs[-1].shape[2:])))
        super().update_precise_bn(loader, num_batches)

    def on_epoch_start(self, epoch):
        if epoch == self.stop_at_epoch:
            raise KeyboardInterrupt(f"stopped before epoch {epoch}")
        super().on_epoch_start(epoch)

    def train_step(self, inputs, labels, epoch, cur_iter, boxes=None):
        fast = inputs[-1]
        sub_bn = any(isinstance(m, SubBatchNorm3d) for m in self.model.modules())
        self.records.append((epoch, fast.shape[0], fast.shape[2], fast.shape[-1], sub_bn))
        return super().train_step(inputs, labels, epoch, cur_iter, boxes)


def run(cfg, stop_at_epoch=None):
    cfg = cfg.clone()
    trainer = RecordingTrainer(cfg, multigrid.build_schedule(cfg))
    trainer.stop_at_epoch = stop_at_epoch
    try:
        trainer.fit()
    except KeyboardInterrupt:
        pass
    return trainer


def params(trainer):
    return {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}


def assert_plain_model_gives_same_eval_outputs(trainer, checkpoint):
    """A checkpoint written with sub-batch BN loads into a plain-BN model: same eval outputs."""
    assert any(isinstance(m, SubBatchNorm3d) for m in trainer.model.modules())
    plain = build_model(multigrid_cfg("unused", "unused"))
    assert not any(isinstance(m, SubBatchNorm3d) for m in plain.modules())
    plain.load_state_dict(cu.read_checkpoint(checkpoint)["model_state"])
    trainer.model.eval(), plain.eval()
    generator = torch.Generator().manual_seed(0)
    inputs = [torch.randn(3, 3, 4, 32, 32, generator=generator), torch.randn(3, 3, 8, 32, 32, generator=generator)]
    with torch.no_grad():
        assert torch.equal(trainer.model(inputs), plain(inputs))


def test_schedule_of_the_small_run():
    cfg = multigrid_cfg("unused", "unused")
    phases = multigrid.build_schedule(cfg).phases
    assert [(p.batch_factor, p.num_frames, p.crop_size, p.end_epoch) for p in phases] == [
        (8, 2, 23, 3), (4, 4, 23, 5), (2, 4, 32, 6), (1, 8, 32, 7), (1, 8, 32, 8)]
    assert cfg.SOLVER.MAX_EPOCH == 8


def test_both_cycles_train_checkpoint_resume_mid_phase_and_finish(synthetic_root, tmp_path):
    cfg = multigrid_cfg(synthetic_root, tmp_path / "uninterrupted")
    full = run(cfg)
    # Short cycle in phase 0 (B 8, T 2, S 23): 18 clips give one (16 clips, crop 16) batch.
    # Phase 1 (B 4, T 4, S 23): 8@16, 4@23, 4@23 (the second short-cycle crop is the phase's).
    # Sub-batch BN while the per-device batch is above BN_BASE_SIZE 2 (phases 0 and 1).
    by_epoch = {}
    for epoch, batch, frames, crop, sub_bn in full.records:
        by_epoch.setdefault(epoch, []).append((batch, frames, crop, sub_bn))
    assert by_epoch[0] == [(16, 2, 16, True)]
    assert by_epoch[3] == [(8, 4, 16, True), (4, 4, 23, True), (4, 4, 23, True)]
    assert by_epoch[5][:3] == [(8, 4, 16, False), (4, 4, 23, False), (2, 4, 32, False)]
    assert by_epoch[7][:3] == [(4, 8, 16, False), (2, 8, 23, False), (1, 8, 32, False)]
    assert sorted(by_epoch) == list(range(8))
    # Validation ran at the default shape (B 1, T 8, S 32) in every phase: its loader, built in
    # phase 0, was never rebuilt.
    val_inputs, *_ = next(iter(full.val_loader))
    assert full.val_loader.batch_size == 1 and val_inputs[-1].shape[2:] == (8, 32, 32)
    # Before validating in phases 0-2 (not of the default shape), BN statistics were recomputed
    # over default-shape training batches; not in phase 3 and the fine-tune phase.
    assert full.bn_refreshes == [(epoch, 10, (8, 32, 32)) for epoch in (0, 2, 3, 4, 5)]
    saved = [path.rsplit("_", 1)[1] for path in cu.list_checkpoints(str(tmp_path / "uninterrupted"))]
    assert saved == ["00001.pyth", "00003.pyth", "00004.pyth", "00005.pyth", "00006.pyth", "00007.pyth", "00008.pyth"]

    # Stop before epoch 2 (the middle of phase 0, after the epoch-1 checkpoint), resume, finish.
    resumed_dir = tmp_path / "resumed"
    first = run(multigrid_cfg(synthetic_root, resumed_dir), stop_at_epoch=1)
    assert [r[0] for r in first.records] == [0]
    assert_plain_model_gives_same_eval_outputs(first, cu.get_last_checkpoint(str(resumed_dir)))
    second = run(multigrid_cfg(synthetic_root, resumed_dir))
    assert second.start_epoch == 1 and second.records[0] == (1, 16, 2, 16, True)
    assert second.records == [r for r in full.records if r[0] >= 1]
    for name, value in params(full).items():  # bit for bit: resuming replays the same arithmetic
        assert torch.equal(params(second)[name], value), name


def test_train_entry_point_builds_the_schedule_logs_it_and_keeps_the_callers_cfg(tmp_path, monkeypatch):
    seen = {}

    def fake_fit(trainer):
        seen["max_epoch"], seen["schedule"] = trainer.max_epoch, trainer.schedule
        return {"_type": "val_epoch"}

    monkeypatch.setattr(Trainer, "fit", fake_fit)
    cfg = multigrid_cfg("unused", tmp_path)
    assert train(cfg) == {"_type": "val_epoch"}
    assert seen["max_epoch"] == 8 and [p.end_epoch for p in seen["schedule"].phases] == [3, 5, 6, 7, 8]
    assert cfg.SOLVER.MAX_EPOCH == 5 and cfg.MULTIGRID.BASE_MAX_EPOCH == 0  # train() worked on a copy
    log = (tmp_path / "stdout.log").read_text()
    assert "Multigrid schedule: 8 epochs" in log and "short cycle batch@crop" in log
