"""onnxruntime back end of the demo and the streaming API (``DEMO.BACKEND onnx``).

``OnnxPredictor(cfg)`` has the interface of ``slowfast.inference.predictor.Predictor``:
``__call__(inputs: List[Tensor]) -> probabilities (N, K)``, one ``(N, C, T, H, W)`` tensor per
pathway. It runs ``DEPLOY.ONNX_PATH``; when that is empty it exports the configured model
(``TEST.CHECKPOINT_FILE_PATH`` weights) at the first clip's shape to
``OUTPUT_DIR/deploy/<MODEL_NAME>.onnx``, checks the export against eager, and runs that.
"""
import copy
import logging
import os
from typing import List, Optional

import torch

from slowfast.deploy.export import export_onnx, onnx_session, run_onnx, verify_onnx
from slowfast.inference.predictor import PREDICTOR_REGISTRY, head_activation, load_model_for_inference

logger = logging.getLogger(__name__)


def default_onnx_path(cfg) -> str:
    """Where an on-the-fly export goes: ``OUTPUT_DIR/deploy/<MODEL_NAME>.onnx``."""
    return os.path.join(cfg.OUTPUT_DIR, "deploy", f"{cfg.MODEL.MODEL_NAME}.onnx")


@PREDICTOR_REGISTRY.register()
class OnnxPredictor:
    """Clip -> probabilities through an onnxruntime CPU session.

    Args:
        cfg: DEPLOY.ONNX_PATH / INTRA_OP_THREADS / ONNX_OPSET / ONNX_ATTENTION / TOLERANCE,
            MODEL.HEAD_ACT, and (for an on-the-fly export) the model and TEST.CHECKPOINT_FILE_PATH.
        model: export this model instead of building ``cfg``'s (only without DEPLOY.ONNX_PATH).
    """

    def __init__(self, cfg, model: Optional[torch.nn.Module] = None):
        self.cfg = cfg
        self.activation = head_activation(cfg)
        self.model = model
        self.session = None
        if cfg.DEPLOY.ONNX_PATH:
            if not os.path.isfile(cfg.DEPLOY.ONNX_PATH):
                raise FileNotFoundError(f"DEPLOY.ONNX_PATH: ONNX file not found: {cfg.DEPLOY.ONNX_PATH}")
            self.path = cfg.DEPLOY.ONNX_PATH
            self.session = self._session()
        else:
            self.path = default_onnx_path(cfg)

    def _session(self):
        """onnxruntime session of ``self.path``: DEPLOY.INTRA_OP_THREADS threads (0 = as many as torch
        uses; the demo sets all cores but one), idle threads sleeping, since the demo's reader and
        writer threads need the cores too."""
        threads = self.cfg.DEPLOY.INTRA_OP_THREADS or torch.get_num_threads()
        return onnx_session(self.path, threads, spin_wait=False)

    def _export(self, inputs: List[torch.Tensor]) -> None:
        """Export the configured model at the shape of ``inputs`` (batch axis dynamic) and check it."""
        model = load_model_for_inference(self.cfg, self.model)
        if any(p.device.type != "cpu" for p in model.parameters()):
            model = copy.deepcopy(model).cpu()  # export on the CPU without moving the caller's model
        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        example = [x[:1].cpu() for x in inputs]
        export_onnx(model, example, self.path, opset=self.cfg.DEPLOY.ONNX_OPSET, attention=self.cfg.DEPLOY.ONNX_ATTENTION)
        verify_onnx(model, self.path, example, batch_size=1, tolerance=self.cfg.DEPLOY.TOLERANCE)
        logger.info("exported %s to %s for the onnx back end", self.cfg.MODEL.MODEL_NAME, self.path)
        self.session = self._session()

    def _check_shapes(self, inputs: List[torch.Tensor]) -> None:
        expected = self.session.get_inputs()
        if len(expected) != len(inputs):
            raise ValueError(f"{self.path} takes {len(expected)} pathway inputs, got {len(inputs)}")
        for graph_input, x in zip(expected, inputs):
            fixed = [d for d in graph_input.shape[1:]]
            if any(isinstance(d, int) and d != s for d, s in zip(fixed, x.shape[1:])) or x.dim() != len(graph_input.shape):
                raise ValueError(
                    f"{self.path} input '{graph_input.name}' expects (N, {', '.join(map(str, fixed))}), "
                    f"got {tuple(x.shape)}: export the model at this clip shape (DATA.NUM_FRAMES, DATA.TEST_CROP_SIZE)"
                )

    def __call__(self, inputs: List[torch.Tensor]) -> torch.Tensor:
        if self.session is None:
            self._export(inputs)
        self._check_shapes(inputs)
        return self.activation(run_onnx(self.session, inputs))
