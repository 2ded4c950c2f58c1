#!/usr/bin/env python3
"""Convert a checkpoint of another codebase into this framework's format, checking every tensor.

    python tools/convert_checkpoint.py --cfg X.yaml --input FILE --output OUT.pyth [--type T] [KEY VALUE ...]

``FILE`` may be this framework's or public SlowFast's ``.pyth``, a released Efficient-SlowFast
``.pyth``, an Efficient-3DCNNs ``.pth`` or a SlowFast Caffe2 ``.pkl``; its layout is detected
(``--type auto``, the default being TEST.CHECKPOINT_TYPE) or named (``pytorch``, ``caffe2``,
``efficient_slowfast``, ``efficient_3dcnns``). The config (with overrides such as
``SLOWFAST.WIDTH_MULTI 1.0 MODEL.NUM_CLASSES 400``) must describe the checkpoint's architecture.

Prints the detected layout and ``loaded N/N tensors`` (N: parameters and running statistics;
``num_batches_tracked`` counters are not weights), lists the training state it ignores (optimizer
state, Caffe2 ``*_momentum``/``lr``/``model_iter``), and writes ``OUT.pyth`` atomically:
``{"model_state", "cfg", "converted_from"}``, whose ``model_state`` loads with ``strict=True``.
If any model tensor is not filled or any input tensor not used, it writes nothing, names every one
of them and exits with code 2.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from slowfast.config.loader import build_arg_parser, load_config, parse_args  # noqa: E402
from slowfast.utils.errors import CheckpointError  # noqa: E402


def build_parser():
    parser = build_arg_parser("Convert a checkpoint of another codebase into this framework's format.")
    parser.add_argument("--input", required=True, help="checkpoint to convert (.pyth, .pth or Caffe2 .pkl)")
    parser.add_argument("--output", required=True, help="file to write (.pyth)")
    parser.add_argument("--type", default=None,
                        help="layout: auto, pytorch, caffe2, efficient_slowfast, efficient_3dcnns "
                             "(default TEST.CHECKPOINT_TYPE)")
    return parser


def _print_names(title: str, names, stream) -> None:
    print(f"{title} ({len(names)}):", file=stream)
    for name in names:
        print(f"  {name}", file=stream)


def convert(cfg, input_path: str, output_path: str, checkpoint_type: str = "auto", stream=None):
    """Convert ``input_path`` for the model ``cfg`` builds and write ``output_path``; returns the
    :class:`~slowfast.engine.checkpoint.LoadReport`. Raises CheckpointError (after printing every
    gap to stderr) when the conversion is incomplete."""
    import torch

    from slowfast.engine import checkpoint as cu
    from slowfast.models.build import build_model

    stream = stream or sys.stdout
    model = build_model(cfg, device=torch.device("cpu"))
    checkpoint = cu.read_checkpoint(input_path, checkpoint_type)
    loadable, report = cu.match_checkpoint(checkpoint, model, cfg, checkpoint_type, input_path)
    print(f"layout: {report.layout}" + (" (detected)" if checkpoint_type == "auto" else ""), file=stream)
    if report.architecture:
        print(report.architecture, file=stream)
    print(report.summary(), file=stream)
    if report.ignored:
        print(f"ignored (training state): {len(report.ignored)}: " + ", ".join(report.ignored[:8])
              + (", ..." if len(report.ignored) > 8 else ""), file=stream)
    if not report.complete:
        mismatched = [f"{name}: checkpoint {theirs} vs model {ours}" for name, theirs, ours in report.mismatched]
        _print_names("model tensors with another shape in the checkpoint", mismatched, sys.stderr)
        _print_names("model tensors not filled", report.missing, sys.stderr)
        _print_names("input tensors not used", report.unexpected, sys.stderr)
        raise CheckpointError(
            f"{input_path} does not convert completely: {report.summary()}",
            hint="give the config (and overrides) the checkpoint was trained with; every gap is listed above",
            details=report.gap_lines()[:1] if report.architecture else [],
        )
    cu.apply_weights(model, loadable)
    cu.atomic_torch_save({
        "model_state": model.state_dict(),
        "cfg": cfg.dump(),
        "converted_from": {"path": os.path.abspath(input_path), "layout": report.layout},
    }, output_path)
    print(f"wrote {output_path}", file=stream)
    return report


def main(argv=None) -> int:
    parser = build_parser()
    args = parse_args(argv, parser)
    if len(args.cfg_files) != 1:
        parser.error("give exactly one --cfg X.yaml")
    cfg = load_config(args, args.cfg_files[0], opts=["NUM_GPUS", "0"])
    convert(cfg, args.input, args.output, args.type or cfg.TEST.CHECKPOINT_TYPE)
    return 0


if __name__ == "__main__":
    from slowfast.utils.cli import run_tool

    run_tool(main)
