"""tools/compare_runs.py and slowfast/engine/compare.py: the summary arithmetic, the markdown table,
per-config overrides, and a two-config, two-seed comparison of a tiny config end to end."""
import json

import pytest

from slowfast.engine import compare
from tests.engine.test_multigrid_training import multigrid_cfg
from tests.tools.tool_loader import load_tool

A = [(1, 10.0, 40.0), (2, 20.0, 91.0), (3, 30.0, 95.0)]
B = [(1, 12.0, 50.0), (2, 24.0, 85.0), (3, 36.0, 92.0), (4, 48.0, 92.0)]
C = [(1, 9.0, 30.0), (2, 18.0, 60.0)]


def test_time_to_best_and_mean_std():
    assert compare.time_to(A, 90.0) == (2, 20.0)
    assert compare.time_to(C, 90.0) == (None, None)
    assert compare.best(B) == (92.0, 3)
    assert compare.mean_std([1.0, 3.0]) == (2.0, pytest.approx(2 ** 0.5))
    assert compare.mean_std([5.0]) == (5.0, 0.0)


def test_summary_counts_only_runs_that_reached_the_target():
    s = compare.summarize([A, B, C], 90.0)
    assert s["runs"] == 3 and s["reached"] == 2
    assert s["best"][0] == pytest.approx((95 + 92 + 60) / 3)
    assert s["epoch_to"] == (2.5, pytest.approx(0.5 ** 0.5))
    assert s["seconds_to"][0] == 28.0  # (20 + 36) / 2
    assert s["train_s"][0] == pytest.approx((30 + 48 + 18) / 3)
    assert compare.summarize([C], 90.0)["seconds_to"] is None


def test_markdown_table_rows():
    text = compare.format_markdown({"x": [A, B], "y": [C]}, 90.0, notes=["cmd"])
    lines = text.splitlines()
    assert lines[0] == "# Run comparison" and lines[2] == "cmd  "
    rows = [line for line in lines if line.startswith("| x |") or line.startswith("| y |")]
    assert rows[0] == "| x | 2 | 93.5 ± 2.1 | 2.5 ± 0.7 | 28 ± 11 | 2/2 | 39 ± 13 |"
    assert rows[1] == "| y | 1 | 60.0 ± 0.0 | not reached | not reached | 0/1 | 18 ± 0 |"
    assert "| x | 1 | 92.0 (3) | 3, 36 | 4 | 48 |" in rows and "| y | 0 | 60.0 (2) | not reached | 2 | 18 |" in rows


def test_per_config_overrides_and_labels():
    tool = load_tool("compare_runs")
    assert tool.split_spec("a/B.yaml") == ("a/B.yaml", [], "B")
    assert tool.split_spec("B.yaml@SLOWFAST.FUSION=none,SOLVER.BASE_LR=0.1") == (
        "B.yaml", ["SLOWFAST.FUSION", "none", "SOLVER.BASE_LR", "0.1"], "B SLOWFAST.FUSION=none SOLVER.BASE_LR=0.1")
    with pytest.raises(ValueError, match="KEY=VALUE"):
        tool.split_spec("B.yaml@SLOWFAST.FUSION")


def test_two_fusions_two_seeds_end_to_end(tmp_path):
    cfg = multigrid_cfg(str(tmp_path / "synthetic"), tmp_path / "out")
    cfg.defrost()
    cfg.MULTIGRID.LONG_CYCLE = cfg.MULTIGRID.SHORT_CYCLE = False
    cfg.SOLVER.MAX_EPOCH, cfg.TRAIN.BATCH_SIZE, cfg.TEST.BATCH_SIZE = 2, 6, 9  # 3 steps per epoch
    config = tmp_path / "tiny.yaml"
    config.write_text(cfg.dump())
    load_tool("compare_runs").main(["--cfg", str(config), "--cfg", f"{config}@SLOWFAST.FUSION=none",
                                    "--seeds", "2", "--target-top1", "0", "SOLVER.BASE_LR", "0.02"])
    out = tmp_path / "out"
    report = json.loads((out / "compare.json").read_text())
    curves = report["curves(epoch, train_s, val_top1)"]
    assert list(curves) == ["tiny", "tiny SLOWFAST.FUSION=none"]
    for runs in curves.values():
        assert len(runs) == 2 and all([row[0] for row in run] == [1, 2] for run in runs)
        assert all(run[1][1] >= run[0][1] > 0 for run in runs)  # cumulative training seconds
    assert (out / "tiny" / "seed1" / "json_stats.log").is_file()
    assert (out / "tiny_SLOWFAST.FUSION-none" / "seed0" / "json_stats.log").is_file()
    text = (out / "compare.md").read_text()
    assert "| tiny | 2 |" in text and "| tiny SLOWFAST.FUSION=none | 2 |" in text and "2/2" in text
    assert text.count("load average") == 4
    assert (out / "compare.png").stat().st_size > 1000


def test_merge_joins_side_by_side_comparisons(tmp_path):
    tool = load_tool("compare_runs")
    for name, curves in (("a", {"x": [A]}), ("b", {"y": [B, C]})):
        (tmp_path / name).mkdir()
        tool.write_outputs(str(tmp_path / name), curves, 90.0, [f"run {name}"])
    merged = tool.main(["--merge", str(tmp_path / "a" / "compare.json"), "--merge", str(tmp_path / "b" / "compare.json"),
                        "OUTPUT_DIR", str(tmp_path / "m")])
    assert merged == {"x": [A], "y": [B, C]}
    text = (tmp_path / "m" / "compare.md").read_text()
    assert "run a" in text and "run b" in text and "| y | 2 | 76.0 ± 22.6 |" in text
