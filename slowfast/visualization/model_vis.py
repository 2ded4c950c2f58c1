"""TensorBoard visualisation of a model on the test set (``TENSORBOARD.MODEL_VIS``, ``WRONG_PRED_VIS``).

The test loop creates one ``TestSetVisualizer`` (rank 0, when ``TestSetVisualizer.enabled(cfg)``)
and calls ``visualize_batch`` with each batch and the model's output::

    visualizer = TestSetVisualizer(cfg, model) if TestSetVisualizer.enabled(cfg) else None
    ...
    if visualizer is not None:
        visualizer.visualize_batch(inputs, labels, logits, video_index)
    ...
    if visualizer is not None:
        visualizer.close()

Per clip, for the first ``MODEL_VIS.NUM_CLIPS`` clips: the input clip of each pathway
(``MODEL_VIS.INPUT_VIDEO``) and a Grad-CAM overlay per layer of ``GRAD_CAM.LAYER_LIST`` and
pathway (``GRAD_CAM.ENABLE``); for every batch, the wrongly predicted clips (``WRONG_PRED_VIS``).
Grad-CAM runs its own backward pass, so the test loop may stay under ``torch.no_grad()``.
"""
from typing import List, Optional

import torch
from torch import nn

from slowfast.visualization.gradcam import GradCAM, overlay_clip
from slowfast.inference.labels import class_name
from slowfast.visualization.tensorboard import TensorboardWriter
from slowfast.utils.errors import ConfigError


class TestSetVisualizer:
    """Logs inputs, Grad-CAM overlays and wrong predictions of test batches to TensorBoard."""

    __test__ = False  # not a pytest test class despite its name

    def __init__(self, cfg, model: nn.Module, writer: Optional[TensorboardWriter] = None):
        self.cfg = cfg
        self.model = model
        self.writer = writer if writer is not None else TensorboardWriter(cfg)
        self._owns_writer = writer is None
        vis = cfg.TENSORBOARD.MODEL_VIS
        self.gradcam = None
        if vis.ENABLE and vis.GRAD_CAM.ENABLE:
            if not vis.GRAD_CAM.LAYER_LIST:
                raise ConfigError("TENSORBOARD.MODEL_VIS.GRAD_CAM.ENABLE needs layer names in GRAD_CAM.LAYER_LIST")
            self.gradcam = GradCAM(model, list(vis.GRAD_CAM.LAYER_LIST))
        self.clips_seen = 0
        self.batches_seen = 0

    @staticmethod
    def enabled(cfg) -> bool:
        """Whether the config asks for any test-set visualisation."""
        tb = cfg.TENSORBOARD
        return tb.ENABLE and (tb.MODEL_VIS.ENABLE or tb.WRONG_PRED_VIS.ENABLE)

    def visualize_batch(
        self,
        inputs: List[torch.Tensor],
        labels: torch.Tensor,
        preds: torch.Tensor,
        video_index: Optional[torch.Tensor] = None,
    ) -> None:
        """Visualise one test batch.

        Args:
            inputs: per-pathway ``(N, C, T, H, W)`` normalised clips (on the model's device).
            labels: ``(N,)`` true classes; preds: ``(N, K)`` logits or probabilities.
            video_index: ``(N,)`` ids used in the tags (default: running clip count).
        """
        step = self.batches_seen
        self.batches_seen += 1
        if video_index is None:
            video_index = torch.arange(self.clips_seen, self.clips_seen + labels.numel())
        self.writer.add_wrong_predictions(inputs, preds, labels, step, video_index)
        vis = self.cfg.TENSORBOARD.MODEL_VIS
        wanted = min(labels.numel(), vis.NUM_CLIPS - self.clips_seen) if vis.ENABLE else 0
        if wanted <= 0:
            return
        clips = [x[:wanted] for x in inputs]
        ids = [int(i) for i in video_index[:wanted]]
        self.clips_seen += wanted
        if vis.INPUT_VIDEO:
            for i, clip_id in enumerate(ids):
                for pathway, batch in enumerate(clips):
                    self.writer.add_video(f"Input/video {clip_id} pathway {pathway}", self.writer.unnormalize(batch[i]))
        if self.gradcam is not None:
            self._log_gradcam(clips, labels[:wanted], ids)

    def _log_gradcam(self, clips: List[torch.Tensor], labels: torch.Tensor, ids: List[int]) -> None:
        """One overlay video per clip, layer and pathway, explaining the predicted class."""
        result = self.gradcam(clips)
        names = self.writer.class_names
        for layer, maps in result.maps.items():
            for cam, pathway in zip(maps, result.pathways[layer]):
                for i, clip_id in enumerate(ids):
                    frames = overlay_clip(clips[pathway][i].cpu(), cam[i].cpu(), self.cfg)
                    truth = class_name(names, int(labels[i]))
                    guess = class_name(names, int(result.targets[i]))
                    tag = f"Grad-CAM/{layer}/video {clip_id} pathway {pathway}: true {truth}, predicted {guess}"
                    self.writer.add_video(tag, frames, layout="THWC")

    def close(self) -> None:
        if self._owns_writer:
            self.writer.close()
        else:
            self.writer.flush()
