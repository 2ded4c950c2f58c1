#!/usr/bin/env python3
"""Score an AVA detections CSV with the official frame-level protocol (mAP at IoU 0.5).

    python tools/eval_ava.py --groundtruth ava_val_v2.2.csv --detections detections.csv \
        --labelmap ava_action_list_v2.2_for_activitynet_2019.pbtxt \
        [--exclusions ava_val_excluded_timestamps_v2.2.csv]

Prints the AP of every label-map class (``nan`` for a class without ground truth), then a last
line ``mAP@0.5IOU: 0.xxxxxx``. The protocol is documented in ``slowfast/engine/ava_metrics.py``.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from slowfast.engine.ava_metrics import frame_map, read_csv, read_exclusions, read_labelmap  # noqa: E402


def main(argv=None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groundtruth", required=True, help="ground-truth CSV (video_id,timestamp,x1,y1,x2,y2,action_id[,person_id])")
    parser.add_argument("--detections", required=True, help="detections CSV (video_id,timestamp,x1,y1,x2,y2,action_id,score)")
    parser.add_argument("--labelmap", required=True, help="label map pbtxt: the evaluated classes")
    parser.add_argument("--exclusions", default="", help="excluded timestamps CSV (video_id,timestamp)")
    args = parser.parse_args(argv)
    categories, whitelist = read_labelmap(args.labelmap)
    excluded = read_exclusions(args.exclusions) if args.exclusions else set()
    groundtruth = read_csv(args.groundtruth, whitelist, has_score=False)
    detections = read_csv(args.detections, whitelist, has_score=True)
    mean_ap, per_class = frame_map(groundtruth, detections, categories, excluded)
    for category in categories:
        print(f"{category['id']:>4d} {category['name']}: {per_class[category['name']]:.6f}")
    print(f"mAP@0.5IOU: {mean_ap:.6f}")
    return mean_ap


if __name__ == "__main__":
    from slowfast.utils.cli import run_tool  # user errors: one line, exit 2

    run_tool(main)
