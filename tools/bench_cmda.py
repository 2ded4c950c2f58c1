#!/usr/bin/env python3
"""Time and peak memory of one CMDA forward: SDPA (tiled) vs the materialised N×N attention.

Default size = SlowFast-GhostNet W1.0 s1_fuse: slow (16, 4, 56, 56), fast (4, 16, 56, 56), so the
position attention runs over N = 4·56·56 = 12,544 positions of C' = 16 // 8 = 2 channels.

    python tools/bench_cmda.py --batch 8 --variant sdpa
    python tools/bench_cmda.py --batch 1 --variant both      # each variant in a fresh process

Peak memory is the process's max RSS growth over the baseline after inputs and module exist
(each variant runs in its own process so the two do not share a high-water mark). The
materialised variant needs about 2·B·N²·4 bytes (≈ 10 GiB at batch 8): mind shared machines.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402

from slowfast.models.blocks.attention import materialised_attention, memory_efficient_attention  # noqa: E402
from slowfast.models.fusion import CMDA  # noqa: E402

VARIANTS = {"sdpa": memory_efficient_attention, "materialised": materialised_attention}


def _max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def bench_cmda(variant: str, batch: int, dim_slow: int = 16, dim_fast: int = 4, slow_frames: int = 4,
               size: int = 56, alpha: int = 4, beta_inv: int = 8, repeats: int = 3) -> dict:
    """Median forward time (s) and peak RSS growth (MiB) of one eval-mode CMDA forward."""
    torch.manual_seed(0)
    fuse = CMDA(dim_slow, dim_fast, alpha, beta_inv, attention_fn=VARIANTS[variant]).eval()
    with torch.no_grad():
        fuse.s2f_attention.gamma.fill_(0.5)  # a trained gate: the attention output is used
    x_slow = torch.randn(batch, dim_slow, slow_frames, size, size)
    x_fast = torch.randn(batch, dim_fast, slow_frames * alpha, size, size)
    baseline = _max_rss_mib()
    times = []
    with torch.no_grad():
        for _ in range(repeats + 1):  # first run is warm-up
            start = time.perf_counter()
            fuse([x_slow, x_fast])
            times.append(time.perf_counter() - start)
    return {
        "variant": variant, "batch": batch, "positions": slow_frames * size * size,
        "median_s": round(statistics.median(times[1:]), 4), "peak_rss_growth_mib": round(_max_rss_mib() - baseline, 1),
        "threads": torch.get_num_threads(),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--variant", choices=[*VARIANTS, "both"], default="both")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    if args.variant != "both":
        print(json.dumps(bench_cmda(args.variant, args.batch, repeats=args.repeats)))
        return 0
    for variant in VARIANTS:
        cmd = [sys.executable, os.path.abspath(__file__), "--batch", str(args.batch),
               "--variant", variant, "--repeats", str(args.repeats)]
        subprocess.run(cmd, check=True)
    return 0


if __name__ == "__main__":
    from slowfast.utils.cli import run_tool  # user errors: one line, exit 2

    run_tool(main)
