"""Model benchmark: params, GFLOPs, inference speed of eager / optimised eager / ONNX, training
speed and peak memory, one row per config, printed as a Markdown table.

Method (the machine is shared and noisy):

* every model is measured in fresh subprocesses, so neither its speed nor its peak memory is
  affected by the models measured before it;
* the inference candidates (PyTorch eager, ``optimize_for_inference``, onnxruntime) are timed
  side by side in one process, round-robin, after warm-up, and each reports the median of
  ``repeats`` runs; clips/s = batch / median latency;
* training = forward + cross-entropy + backward + the config's optimiser step (the trainer's
  ``construct_optimizer``) at ``train_batch_size`` on inputs in the trainer's layout, median
  step; timed round-robin against the same step with the optimiser's per-tensor loop instead of
  its fused kernel and, for models with depthwise convs, against a copy with ATen's depthwise
  backward (``with_aten_depthwise``), giving the two speed-up columns;
* peak memory = ``ru_maxrss`` of a process that only builds the model and runs one eval forward
  (eager or onnxruntime) / one training step at ``train_batch_size`` (so it includes the ~0.6 GiB
  of an interpreter that imported torch, as in the reference figures of design/performance.md);
* torch and onnxruntime both use ``threads`` intra-op threads (2 on the development machine), and
  by default both let idle threads sleep instead of spin-waiting (``OMP_WAIT_POLICY=PASSIVE``,
  onnxruntime ``allow_spinning 0``): on a loaded shared machine a spinning OpenMP barrier made
  2-thread PyTorch 20-40x slower than 1 thread (SF-ShuffleNetV2 B=1: 3-8 s vs 0.19 s per clip),
  which measures the neighbours, not the model. ``spin_wait=True`` restores the defaults.

Entry points: ``benchmark_configs`` (parent, subprocess per model), ``format_markdown`` and
``write_markdown`` (a table between markers in a file, rows merged by config), and ``python -m
slowfast.inference.benchmark --worker ...`` (the per-model measurements; internal).
"""
import argparse
import copy
import dataclasses
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Callable, Dict, List, Optional, Sequence

import torch

BACKENDS = ("reference", "eager", "optimized", "onnx")
BACKEND_TITLES = {"reference": "reference", "eager": "eager", "optimized": "optimised", "onnx": "ONNX"}
TABLE_START = "<!-- model-benchmark:start -->"
TABLE_END = "<!-- model-benchmark:end -->"
_GIB = 1024.0 ** 3


@dataclasses.dataclass
class BenchmarkSettings:
    """What to measure and how often."""

    batch_sizes: Sequence[int] = (1, 8)
    train_batch_size: int = 8
    repeats: int = 5
    warmup: int = 2
    threads: int = 2
    backends: Sequence[str] = BACKENDS
    measure_memory: bool = True
    measure_training: bool = True
    spin_wait: bool = False
    # Memory layout of the "optimized" back end (TEST.OPTIMIZE_LAYOUT's values; "auto" = the default path).
    layout: str = "auto"


