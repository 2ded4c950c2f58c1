#!/usr/bin/env python3
"""What the RoI (detection) head adds to a clip's inference, measured side by side in one process.

For each config (a detection config), the backbone runs once on a clip (batch 1, the config's test
crop) and its features are kept; then the RoI head (with ``--boxes`` boxes) and the pooled
classification head of the same family (same widths, same optional head layers) are timed in
alternation on those features, ``--repeats`` times each (eval mode, inference mode). Reports
median milliseconds per clip of the backbone and of each head, and the heads' GFLOPs (fvcore;
RoIAlign's bilinear sampling is not counted by fvcore and is listed as the difference).

    python tools/benchmark_roi_head.py --cfg configs/AVA/SLOWFAST_32x2_R50.yaml \\
        configs/AVA/SLOWFAST_SHUFFLENETV2_16x4_W2.0.yaml --boxes 4
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from slowfast.config.loader import load_config  # noqa: E402
from slowfast.inference.benchmark import time_side_by_side  # noqa: E402
from slowfast.models.build import build_model  # noqa: E402
from slowfast.models.info import input_shapes  # noqa: E402
from slowfast.utils.cli import run_tool  # noqa: E402
from slowfast.utils.errors import ConfigError  # noqa: E402


def person_boxes(size: int, num_boxes: int) -> torch.Tensor:
    """``num_boxes`` person-shaped boxes spread over a ``size`` x ``size`` clip, ``(B, 5)``."""
    step = size / (num_boxes + 1)
    return torch.tensor([[0, step * i, size * 0.2, step * i + size * 0.3, size * 0.9] for i in range(num_boxes)])


def head_gflops(head, args) -> float:
    from fvcore.nn import FlopCountAnalysis

    analysis = FlopCountAnalysis(head, args)
    analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False).tracer_warnings("none")
    return analysis.total() / 1e9


@torch.inference_mode()
def benchmark(path: str, num_boxes: int, repeats: int, backbone_repeats: int) -> None:
    cfg = load_config(path_to_config=path, opts=["NUM_GPUS", "0"])
    if not cfg.DETECTION.ENABLE:
        raise ConfigError(f"{path}: not a detection config (DETECTION.ENABLE False)",
                          "give a config with DETECTION.ENABLE True, e.g. configs/AVA/SLOWFAST_32x2_R50.yaml")
    torch.manual_seed(0)
    detection = build_model(cfg).eval()
    pooled_cfg = cfg.clone()
    pooled_cfg.DETECTION.ENABLE = False
    pooled_head = build_model(pooled_cfg).head.eval()  # same family and widths: the classification head
    inputs = [torch.randn(1, *shape) for shape in input_shapes(cfg, "test")]
    boxes = person_boxes(inputs[0].shape[-1], num_boxes)
    backbone_ms = 1e3 * time_side_by_side({"backbone": lambda: detection.forward_features(inputs)},
                                          backbone_repeats, warmup=1)["backbone"]
    features = detection.forward_features(inputs)
    # Timed in alternation, so that machine noise hits both heads alike.
    times = time_side_by_side({"roi": lambda: detection.head(features, boxes), "pooled": lambda: pooled_head(features)},
                              repeats, warmup=2)
    roi_ms, pooled_ms = 1e3 * times["roi"], 1e3 * times["pooled"]
    roi_gflops = head_gflops(detection.head, (features, boxes))
    pooled_gflops = head_gflops(pooled_head, (features,))
    shapes = " + ".join("x".join(map(str, s)) for s in input_shapes(cfg, "test"))
    print(f"\n{path}: {cfg.MODEL.MODEL_NAME}, input {shapes}, feature stride {detection.head.feature_strides[0]}, "
          f"{num_boxes} boxes, {torch.get_num_threads()} threads")
    print(f"  backbone (shared)        {backbone_ms:10.1f} ms/clip")
    print(f"  pooled head              {pooled_ms:10.2f} ms/clip  {pooled_gflops:8.4f} GFLOPs")
    print(f"  RoI head ({num_boxes} boxes)       {roi_ms:10.2f} ms/clip  {roi_gflops:8.4f} GFLOPs (+ RoIAlign)")
    print(f"  added by the RoI head    {roi_ms - pooled_ms:+10.2f} ms/clip "
          f"({100 * (roi_ms - pooled_ms) / (backbone_ms + pooled_ms):+.2f} % of the classification forward)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cfg", nargs="+", required=True)
    parser.add_argument("--boxes", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--backbone_repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for path in args.cfg:
        benchmark(path, args.boxes, args.repeats, args.backbone_repeats)


if __name__ == "__main__":
    run_tool(main)
