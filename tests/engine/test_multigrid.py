"""Long-cycle schedule: phases, epochs, shapes, LR and eval/checkpoint epochs as pure functions of cfg."""
import os

import pytest

from slowfast.config.defaults import get_cfg
from slowfast.config.loader import load_config
from slowfast.engine import multigrid, optim

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KINETICS_MULTIGRID_YAML = os.path.join(REPO, "configs", "Kinetics", "SLOWFAST_8x8_R50_stepwise_multigrid.yaml")

# Published algorithm (facebookresearch/SlowFast utils/multigrid.py) on that config.
BOTH_CYCLES_ENDS = [73, 110, 142, 158, 205, 228, 248, 259, 291, 308, 322, 329, 358]
LONG_CYCLE_ONLY_ENDS = [87, 130, 152, 162, 218, 245, 259, 266, 305, 324, 334, 339, 358]


def kinetics_multigrid_cfg(short_cycle=True, long_cycle=True):
    """The multigrid values of configs/Kinetics/SLOWFAST_8x8_R50_stepwise_multigrid.yaml."""
    cfg = get_cfg()
    cfg.DATA.NUM_FRAMES, cfg.DATA.SAMPLING_RATE = 32, 2
    cfg.DATA.TRAIN_CROP_SIZE, cfg.DATA.TRAIN_JITTER_SCALES = 224, [256, 320]
    cfg.SOLVER.LR_POLICY, cfg.SOLVER.BASE_LR = "steps_with_relative_lrs", 0.1
    cfg.SOLVER.LRS = [1, 0.1, 0.01, 0.001, 0.0001, 0.00001]
    cfg.SOLVER.STEPS, cfg.SOLVER.MAX_EPOCH = [0, 94, 154, 196], 239
    cfg.SOLVER.WARMUP_EPOCHS, cfg.SOLVER.WARMUP_START_LR = 34.0, 0.01
    cfg.TRAIN.BATCH_SIZE = 64
    cfg.MULTIGRID.SHORT_CYCLE, cfg.MULTIGRID.LONG_CYCLE = short_cycle, long_cycle
    return cfg


def _cfgs_under_test():
    yield pytest.param(kinetics_multigrid_cfg, id="built-from-values")
    yield pytest.param(lambda: load_config(path_to_config=KINETICS_MULTIGRID_YAML), id="config-file")


@pytest.mark.parametrize("make_cfg", _cfgs_under_test())
def test_kinetics_schedule_equals_published_algorithm(make_cfg):
    cfg = multigrid.init_multigrid(make_cfg())
    phases = multigrid.MultigridSchedule(cfg).phases
    assert [p.end_epoch for p in phases] == BOTH_CYCLES_ENDS
    assert [(p.batch_factor, p.num_frames, p.crop_size) for p in phases[:4]] == [
        (8, 8, 158), (4, 16, 158), (2, 16, 224), (1, 32, 224)]
    assert [p.lr_step for p in phases] == [0] * 4 + [1] * 4 + [2] * 4 + [3]
    assert phases[-1].finetune and (phases[-1].batch_factor, phases[-1].num_frames) == (1, 32)
    assert [p.start_epoch for p in phases[1:]] == [p.end_epoch for p in phases[:-1]]
    assert cfg.SOLVER.MAX_EPOCH == 358
    assert (cfg.MULTIGRID.DEFAULT_B, cfg.MULTIGRID.DEFAULT_T, cfg.MULTIGRID.DEFAULT_S) == (64, 32, 224)


def test_long_cycle_alone_schedule():
    cfg = multigrid.init_multigrid(kinetics_multigrid_cfg(short_cycle=False))
    assert [p.end_epoch for p in multigrid.long_cycle_schedule(cfg)] == LONG_CYCLE_ONLY_ENDS
    assert cfg.SOLVER.MAX_EPOCH == 358


def test_short_cycle_alone_rescales_epochs_and_steps():
    cfg = multigrid.init_multigrid(kinetics_multigrid_cfg(long_cycle=False))
    assert cfg.SOLVER.MAX_EPOCH == 358 and list(cfg.SOLVER.STEPS) == [0, 141, 231, 294]


def test_init_multigrid_is_idempotent_and_schedule_survives_it():
    cfg = kinetics_multigrid_cfg()
    before = multigrid.long_cycle_schedule(cfg)
    multigrid.init_multigrid(cfg)
    multigrid.init_multigrid(cfg)
    assert cfg.SOLVER.MAX_EPOCH == 358 and cfg.MULTIGRID.BASE_MAX_EPOCH == 239
    assert multigrid.long_cycle_schedule(cfg) == before


