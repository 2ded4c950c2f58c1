"""tools/benchmark.py --mode model: one tiny config, a table with the expected columns, --cfg honoured."""
import os

import pytest

from tests.deploy.conftest import EFFICIENT_MODELS, tiny_cfg
from tests.tools.tool_loader import REPO, load_tool



def _tool():
    return load_tool("benchmark")


def test_model_mode_prints_the_table_for_the_given_config(tmp_path, capsys):
    config = tmp_path / "tiny_snv2.yaml"
    config.write_text(tiny_cfg(*EFFICIENT_MODELS["SlowFastShuffleNetV2"]).dump())
    markdown = tmp_path / "zoo.md"
    code = _tool().main(["--mode", "model", "--cfg", str(config), "SLOWFAST.WIDTH_MULTI", "0.5",
                         "--batch-sizes", "1", "2", "--train-batch-size", "2", "--repeats", "1", "--warmup", "0",
                         "--threads", "1", "--no-memory", "--markdown", str(markdown)])
    assert code == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    assert header == ["model", "config", "input (T x H x W per pathway)", "params (M)", "GFLOPs"] + [
        f"{backend} B={b} clips/s (ms)" for b in (1, 2) for backend in ("reference", "eager", "optimised", "ONNX")
    ] + ["train B=2 clips/s", "train speed-up vs ATen depthwise backward", "train speed-up vs per-tensor optimiser"]
    row = [cell.strip() for cell in lines[2].strip("|").split("|")]
    # the --cfg file and the override were used (an upstream version ignored --cfg)
    assert row[:3] == ["SlowFastShuffleNetV2 W0.5", "tiny_snv2", "1x32x32 + 4x32x32"]
    assert all(float(cell.split()[0].rstrip("x")) > 0 for cell in row[3:])
    assert lines[2] in markdown.read_text()


def test_model_mode_needs_a_config():
    with pytest.raises(SystemExit):
        _tool().main(["--mode", "model"])


def test_all_lists_every_kinetics_config_once_after_the_given_ones(tmp_path):
    tool = _tool()
    given = str(tmp_path / "mine.yaml")
    args = tool.parse_args(["--mode", "model", "--cfg", given, "--all"], tool.build_parser())
    files = tool.model_configs(args)
    assert files[0] == given and len(files) == len(set(files)) > 1
    assert all(os.path.dirname(f) == os.path.join(REPO, "configs", "Kinetics") for f in files[1:])


def test_layout_option_reaches_the_benchmark_settings(tmp_path, monkeypatch, capsys):
    from slowfast.inference import benchmark as model_benchmark

    seen = []

    def fake_benchmark_config(cfg, settings, name):
        seen.append(settings.layout)
        return {"config": name, "model": "M", "input": "1x32x32", "params_m": 1.0, "gflops": 1.0, "layout": "contiguous"}

    monkeypatch.setattr(model_benchmark, "benchmark_config", fake_benchmark_config)
    config = tmp_path / "tiny_snv2.yaml"
    config.write_text(tiny_cfg(*EFFICIENT_MODELS["SlowFastShuffleNetV2"]).dump())
    assert _tool().main(["--mode", "model", "--cfg", str(config), "--layout", "contiguous", "--no-memory"]) == 0
    assert seen == ["contiguous"] and "optimised layout contiguous" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        _tool().main(["--mode", "model", "--cfg", str(config), "--layout", "fastest"])
