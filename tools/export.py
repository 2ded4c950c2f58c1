#!/usr/bin/env python3
"""Export a trained model to ONNX or TorchScript and check the export against eager PyTorch.

    python tools/export.py --cfg configs/Kinetics/SLOWFAST_SHUFFLENETV2_W1.0_8x8_R50_stepwise_multigrid.yaml \\
        --checkpoint ck.pyth --format onnx --output sfsnv2.onnx
    python tools/export.py --cfg X.yaml --checkpoint ck.pyth --format torchscript --output m.pt MODEL.NUM_CLASSES 27

The input is one clip per pathway at ``DATA.NUM_FRAMES`` (slow: ``/ SLOWFAST.ALPHA``) and
``DATA.TEST_CROP_SIZE`` square (``--input-size H W`` for another size, e.g. the demo's frame
aspect); the batch axis stays dynamic. After writing, the file is run (onnxruntime /
``torch.jit.load``) on random input at batch 2, the largest |difference| to eager is printed and
the tool exits 1 if it exceeds ``--tolerance`` (default ``DEPLOY.TOLERANCE``).
The logic lives in ``slowfast.deploy.export``.
"""
import logging
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402

from slowfast.config.loader import build_arg_parser, load_config, parse_args  # noqa: E402
from slowfast.deploy.export import ExportMismatchError, export_and_verify  # noqa: E402
from slowfast.inference.optimize import fold_batchnorm  # noqa: E402
from slowfast.models.build import build_model  # noqa: E402
from slowfast.models.info import input_shapes  # noqa: E402

logger = logging.getLogger("export")


def build_parser():
    parser = build_arg_parser("Export a model to ONNX or TorchScript and verify it against eager.")
    parser.add_argument("--checkpoint", default="",
                        help="Weights to export (any layout tools/convert_checkpoint.py reads); default "
                             "TEST.CHECKPOINT_FILE_PATH (random weights only with TEST.ALLOW_RANDOM_INIT True).")
    parser.add_argument("--format", choices=["onnx", "torchscript"], default="onnx")
    parser.add_argument("--output", required=True, help="File to write (.onnx / .pt).")
    parser.add_argument("--opset", type=int, default=None, help="ONNX opset (>= 17); default DEPLOY.ONNX_OPSET.")
    parser.add_argument("--attention", choices=["fused", "plain"], default=None,
                        help="ONNX attention: onnxruntime's fused MultiHeadAttention or portable ops; "
                             "default DEPLOY.ONNX_ATTENTION.")
    parser.add_argument("--script-method", choices=["trace", "script"], default="trace",
                        help="TorchScript by tracing (every model) or scripting.")
    parser.add_argument("--input-size", type=int, nargs=2, metavar=("H", "W"), default=None,
                        help="Spatial input size; default DATA.TEST_CROP_SIZE square.")
    parser.add_argument("--fold-bn", action="store_true",
                        help="Fold BatchNorm into convolutions before exporting (onnxruntime does this itself).")
    parser.add_argument("--tolerance", type=float, default=None, help="Largest accepted |export - eager|.")
    return parser


def example_inputs(cfg, input_size=None):
    """One random clip per pathway ``(1, C, T, H, W)`` at the export size."""
    shapes = input_shapes(cfg, "test")
    if input_size:
        shapes = [(c, t) + tuple(input_size) for c, t, _, _ in shapes]
    generator = torch.Generator().manual_seed(0)
    return [torch.randn(1, *shape, generator=generator) for shape in shapes]


def load_model(cfg, checkpoint: str):
    """The configured model on the CPU with ``checkpoint`` (else TEST.CHECKPOINT_FILE_PATH, the newest of
    OUTPUT_DIR, TRAIN.CHECKPOINT_FILE_PATH) loaded, eval mode; no checkpoint at all is refused unless
    TEST.ALLOW_RANDOM_INIT True."""
    from slowfast.engine.checkpoint import load_inference_weights

    model = build_model(cfg, device=torch.device("cpu"))
    path = load_inference_weights(model, cfg, path=checkpoint, what="export")
    if path:
        logger.info("loaded weights from %s", path)
    return model.eval()


def main(argv=None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = build_parser()
    args = parse_args(argv, parser)
    if len(args.cfg_files) != 1:
        parser.error("give exactly one --cfg X.yaml")
    cfg = load_config(args, args.cfg_files[0], opts=["NUM_GPUS", "0"])
    model = load_model(cfg, args.checkpoint)
    inputs = example_inputs(cfg, args.input_size)
    if args.fold_bn:
        model = fold_batchnorm(model, inputs)
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    try:
        export_and_verify(
            model, inputs, args.output, fmt=args.format,
            opset=args.opset or cfg.DEPLOY.ONNX_OPSET,
            attention=args.attention or cfg.DEPLOY.ONNX_ATTENTION,
            script_method=args.script_method,
            tolerance=args.tolerance if args.tolerance is not None else cfg.DEPLOY.TOLERANCE,
        )
    except ExportMismatchError as error:
        print(f"export check FAILED: {error}", file=sys.stderr)
        return 1
    print(f"wrote {args.format} model to {args.output}")
    return 0


if __name__ == "__main__":
    from slowfast.utils.cli import run_tool  # user errors: one line, exit 2

    run_tool(main)
