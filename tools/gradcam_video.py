#!/usr/bin/env python3
"""Grad-CAM of one video: per-frame overlay PNGs and an animated GIF per layer and pathway.

    python tools/gradcam_video.py --yaml_cfg configs/Kinetics/X.yaml --checkpoint_pth ck.pyth \\
        --target_layer s4_fuse --root_path videos/ --video_path 20376.mp4 \\
        [--target_label N] [--output_dir D] [--label_file names.txt] [KEY VALUE ...]

The centre window of the video (``DATA.NUM_FRAMES * DATA.SAMPLING_RATE`` frames) is explained,
for the predicted class or ``--target_label``. Several layers may be given, comma-separated.
Output (default ``OUTPUT_DIR/gradcam/<video name>``): ``<layer>/<slow|fast>/frame_000.png ...``,
``<layer>_<slow|fast>.gif`` and ``summary.json`` with the predicted label.
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from slowfast.config.loader import ConfigError, load_config, parse_args  # noqa: E402
from slowfast.visualization.gradcam import explain_video  # noqa: E402
from slowfast.inference.labels import class_names_of  # noqa: E402
from slowfast.inference.predictor import load_model_for_inference  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--yaml_cfg", required=True, help="model config (YAML, _BASE_ allowed)")
    parser.add_argument("--checkpoint_pth", required=True, help="trained weights (.pyth)")
    parser.add_argument("--target_layer", default="s5",
                        help="module name(s) of the model, comma-separated (s4_fuse, s5, s8, ...)")
    parser.add_argument("--root_path", default="", help="folder that --video_path is relative to")
    parser.add_argument("--video_path", required=True, help="the video to explain")
    parser.add_argument("--target_label", type=int, default=None, help="class to explain (default: predicted)")
    parser.add_argument("--output_dir", default="", help="default: OUTPUT_DIR/gradcam/<video name>")
    parser.add_argument("--label_file", default="",
                        help="class names (default: DEMO.LABEL_FILE_PATH of the config)")
    parser.add_argument("--alpha", type=float, default=0.5, help="opacity of the heat map over the frames")
    parser.add_argument("--opts", nargs=argparse.REMAINDER, default=[], help="KEY VALUE config overrides")
    return parser


def main(argv=None) -> dict:
    args = parse_args(argv, build_parser())
    cfg = load_config(args, args.yaml_cfg)
    cfg.TEST.CHECKPOINT_FILE_PATH = args.checkpoint_pth
    video_path = os.path.join(args.root_path, args.video_path)
    if not os.path.isfile(video_path):
        raise FileNotFoundError(f"video not found: {video_path} (--root_path + --video_path)")
    class_names = class_names_of(cfg, args.label_file or cfg.DEMO.LABEL_FILE_PATH)
    if args.target_label is not None and not 0 <= args.target_label < cfg.MODEL.NUM_CLASSES:
        raise ConfigError(f"--target_label {args.target_label} is not in [0, MODEL.NUM_CLASSES={cfg.MODEL.NUM_CLASSES})",
                          f"give a class id below {cfg.MODEL.NUM_CLASSES}, or leave it out to explain the predicted class")
    output_dir = args.output_dir or os.path.join(
        cfg.OUTPUT_DIR, "gradcam", os.path.splitext(os.path.basename(video_path))[0]
    )
    model = load_model_for_inference(cfg, what="Grad-CAM")
    layers = [layer.strip() for layer in args.target_layer.split(",") if layer.strip()]
    summary = explain_video(cfg, model, video_path, layers, output_dir, args.target_label, class_names, args.alpha)
    os.makedirs(output_dir, exist_ok=True)
    with open(os.path.join(output_dir, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    print(
        f"{video_path}: predicted {summary['predicted_name']} ({summary['predicted_probability']:.3f}); "
        f"Grad-CAM of class {summary['explained_label']} for {', '.join(layers)} written to {output_dir}"
    )
    return summary


if __name__ == "__main__":
    from slowfast.utils.cli import run_tool  # user errors: one line, exit 2

    run_tool(main)