def test_multigrid_off_leaves_cfg_untouched():
    cfg = get_cfg()
    multigrid.init_multigrid(cfg)
    assert cfg == get_cfg()


def test_phase_lr_is_step_lr_times_batch_factor():
    cfg = multigrid.init_multigrid(kinetics_multigrid_cfg())
    schedule = multigrid.MultigridSchedule(cfg)
    assert [round(p.lr, 10) for p in schedule.phases] == [
        0.8, 0.4, 0.2, 0.1, 0.08, 0.04, 0.02, 0.01, 0.008, 0.004, 0.002, 0.001, 0.0001]
    assert list(cfg.SOLVER.STEPS) == [0, 158, 259, 329]  # each LR step starts at its first phase

    def trainer_lr(epoch):  # what Trainer.lr_at computes
        return optim.get_lr_at_epoch(cfg, epoch) * schedule.lr_factor(epoch)

    for phase in schedule.phases[1:]:
        assert trainer_lr(phase.start_epoch + 0.5) == pytest.approx(phase.lr)
    assert trainer_lr(73 - 1e-3) == pytest.approx(0.8)
    assert trainer_lr(0) == pytest.approx(0.01 * 8)  # warm-up scaled by the phase's factor too
    assert trainer_lr(17) == pytest.approx((0.01 + (0.1 - 0.01) / 2) * 8)
    assert trainer_lr(400) == pytest.approx(0.0001)


def test_without_batch_scaling_phases_keep_their_epochs_and_the_default_batch_and_lr():
    scaled = multigrid.MultigridSchedule(multigrid.init_multigrid(kinetics_multigrid_cfg()))
    cfg = kinetics_multigrid_cfg()
    cfg.MULTIGRID.SCALE_BATCH = False
    cfg.NUM_GPUS = 0
    cfg = multigrid.init_multigrid(cfg)
    schedule = multigrid.MultigridSchedule(cfg)
    assert [p.end_epoch for p in schedule.phases] == BOTH_CYCLES_ENDS
    assert [(p.num_frames, p.crop_size) for p in schedule.phases] == [
        (p.num_frames, p.crop_size) for p in scaled.phases]
    assert {p.batch_factor for p in schedule.phases} == {1}
    assert [round(p.lr, 10) for p in schedule.phases] == [
        0.1] * 4 + [0.01] * 4 + [0.001] * 4 + [0.0001]
    assert schedule.lr_factor(0) == 1.0
    schedule.update_shape(cfg, 0, world_size=1)
    assert (cfg.TRAIN.BATCH_SIZE, cfg.DATA.NUM_FRAMES, cfg.DATA.TRAIN_CROP_SIZE) == (64, 8, 158)
    assert (cfg.BN.NORM_TYPE, cfg.BN.NUM_SPLITS) == ("sub_batchnorm", 8)  # 64 per device, base 8
    assert "64@112 64@158 64@158" in multigrid.format_schedule_table(cfg)


def test_bn_statistics_are_recomputed_at_the_default_shape_only_in_other_shapes():
    cfg = multigrid.init_multigrid(kinetics_multigrid_cfg())
    schedule = multigrid.MultigridSchedule(cfg)
    assert [schedule.default_shape_bn_batches(cfg, p.start_epoch) for p in schedule.phases] == [10, 10, 10, 0] * 3 + [0]
    val_cfg = schedule.validation_cfg(cfg)
    assert (val_cfg.TRAIN.BATCH_SIZE, val_cfg.DATA.NUM_FRAMES, val_cfg.DATA.TRAIN_CROP_SIZE) == (64, 32, 224)
    assert not val_cfg.MULTIGRID.SHORT_CYCLE and val_cfg.MULTIGRID.LONG_CYCLE_SAMPLING_RATE == 0


def test_eval_and_checkpoint_epochs_follow_the_phases():
    schedule = multigrid.MultigridSchedule(multigrid.init_multigrid(kinetics_multigrid_cfg()))
    evals = [e for e in range(358) if schedule.is_eval_epoch(e)]
    # The last epoch of every phase and of the run; about EVAL_FREQ (3) per phase.
    assert {p.end_epoch - 1 for p in schedule.phases} <= set(evals)
    assert evals[:4] == [22, 47, 72, 83]  # phase 0 (73 epochs): period 73 // 3 + 1 = 25
    assert all(1 <= sum(p.start_epoch <= e < p.end_epoch for e in evals) <= 4 for p in schedule.phases)
    assert [e for e in range(358) if schedule.is_checkpoint_epoch(e)] == evals


