"""tools/benchmark_multigrid.py: time-to-accuracy bookkeeping, the printed table, and both runs of
a tiny multigrid config end to end."""
import json

from tests.engine.test_multigrid_training import multigrid_cfg
from tests.tools.tool_loader import load_tool

CURVES = {
    "plain": [(1, 10.0, 40.0), (2, 20.0, 80.0), (3, 30.0, 90.0), (4, 40.0, 95.0)],
    "multigrid": [(1, 4.0, 30.0), (2, 8.0, 91.0), (3, 12.0, 93.0)],
}


def _tool():
    return load_tool("benchmark_multigrid")


def test_time_to_is_the_first_epoch_at_or_above_the_target():
    tool = _tool()
    assert tool.time_to(CURVES["plain"], 90.0) == (3, 30.0)
    assert tool.time_to(CURVES["multigrid"], 90.0) == (2, 8.0)
    assert tool.time_to(CURVES["multigrid"], 99.0) == (None, None)


def test_table_shows_both_runs_and_the_speed_up():
    tool = _tool()
    report = {"target_top1": 90.0}
    for name, curve in CURVES.items():
        epoch, seconds = tool.time_to(curve, 90.0)
        report[name] = {"epochs": len(curve), "train_seconds": curve[-1][1], "best_top1": max(c[2] for c in curve),
                        "epoch_reaching_target": epoch, "seconds_to_target": seconds}
    lines = tool.format_table(report, ("plain", "multigrid")).splitlines()
    assert lines[0].split() == ["run", "epochs", "train", "s", "best", "top-1", "epoch", "to", "90%", "s", "to", "90%"]
    assert lines[1].split() == ["plain", "4", "40", "95.0", "3", "30"]
    assert lines[2].split() == ["multigrid", "3", "12", "93.0", "2", "8"]
    assert lines[3] == "multigrid speed-up to 90% top-1: 3.75x"
    report["multigrid"].update(epoch_reaching_target=None, seconds_to_target=None)
    lines = tool.format_table(report, ("plain", "multigrid")).splitlines()
    assert lines[2].endswith("not reached") and len(lines) == 3


def test_multigrid_run_keeps_the_configs_cycles_and_plain_turns_them_off():
    tool = _tool()
    cfg = multigrid_cfg("unused", "out")
    cfg.defrost()
    cfg.MULTIGRID.SHORT_CYCLE = False
    multigrid_run, plain_run = tool.run_config(cfg, True, "multigrid"), tool.run_config(cfg, False, "plain")
    assert (multigrid_run.MULTIGRID.LONG_CYCLE, multigrid_run.MULTIGRID.SHORT_CYCLE) == (True, False)
    assert (plain_run.MULTIGRID.LONG_CYCLE, plain_run.MULTIGRID.SHORT_CYCLE) == (False, False)
    assert multigrid_run.OUTPUT_DIR.endswith("multigrid") and not plain_run.TRAIN.AUTO_RESUME
    cfg.MULTIGRID.LONG_CYCLE = False  # neither cycle in the config: the multigrid run uses both
    both = tool.run_config(cfg, True, "multigrid").MULTIGRID
    assert (both.LONG_CYCLE, both.SHORT_CYCLE) == (True, True)


def test_both_runs_of_a_tiny_config(tmp_path, capsys):
    config = tmp_path / "tiny_multigrid.yaml"
    config.write_text(multigrid_cfg(str(tmp_path / "synthetic"), tmp_path / "out").dump())
    _tool().main(["--cfg", str(config), "--target-top1", "0"])
    out = capsys.readouterr().out
    report = json.loads(out[out.index("{\n"):out.rindex("}") + 1])
    assert report["target_top1"] == 0
    # Plain: the configured 5 epochs; multigrid: the rescaled 8, validated after every epoch.
    assert report["plain"]["epochs"] == 5 and report["multigrid"]["epochs"] == 8
    for name in ("plain", "multigrid"):
        curve = report[name]["curve(epoch, train_s, val_top1)"]
        assert [epoch for epoch, _, _ in curve] == list(range(1, report[name]["epochs"] + 1))
        assert all(b[1] >= a[1] for a, b in zip(curve, curve[1:]))  # cumulative training seconds
        assert report[name]["epoch_reaching_target"] == 1
    assert "Multigrid schedule: 8 epochs" in out and "multigrid speed-up to 0% top-1" in out
    assert (tmp_path / "out" / "plain" / "json_stats.log").is_file()
    assert (tmp_path / "out" / "multigrid" / "json_stats.log").is_file()