# ---------------------------------------------------------------------------- #
# Per-model measurements (run inside a worker process)
# ---------------------------------------------------------------------------- #
def peak_rss_gib() -> float:
    """Peak resident set size of this process so far, GiB (``ru_maxrss`` is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / _GIB


def model_inputs(cfg, batch_size: int, seed: int = 0) -> List[torch.Tensor]:
    """Random per-pathway inputs ``(N, C, T, H, W)`` at the config's train crop (the model's native size)."""
    from slowfast.models.info import input_shapes

    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(batch_size, *shape, generator=generator) for shape in input_shapes(cfg, "train")]


def build_cpu_model(cfg) -> torch.nn.Module:
    from slowfast.models.build import build_model

    return build_model(cfg, device=torch.device("cpu"))


def time_side_by_side(candidates: Dict[str, Callable[[], object]], repeats: int, warmup: int) -> Dict[str, float]:
    """Median seconds per call of each zero-argument callable, timed round-robin so that load
    changes on a shared machine hit every candidate alike."""
    for _ in range(warmup):
        for run in candidates.values():
            run()
    times: Dict[str, List[float]] = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, run in candidates.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def with_materialised_attention(model: torch.nn.Module) -> torch.nn.Module:
    """A copy of ``model`` whose CMDA attention builds the full L x L matrix, as the released
    efficient-SlowFast code does (where it spends 60-97 % of its forward time): the "reference"
    back end, so speed-ups over the released implementation are measured side by side."""
    from slowfast.models.blocks.attention import PositionAttention, materialised_attention

    reference = copy.deepcopy(model)
    for module in reference.modules():
        if isinstance(module, PositionAttention):
            module.attention_fn = materialised_attention
    return reference


def prepare_backends(model, cfg, settings: BenchmarkSettings, workdir: str) -> Dict[str, Callable]:
    """Per back end of ``settings.backends``, a function ``inputs -> zero-argument callable`` that
    runs one batch. The optimised model and the ONNX file are made once, at batch 1."""
    from slowfast.deploy.export import export_onnx, onnx_session, run_onnx
    from slowfast.inference.optimize import optimize_for_inference, prepare_inputs

    example = model_inputs(cfg, 1)
    backends: Dict[str, Callable] = {}
    if "reference" in settings.backends:
        reference = with_materialised_attention(model)
        backends["reference"] = lambda inputs: (lambda: reference(inputs))
    if "eager" in settings.backends:
        backends["eager"] = lambda inputs: (lambda: model(inputs))
    if "optimized" in settings.backends:
        optimized = optimize_for_inference(model, example, layout=settings.layout)

        def optimized_runner(inputs):
            prepared = prepare_inputs(optimized, inputs)
            return lambda: optimized(prepared)

        optimized_runner.channels_last = optimized.channels_last
        backends["optimized"] = optimized_runner
    if "onnx" in settings.backends:
        path = os.path.join(workdir, "model.onnx")
        export_onnx(model, example, path, opset=cfg.DEPLOY.ONNX_OPSET, attention=cfg.DEPLOY.ONNX_ATTENTION)
        session = onnx_session(path, settings.threads, settings.spin_wait)
        backends["onnx"] = lambda inputs: (lambda: run_onnx(session, inputs))
    return backends


def measure_speed(cfg, settings: BenchmarkSettings, workdir: str) -> Dict:
    """Params, GFLOPs, per back end and batch size the median latency and clips/s, training clips/s."""
    from slowfast.models.info import gflops, params_count

    torch.manual_seed(cfg.RNG_SEED)
    model = build_cpu_model(cfg).eval()
    result = {"params_m": params_count(model) / 1e6, "gflops": gflops(model, cfg, "train"), "inference": {}}
    backends = prepare_backends(model, cfg, settings, workdir)
    if "optimized" in backends:  # which layout the optimised path took (two runs must agree)
        result["layout"] = "channels_last_3d" if backends["optimized"].channels_last else "contiguous"
    for batch in settings.batch_sizes:
        inputs = model_inputs(cfg, batch)
        with torch.inference_mode():
            medians = time_side_by_side({name: make(inputs) for name, make in backends.items()},
                                        settings.repeats, settings.warmup)
        result["inference"][str(batch)] = {
            name: {"latency_ms": 1e3 * seconds, "clips_per_s": batch / seconds} for name, seconds in medians.items()
        }
    del backends
    if settings.measure_training:
        seconds = median_train_step_seconds(model, cfg, settings)
        result["train_clips_per_s"] = settings.train_batch_size / seconds["train"]
        for variant in ("aten_depthwise", "per_tensor_optimizer"):
            if f"train_{variant}" in seconds:
                result[f"train_speedup_vs_{variant}"] = seconds[f"train_{variant}"] / seconds["train"]
    return result


def train_step_fn(model, cfg, batch_size: int, per_tensor_optimizer: bool = False) -> Callable[[], float]:
    """One training step (the trainer's optimiser) on random clips and labels, as a zero-argument
    callable returning the loss; ``per_tensor_optimizer`` swaps its fused kernel for the loop."""
    from slowfast.engine.optim import construct_optimizer, use_per_tensor_loop
    from slowfast.models.build import memory_format

    model.train()
    optimizer = construct_optimizer(model, cfg)
    if per_tensor_optimizer:
        use_per_tensor_loop(optimizer)
    # The trainer's layout (MODEL.CHANNELS_LAST), so the step costs what a training step costs.
    inputs = [x.contiguous(memory_format=memory_format(cfg)) for x in model_inputs(cfg, batch_size, seed=1)]
    labels = torch.randint(0, cfg.MODEL.NUM_CLASSES, (batch_size,), generator=torch.Generator().manual_seed(1))

    def step() -> float:
        optimizer.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(model(inputs), labels)
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


def median_train_step_seconds(model, cfg, settings: BenchmarkSettings) -> Dict[str, float]:
    """Median training step of ``model`` ("train") and, side by side, of the same step with the
    optimiser's per-tensor loop ("train_per_tensor_optimizer") and, when it has depthwise convs,
    of the same model with ATen's depthwise backward ("train_aten_depthwise")."""
    from slowfast.models.blocks.depthwise import DepthwiseConv3d, with_aten_depthwise

    batch = settings.train_batch_size
    steps = {"train": train_step_fn(copy.deepcopy(model), cfg, batch),
             "train_per_tensor_optimizer": train_step_fn(copy.deepcopy(model), cfg, batch, per_tensor_optimizer=True)}
    if any(isinstance(m, DepthwiseConv3d) for m in model.modules()):
        steps["train_aten_depthwise"] = train_step_fn(with_aten_depthwise(model), cfg, batch)
    return time_side_by_side(steps, max(3, settings.repeats // 2 + 1), 1)


def measure_peak_memory(cfg, kind: str, settings: BenchmarkSettings, workdir: str) -> float:
    """Peak RSS (GiB) of this fresh process after building the model and running ``kind``:
    "eager" (one eval forward), "onnx" (one onnxruntime run of ``workdir/model.onnx``) or "train"
    (one training step), at the largest batch of the benchmark."""
    batch = settings.train_batch_size if kind == "train" else max(settings.batch_sizes)
    if kind == "onnx":
        from slowfast.deploy.export import onnx_session, run_onnx

        session = onnx_session(os.path.join(workdir, "model.onnx"), settings.threads, settings.spin_wait)
        run_onnx(session, model_inputs(cfg, batch))
        return peak_rss_gib()
    model = build_cpu_model(cfg)
    if kind == "eager":
        with torch.inference_mode():
            model.eval()(model_inputs(cfg, batch))
    elif kind == "train":
        train_step_fn(model, cfg, batch)()
    else:
        raise ValueError(f"unknown memory measurement '{kind}'")
    return peak_rss_gib()


# ---------------------------------------------------------------------------- #
# Parent: one subprocess per measurement, one row per config
# ---------------------------------------------------------------------------- #
def _package_root() -> str:
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _error_summary(stderr: str, tail: int = 1500) -> str:
    """The worker's own frames and the exception line, not the whole torch traceback."""
    lines = stderr.strip().splitlines()
    own = [line.strip() for line in lines if 'File "' in line and "site-packages" not in line]
    return "\n".join(own[-8:] + lines[-1:])[-tail:]


def _run_worker(task: str, cfg_path: str, settings: BenchmarkSettings, workdir: str, timeout: float) -> Dict:
    """Run ``python -m slowfast.inference.benchmark --worker task`` and parse its last output line (JSON)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [_package_root(), env.get("PYTHONPATH")]))
    env["OMP_NUM_THREADS"] = str(settings.threads)
    if not settings.spin_wait:
        env["OMP_WAIT_POLICY"] = "PASSIVE"  # read once when the OpenMP runtime starts
    command = [sys.executable, "-m", "slowfast.inference.benchmark", "--worker", task, "--cfg-file", cfg_path,
               "--workdir", workdir, "--settings", json.dumps(dataclasses.asdict(settings))]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"benchmark worker '{task}' failed for {cfg_path} (exit {done.returncode}):\n"
                           f"{_error_summary(done.stderr)}")
    return json.loads(lines[-1])


def model_label(cfg) -> str:
    """Readable model name: registered name plus the width / groups the config sets."""
    name = cfg.MODEL.MODEL_NAME
    if "ShuffleNet" in name or "MobileNet" in name or "GhostNet" in name:
        width = f"{cfg.SLOWFAST.WIDTH_MULTI:g}"
        label = f"{name} W{width if '.' in width else width + '.0'}"
        if name == "SlowFastShuffleNet":
            label += f" G{cfg.SLOWFAST.GROUPS}"
        return label
    if name in ("SlowFast", "SlowFastDualAttention", "ResNet"):
        return f"{name} {cfg.MODEL.ARCH} R{cfg.RESNET.DEPTH}"
    return name


def memory_kinds(settings: BenchmarkSettings) -> List[str]:
    """The peak-memory measurements these settings ask for ("eager", "onnx", "train")."""
    kinds = ["eager"] + (["onnx"] if "onnx" in settings.backends else [])
    return kinds + (["train"] if settings.measure_training else [])


def benchmark_config(cfg, settings: BenchmarkSettings, config_name: str = "", timeout: float = 900.0) -> Dict:
    """All measurements of one config (each in its own subprocess); returns one table row (a dict)."""
    from slowfast.models.info import input_shapes

    cfg = cfg.clone()
    cfg.NUM_GPUS = 0
    with tempfile.TemporaryDirectory(prefix="slowfast-bench-") as workdir:
        cfg_path = os.path.join(workdir, "config.yaml")
        with open(cfg_path, "w") as f:
            f.write(cfg.dump())
        row = {"config": config_name or cfg.MODEL.MODEL_NAME, "model": model_label(cfg),
               "input": " + ".join("x".join(map(str, s[1:])) for s in input_shapes(cfg, "train"))}
        row.update(_run_worker("speed", cfg_path, settings, workdir, timeout))
        if settings.measure_memory:
            row["peak_rss_gib"] = {
                kind: _run_worker(f"memory-{kind}", cfg_path, settings, workdir, timeout)["peak_rss_gib"]
                for kind in memory_kinds(settings)
            }
    return row


# ---------------------------------------------------------------------------- #
# Markdown
# ---------------------------------------------------------------------------- #
def table_columns(settings: BenchmarkSettings) -> List[str]:
    """Column titles of the Markdown table for these settings."""
    columns = ["model", "config", "input (T x H x W per pathway)", "params (M)", "GFLOPs"]
    for batch in settings.batch_sizes:
        columns += [f"{BACKEND_TITLES[b]} B={batch} clips/s (ms)" for b in settings.backends]
    if settings.measure_training:
        columns += [f"train B={settings.train_batch_size} clips/s", "train speed-up vs ATen depthwise backward",
                    "train speed-up vs per-tensor optimiser"]
    if settings.measure_memory:
        batch = max(settings.batch_sizes)
        titles = {"eager": f"eager B={batch}", "onnx": f"ONNX B={batch}", "train": f"train B={settings.train_batch_size}"}
        columns += [f"peak RSS {titles[kind]} (GiB)" for kind in memory_kinds(settings)]
    return columns


def table_cells(row: Dict, settings: BenchmarkSettings) -> List[str]:
    """The cells of ``row`` in the order of ``table_columns(settings)``; "—" where not measured."""
    cells = [row["model"], row["config"], row["input"], f"{row['params_m']:.3g}", f"{row['gflops']:.3g}"]
    for batch in settings.batch_sizes:
        for backend in settings.backends:
            m = row.get("inference", {}).get(str(batch), {}).get(backend)
            cells.append(f"{m['clips_per_s']:.1f} ({m['latency_ms']:.0f})" if m else "—")
    if settings.measure_training:
        cells.append(f"{row['train_clips_per_s']:.2f}" if "train_clips_per_s" in row else "—")
        for variant in ("aten_depthwise", "per_tensor_optimizer"):
            speedup = row.get(f"train_speedup_vs_{variant}")
            cells.append(f"{speedup:.2f}x" if speedup else "—")
    if settings.measure_memory:
        peaks = row.get("peak_rss_gib", {})
        cells += [f"{peaks[k]:.2f}" if k in peaks else "—" for k in memory_kinds(settings)]
    return cells


def _markdown_line(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def format_markdown(rows: Sequence[Dict], settings: BenchmarkSettings) -> str:
    """The rows as a Markdown table (header, separator, one line per row)."""
    columns = table_columns(settings)
    lines = [_markdown_line(columns), _markdown_line(["---"] * len(columns))]
    lines += [_markdown_line(table_cells(row, settings)) for row in rows]
    return "\n".join(lines)


def write_markdown(path: str, rows: Sequence[Dict], settings: BenchmarkSettings, note: str = "") -> None:
    """Write the table into ``path`` between the benchmark markers, keeping the rest of the file.

    Rows already in the file for other configs are kept (so models can be benchmarked one run at a
    time); a row for the same config is replaced. The raw rows live in a JSON comment next to it.
    """
    text = open(path).read() if os.path.isfile(path) else ""
    previous: List[Dict] = []
    if TABLE_START in text and TABLE_END in text:
        head, rest = text.split(TABLE_START, 1)
        block, tail = rest.split(TABLE_END, 1)
        if "<!-- rows:" in block:
            previous = json.loads(block.split("<!-- rows:", 1)[1].split("-->", 1)[0])
    else:
        head, tail = (text.rstrip() + "\n\n" if text else ""), "\n"
    new_configs = {row["config"] for row in rows}
    merged = [row for row in previous if row["config"] not in new_configs] + list(rows)
    merged.sort(key=lambda row: row["config"])
    block = "\n\n".join(filter(None, [note, format_markdown(merged, settings),
                                      f"<!-- rows: {json.dumps(merged, sort_keys=True)} -->"]))
    with open(path, "w") as f:
        f.write(f"{head}{TABLE_START}\n{block}\n{TABLE_END}{tail}")


# ---------------------------------------------------------------------------- #
# Worker entry point
# ---------------------------------------------------------------------------- #
def _worker_main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description="One measurement of the model benchmark (internal).")
    parser.add_argument("--worker", required=True, choices=["speed", "memory-eager", "memory-onnx", "memory-train"])
    parser.add_argument("--cfg-file", required=True)
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--settings", required=True)
    args = parser.parse_args(argv)
    from slowfast.config.loader import load_config

    settings = BenchmarkSettings(**json.loads(args.settings))
    torch.set_num_threads(settings.threads)
    cfg = load_config(path_to_config=args.cfg_file)
    if args.worker == "speed":
        result = measure_speed(cfg, settings, args.workdir)
    else:
        result = {"peak_rss_gib": measure_peak_memory(cfg, args.worker.split("-", 1)[1], settings, args.workdir)}
    print(json.dumps(result))


if __name__ == "__main__":
    _worker_main()