def test_update_shape_sets_phase_shape_sampling_rate_and_bn_layout():
    cfg = multigrid.init_multigrid(kinetics_multigrid_cfg())
    cfg.NUM_GPUS = 0
    cfg.freeze()
    schedule = multigrid.MultigridSchedule(cfg)
    assert schedule.update_shape(cfg, 0, world_size=8)
    assert cfg.is_frozen()
    assert (cfg.TRAIN.BATCH_SIZE, cfg.DATA.NUM_FRAMES, cfg.DATA.TRAIN_CROP_SIZE) == (512, 8, 158)
    assert cfg.MULTIGRID.LONG_CYCLE_SAMPLING_RATE == 8  # 2 * 32 / 8: keeps the 64-frame span
    assert (cfg.BN.NORM_TYPE, cfg.BN.NUM_SPLITS) == ("sub_batchnorm", 8)  # 64 per device
    assert not schedule.update_shape(cfg, 72, world_size=8)  # same phase: nothing to rebuild
    assert schedule.update_shape(cfg, 120, world_size=8)  # phase 2: (2, 16, 224)
    assert (cfg.TRAIN.BATCH_SIZE, cfg.DATA.NUM_FRAMES, cfg.DATA.TRAIN_CROP_SIZE) == (128, 16, 224)
    assert (cfg.BN.NORM_TYPE, cfg.BN.NUM_SPLITS, cfg.MULTIGRID.LONG_CYCLE_SAMPLING_RATE) == ("sub_batchnorm", 2, 4)
    assert schedule.update_shape(cfg, 150, world_size=8)
    assert (cfg.BN.NORM_TYPE, cfg.MULTIGRID.LONG_CYCLE_SAMPLING_RATE) == ("batchnorm", 2)
    assert not schedule.update_shape(cfg, 340, world_size=8)  # fine-tune: same shape, only the LR


def test_resuming_mid_phase_gives_the_uninterrupted_settings():
    uninterrupted = multigrid.init_multigrid(kinetics_multigrid_cfg())
    schedule = multigrid.MultigridSchedule(uninterrupted)
    for epoch in range(150):
        schedule.update_shape(uninterrupted, epoch)
    resumed = multigrid.init_multigrid(kinetics_multigrid_cfg())  # fresh from the config
    assert multigrid.MultigridSchedule(resumed).update_shape(resumed, 149)
    assert resumed == uninterrupted


def test_uneven_phase_batch_is_a_clear_error():
    cfg = multigrid.init_multigrid(kinetics_multigrid_cfg())
    with pytest.raises(ValueError, match="not divisible by the 3 processes"):
        multigrid.MultigridSchedule(cfg).update_shape(cfg, 0, world_size=3)


def test_bn_layout_uses_sync_bn_only_on_cuda():
    cfg = get_cfg()
    assert multigrid.bn_layout(cfg, 32, cuda=False) == ("sub_batchnorm", 4, 1)
    assert multigrid.bn_layout(cfg, 8, cuda=False) == ("batchnorm", 1, 1)
    assert multigrid.bn_layout(cfg, 2, cuda=True) == ("sync_batchnorm", 1, 4)
    assert multigrid.bn_layout(cfg, 2, cuda=False) == ("batchnorm", 1, 1)


def test_long_cycle_rejects_cosine_policy():
    cfg = kinetics_multigrid_cfg()
    cfg.SOLVER.LR_POLICY = "cosine"
    with pytest.raises(ValueError, match="SOLVER.LR_POLICY"):
        multigrid.init_multigrid(cfg)


def test_schedule_table_lists_every_phase():
    cfg = multigrid.init_multigrid(kinetics_multigrid_cfg())
    lines = multigrid.format_schedule_table(cfg).splitlines()
    assert lines[0] == "Multigrid schedule: 358 epochs"
    assert lines[1].split()[:8] == ["phase", "lr", "step", "epochs", "ends", "at", "batch", "frames"]
    assert len(lines) == 3 + 13
    assert lines[3].split() == ["0", "0", "0-73", "73", "512", "8", "158", "0.8", "1024@112", "512@158", "512@158"]
    assert lines[-1].split()[:4] == ["12", "(fine-tune)", "3", "329-358"]


def _run_net_main():
    import importlib.util

    spec = importlib.util.spec_from_file_location("run_net", os.path.join(REPO, "tools", "run_net.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def test_run_net_print_schedule_prints_phase_ends_without_training(capsys, tmp_path):
    _run_net_main()(["--cfg", KINETICS_MULTIGRID_YAML, "--print-schedule", "OUTPUT_DIR", str(tmp_path)])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Multigrid schedule: 358 epochs"
    ends = [int(line.split()[4 if "fine-tune" in line else 3]) for line in lines[3:]]
    assert ends == BOTH_CYCLES_ENDS
    assert not os.listdir(tmp_path)  # nothing written, nothing trained
