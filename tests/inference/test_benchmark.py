"""The model benchmark's machinery: side-by-side timing, the table, the Markdown merge, workers."""
import json

import pytest
import torch

from slowfast.engine import optim as benchmark_optim
from slowfast.inference import benchmark
from slowfast.inference.benchmark import (
    BenchmarkSettings, format_markdown, table_columns, time_side_by_side, with_materialised_attention, write_markdown,
)
from slowfast.models import build_model
from slowfast.models.blocks.attention import PositionAttention, materialised_attention, memory_efficient_attention
from tests.deploy.conftest import EFFICIENT_MODELS, clip_inputs, perturb, tiny_cfg


def fake_row(config, eager_clips=10.0):
    inference = {str(b): {"eager": {"clips_per_s": eager_clips * b, "latency_ms": 100.0},
                          "onnx": {"clips_per_s": 2 * eager_clips * b, "latency_ms": 50.0}} for b in (1, 8)}
    return {"config": config, "model": f"M {config}", "input": "4x112x112 + 16x112x112", "params_m": 1.234,
            "gflops": 0.5678, "inference": inference, "train_clips_per_s": 3.21, "train_speedup_vs_aten_depthwise": 1.234,
            "train_speedup_vs_per_tensor_optimizer": 1.05,
            "peak_rss_gib": {"eager": 1.0, "onnx": 0.9, "train": 1.5}}


SETTINGS = BenchmarkSettings(backends=("eager", "onnx"))


def test_time_side_by_side_interleaves_and_takes_medians():
    calls = []
    medians = time_side_by_side({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, repeats=3, warmup=1)
    assert calls == ["a", "b"] * 4  # warm-up round, then round-robin
    assert set(medians) == {"a", "b"} and all(0 <= m < 0.1 for m in medians.values())


def test_table_has_the_expected_columns_and_cells():
    assert table_columns(SETTINGS) == [
        "model", "config", "input (T x H x W per pathway)", "params (M)", "GFLOPs",
        "eager B=1 clips/s (ms)", "ONNX B=1 clips/s (ms)", "eager B=8 clips/s (ms)", "ONNX B=8 clips/s (ms)",
        "train B=8 clips/s", "train speed-up vs ATen depthwise backward", "train speed-up vs per-tensor optimiser",
        "peak RSS eager B=8 (GiB)", "peak RSS ONNX B=8 (GiB)", "peak RSS train B=8 (GiB)",
    ]
    lines = format_markdown([fake_row("x")], SETTINGS).splitlines()
    assert len(lines) == 3 and lines[1].count("---") == len(table_columns(SETTINGS))
    assert lines[2] == ("| M x | x | 4x112x112 + 16x112x112 | 1.23 | 0.568 | 10.0 (100) | 20.0 (50) | 80.0 (100) | "
                        "160.0 (50) | 3.21 | 1.23x | 1.05x | 1.00 | 0.90 | 1.50 |")


def test_markdown_file_rows_are_merged_by_config(tmp_path):
    path = tmp_path / "zoo.md"
    path.write_text("# Model zoo\n\nIntro text.\n")
    write_markdown(str(path), [fake_row("a"), fake_row("b")], SETTINGS, note="first run")
    write_markdown(str(path), [fake_row("b", eager_clips=99.0)], SETTINGS, note="second run")
    text = path.read_text()
    assert text.startswith("# Model zoo\n\nIntro text.\n") and text.count(benchmark.TABLE_START) == 1
    assert "second run" in text and "first run" not in text
    table = [line for line in text.splitlines() if line.startswith("| M ")]
    assert [line.split(" | ")[1] for line in table] == ["a", "b"]
    assert "| 99.0 (100) |" in table[1] and "| 10.0 (100) |" in table[0]
    rows = json.loads(text.split("<!-- rows:", 1)[1].split("-->", 1)[0])
    assert [r["config"] for r in rows] == ["a", "b"]


def test_worker_measures_peak_memory_in_a_fresh_process(tmp_path):
    cfg = tiny_cfg(*EFFICIENT_MODELS["SlowFastShuffleNetV2"])
    cfg_path = tmp_path / "cfg.yaml"
    cfg_path.write_text(cfg.dump())
    settings = BenchmarkSettings(batch_sizes=(2,), train_batch_size=2)
    result = benchmark._run_worker("memory-eager", str(cfg_path), settings, str(tmp_path), timeout=300)
    assert 0.1 < result["peak_rss_gib"] < 4.0  # an interpreter with torch is ~0.5 GiB; the model is tiny


def test_failing_worker_reports_the_config(tmp_path):
    cfg_path = tmp_path / "broken.yaml"
    cfg_path.write_text("MODEL:\n  MODEL_NAME: NoSuchModel\n")
    with pytest.raises(RuntimeError, match="broken.yaml"):
        benchmark._run_worker("memory-eager", str(cfg_path), BenchmarkSettings(), str(tmp_path), timeout=300)


def test_reference_backend_materialises_the_attention_and_gives_the_same_logits():
    cfg = tiny_cfg(*EFFICIENT_MODELS["SlowFastShuffleNetV2"])
    model = perturb(build_model(cfg)).eval()  # non-zero attention gates: the attention path counts
    reference = with_materialised_attention(model)
    attentions = [m for m in reference.modules() if isinstance(m, PositionAttention)]
    assert attentions and all(m.attention_fn is materialised_attention for m in attentions)
    assert all(m.attention_fn is memory_efficient_attention for m in model.modules() if isinstance(m, PositionAttention))
    inputs = clip_inputs(cfg, batch_size=2)
    with torch.no_grad():
        torch.testing.assert_close(reference(inputs), model(inputs), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("layout, channels_last", [("auto", True), ("contiguous", False)])
def test_optimized_backend_uses_the_settings_layout(tmp_path, layout, channels_last):
    """The "optimized" back end takes BenchmarkSettings.layout; "auto" is the default path's rule
    (channels_last_3d on CPU), so every benchmark run of a model reports the same layout."""
    cfg = tiny_cfg(*EFFICIENT_MODELS["SlowFastShuffleNetV2"])
    settings = BenchmarkSettings(backends=("optimized",), layout=layout)
    backends = benchmark.prepare_backends(build_model(cfg).eval(), cfg, settings, str(tmp_path))
    assert backends["optimized"].channels_last is channels_last


def test_training_step_uses_the_trainers_optimiser_timed_against_its_per_tensor_loop(monkeypatch):
    """The step costs what the trainer's step costs (its fused optimiser), and the per-tensor loop
    and ATen's depthwise backward are timed next to it on copies of the same model."""
    cfg = tiny_cfg(*EFFICIENT_MODELS["SlowFastShuffleNetV2"])
    cfg.SOLVER.OPTIMIZING_METHOD = "adamw"
    built = []
    real_construct = benchmark_optim.construct_optimizer

    def spy(model, cfg):
        built.append(real_construct(model, cfg))
        return built[-1]

    monkeypatch.setattr(benchmark_optim, "construct_optimizer", spy)
    settings = BenchmarkSettings(train_batch_size=2, repeats=1)
    seconds = benchmark.median_train_step_seconds(build_model(cfg), cfg, settings)
    assert set(seconds) == {"train", "train_per_tensor_optimizer", "train_aten_depthwise"}
    assert all(s > 0 for s in seconds.values())
    kernels = [{(g["fused"], g["foreach"]) for g in optimizer.param_groups} for optimizer in built]
    assert all(isinstance(optimizer, torch.optim.AdamW) for optimizer in built)
    assert kernels == [{(True, None)}, {(False, False)}, {(True, None)}]
