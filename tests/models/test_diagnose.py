"""slowfast/models/diagnose.py and tools/diagnose_init.py: per-stage, per-pathway statistics of a
tiny SF-ShuffleNetV2, at initialisation and over real training steps."""
import math

import torch

from slowfast.config.defaults import get_cfg
from slowfast.models.build import build_model
from slowfast.models.diagnose import Record, StatsRecorder, format_records, gradient_growth, param_pathway
from tests.engine.test_multigrid_training import multigrid_cfg
from tests.tools.tool_loader import load_tool

STAGES = ["s1", "s1_fuse", "s2", "s2_fuse", "s3", "s3_fuse", "s4", "s4_fuse"]


def tiny_cfg(fusion="cmda"):
    cfg = get_cfg()
    cfg.NUM_GPUS = 0
    cfg.MODEL.MODEL_NAME, cfg.MODEL.NUM_CLASSES = "SlowFastShuffleNetV2", 5
    cfg.SLOWFAST.WIDTH_MULTI, cfg.SLOWFAST.ALPHA, cfg.SLOWFAST.FUSION = 0.25, 2, fusion
    return cfg


def test_statistics_are_finite_per_stage_and_both_pathways():
    torch.manual_seed(0)
    model = build_model(tiny_cfg())
    inputs = [torch.randn(2, 3, 2, 32, 32), torch.randn(2, 3, 4, 32, 32)]
    with StatsRecorder(model) as recorder:
        torch.nn.functional.cross_entropy(model(inputs), torch.tensor([0, 3])).backward()
    records = recorder.records()
    assert [(r.module, r.pathway) for r in records] == [(s, p) for s in STAGES for p in (0, 1)] + [("head", -1)]
    assert all(r.is_finite() for r in records)
    by = {(r.module, r.pathway): r for r in records}
    # Real values: widths of W0.25 (stem 24, fast 24 // 8), CMDA concatenations, BN-normalised outputs.
    assert by["s1", 0].shape == (2, 24, 2, 8, 8) and by["s1", 1].shape == (2, 3, 4, 8, 8)
    assert by["s1_fuse", 0].shape == (2, 27, 2, 8, 8) and by["s1_fuse", 1].shape == (2, 6, 4, 8, 8)
    assert by["head", -1].shape == (2, 5)
    for stage in ("s1", "s2", "s3", "s4"):
        for p in (0, 1):
            assert by[stage, p].grad_rms > 0 and by[stage, p].wgrad_norm > 0 and by[stage, p].w_norm > 0
    assert by["s1_fuse", 0].wgrad_norm > 0 and by["s1_fuse", 1].wgrad_norm > 0  # CMDA's ECA/BN and s2f conv
    growth = gradient_growth(records)
    assert set(growth) == {0, 1} and all(math.isfinite(g) and g > 0 for g in growth.values())
    table = format_records(records, "t").splitlines()
    assert table[0] == "t" and len(table) == 2 + len(records) and table[2].split()[:2] == ["s1", "slow"]


def test_lateral_fusion_parameters_feed_the_slow_pathway_and_no_fusion_has_none():
    assert param_pathway("s2_fuse", "conv_f2s.weight", 2) == 0
    assert param_pathway("s2_fuse", "s2f_conv.weight", 2) == 1
    assert param_pathway("s3", "pathway1_unit0.branch2.expand.0.weight", 2) == 1
    model = build_model(tiny_cfg("none"))
    assert sum(p.numel() for p in model.s1_fuse.parameters()) == 0
    assert model.out_dims["s1_fuse"] == model.out_dims["s1"] == (24, 3)
    lateral = build_model(tiny_cfg("lateral"))
    assert lateral.out_dims["s1_fuse"] == (24 + 2 * 3, 3)


def test_record_ratio_and_finiteness():
    record = Record("s2", 0, (1,), act_std=1.0, grad_rms=0.5, wgrad_norm=2.0, w_norm=4.0)
    assert record.relative_wgrad == 0.5 and record.is_finite()
    assert not Record("s2", 0, (1,), act_std=float("inf")).is_finite()


def test_tool_runs_real_training_steps(tmp_path, capsys):
    cfg = multigrid_cfg(str(tmp_path / "synthetic"), tmp_path / "out")
    cfg.defrost()
    cfg.MULTIGRID.LONG_CYCLE = cfg.MULTIGRID.SHORT_CYCLE = False
    cfg.TRAIN.BATCH_SIZE = 2
    config = tmp_path / "tiny.yaml"
    config.write_text(cfg.dump())
    history = load_tool("diagnose_init").main(["--cfg", str(config), "--steps", "3", "--every", "2"])
    assert [step for step, _, _ in history] == [0, 1, 2]
    for _, loss, records in history:
        assert math.isfinite(loss) and all(r.is_finite() for r in records)
        assert {r.pathway for r in records} == {-1, 0, 1}
    # The weights move between steps: the stem's weight norm changes after the first update.
    stems = [next(r for r in records if r.module == "s1" and r.pathway == 1).w_norm for _, _, records in history]
    assert stems[0] != stems[1]
    out = capsys.readouterr().out
    assert "--- step 0 (initial weights)" in out and "--- step 2 (after 2 updates)" in out
    assert out.count("grad x (first/last stage): slow") == 3
