"""TensorBoard logging for the trainer and evaluator.

``TensorboardWriter(cfg)`` is created by rank 0 only (the caller decides) when
``TENSORBOARD.ENABLE``. Events go to ``TENSORBOARD.LOG_DIR`` (relative paths are inside
``OUTPUT_DIR``; "" = ``OUTPUT_DIR/runs-<dataset>``). Tags follow the public SlowFast:
``Train/loss``, ``Train/lr``, ``Train/Top1_err``, ``Val/Top1_err``.

Videos are encoded as animated GIFs with Pillow: ``SummaryWriter.add_video`` needs moviepy,
which is not a dependency of this project.
"""
import os
from typing import Dict, List, Optional, Sequence, Union

import matplotlib

matplotlib.use("Agg")  # no display on training machines
import numpy as np  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from torch.utils.tensorboard import SummaryWriter  # noqa: E402
from torch.utils.tensorboard.summary import Summary  # noqa: E402

from slowfast.inference.labels import class_name, class_names_of  # noqa: E402
from slowfast.visualization.overlay import clip_to_uint8, encode_gif  # noqa: E402

TensorOrList = Union[torch.Tensor, Sequence[torch.Tensor]]

# Above this many classes, tick labels of the confusion matrix are left out (unreadable).
_MAX_LABELLED_CLASSES = 60


def tensorboard_log_dir(cfg) -> str:
    """The event directory of ``cfg`` (see the module docstring)."""
    if cfg.TENSORBOARD.LOG_DIR:
        return os.path.join(cfg.OUTPUT_DIR, cfg.TENSORBOARD.LOG_DIR)
    dataset = cfg.TRAIN.DATASET if cfg.TRAIN.ENABLE else cfg.TEST.DATASET
    return os.path.join(cfg.OUTPUT_DIR, f"runs-{dataset}")


def _concat(tensors: TensorOrList) -> torch.Tensor:
    """Concatenate a list of per-batch tensors along dim 0 (a tensor is returned as is)."""
    if isinstance(tensors, torch.Tensor):
        return tensors.detach().cpu()
    return torch.cat([t.detach().cpu() for t in tensors], dim=0)


def confusion_matrix(preds: TensorOrList, labels: TensorOrList, num_classes: int) -> torch.Tensor:
    """Counts ``(K, K)``: row = true class, column = predicted class (arg-max of ``preds``).

    Args:
        preds: scores ``(N, K)`` or predicted ids ``(N,)`` (or lists of per-batch tensors).
        labels: true ids ``(N,)``.
    """
    preds, labels = _concat(preds), _concat(labels).long()
    predicted = preds.argmax(dim=1) if preds.dim() == 2 else preds.long()
    flat = labels * num_classes + predicted
    return torch.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def plot_confusion_matrix(cmtx: torch.Tensor, class_names: Optional[List[str]], figsize) -> Figure:
    """Row-normalised confusion matrix as a matplotlib figure."""
    counts = cmtx.double()
    normalised = (counts / counts.sum(dim=1, keepdim=True).clamp(min=1)).numpy()
    figure = Figure(figsize=tuple(figsize))
    axes = figure.add_subplot(1, 1, 1)
    image = axes.imshow(normalised, interpolation="nearest", cmap="Blues", vmin=0.0, vmax=1.0)
    figure.colorbar(image, ax=axes)
    axes.set_xlabel("Predicted label")
    axes.set_ylabel("True label")
    num_classes = normalised.shape[0]
    if num_classes <= _MAX_LABELLED_CLASSES:
        names = [class_name(class_names, i) for i in range(num_classes)]
        axes.set_xticks(range(num_classes), names, rotation=90, fontsize=6)
        axes.set_yticks(range(num_classes), names, fontsize=6)
    figure.tight_layout()
    return figure


def plot_topk_histogram(counts: torch.Tensor, k: int, class_names: Optional[List[str]], title: str) -> Figure:
    """Bar chart of the ``k`` most frequent predicted classes given one row of the confusion matrix."""
    k = min(k, counts.numel())
    values, ids = torch.topk(counts.double(), k)
    figure = Figure(figsize=(6, 4))
    axes = figure.add_subplot(1, 1, 1)
    axes.bar(range(k), values.numpy(), color="tab:blue")
    axes.set_xticks(range(k), [class_name(class_names, int(i)) for i in ids], rotation=60, fontsize=7)
    axes.set_ylabel("Frequency")
    axes.set_title(title, fontsize=9)
    figure.tight_layout()
    return figure


def video_clip_to_thwc(clip, layout: str) -> np.ndarray:
    """Reorder a clip to ``(T, H, W, C)`` uint8; ``layout`` names its axes (CTHW, TCHW or THWC)."""
    array = clip.detach().cpu().float().numpy() if isinstance(clip, torch.Tensor) else np.asarray(clip)
    if array.ndim != 4 or sorted(layout) != sorted("THWC"):
        raise ValueError(f"expected a 4-D clip with layout a permutation of THWC, got {array.shape}, {layout!r}")
    array = np.transpose(array, [layout.index(axis) for axis in "THWC"])
    if array.shape[-1] == 1:
        array = np.repeat(array, 3, axis=-1)
    return clip_to_uint8(array)


class TensorboardWriter:
    """Writes scalars, evaluation plots and videos of one run to TensorBoard."""

    def __init__(self, cfg, log_dir: Optional[str] = None):
        self.cfg = cfg
        self.log_dir = log_dir or tensorboard_log_dir(cfg)
        os.makedirs(self.log_dir, exist_ok=True)
        self.writer = SummaryWriter(log_dir=self.log_dir)
        self.class_names = class_names_of(cfg, cfg.TENSORBOARD.CLASS_NAMES_PATH)

    def add_scalars(self, data_dict: Dict[str, float], global_step: Optional[int] = None) -> None:
        """Log every ``tag: value`` of ``data_dict`` (tensors are converted with ``.item()``)."""
        for tag, value in data_dict.items():
            if isinstance(value, torch.Tensor):
                value = value.item()
            self.writer.add_scalar(tag, value, global_step)

    def add_figure(self, tag: str, figure: Figure, global_step: Optional[int] = None) -> None:
        self.writer.add_figure(tag, figure, global_step)

    def plot_eval(
        self,
        preds: TensorOrList,
        labels: TensorOrList,
        global_step: Optional[int] = None,
        tag_prefix: str = "Val",
    ) -> Optional[torch.Tensor]:
        """Confusion-matrix figure and per-class top-k prediction histograms, each when enabled.

        Args:
            preds: scores ``(N, K)`` (or a list of per-batch tensors).
            labels: true ids ``(N,)``.
        Returns:
            the confusion matrix ``(K, K)`` when anything was plotted, else None.
        """
        tb = self.cfg.TENSORBOARD
        if not (tb.CONFUSION_MATRIX.ENABLE or tb.HISTOGRAM.ENABLE):
            return None
        cmtx = confusion_matrix(preds, labels, self.cfg.MODEL.NUM_CLASSES)
        if tb.CONFUSION_MATRIX.ENABLE:
            figure = plot_confusion_matrix(cmtx, self.class_names, tb.CONFUSION_MATRIX.FIGSIZE)
            self.add_figure(f"{tag_prefix}/Confusion_Matrix", figure, global_step)
        if tb.HISTOGRAM.ENABLE:
            for class_id in torch.nonzero(cmtx.sum(dim=1)).flatten().tolist():
                name = class_name(self.class_names, class_id)
                title = f"Top {tb.HISTOGRAM.TOPK} predictions for true class {name}"
                figure = plot_topk_histogram(cmtx[class_id], tb.HISTOGRAM.TOPK, self.class_names, title)
                self.add_figure(f"{tag_prefix}/Top{tb.HISTOGRAM.TOPK}_Predictions/{name}", figure, global_step)
        return cmtx

    def add_video(
        self, tag: str, clip, global_step: Optional[int] = None, fps: float = 4.0, layout: str = "CTHW"
    ) -> None:
        """Log one clip as an animated GIF.

        Args:
            clip: a 4-D tensor or array whose axes ``layout`` names (default ``(C, T, H, W)``, the
                layout of a dataset item); floats in [0, 1] or uint8.
        """
        frames = video_clip_to_thwc(clip, layout)
        height, width, channels = frames.shape[1:]
        image = Summary.Image(
            height=height, width=width, colorspace=channels, encoded_image_string=encode_gif(frames, fps)
        )
        summary = Summary(value=[Summary.Value(tag=tag, image=image)])
        self.writer._get_file_writer().add_summary(summary, global_step)

    def unnormalize(self, clip: torch.Tensor) -> torch.Tensor:
        """Undo ``DATA.MEAN``/``DATA.STD`` normalisation of a ``(C, T, H, W)`` clip; result in [0, 1]."""
        mean = torch.tensor(self.cfg.DATA.MEAN, dtype=clip.dtype).view(-1, 1, 1, 1)
        std = torch.tensor(self.cfg.DATA.STD, dtype=clip.dtype).view(-1, 1, 1, 1)
        return (clip.detach().cpu() * std + mean).clamp(0.0, 1.0)

    def add_wrong_predictions(
        self,
        inputs: List[torch.Tensor],
        preds: torch.Tensor,
        labels: torch.Tensor,
        global_step: Optional[int] = None,
        video_index: Optional[torch.Tensor] = None,
    ) -> int:
        """Log every wrongly predicted clip of a batch (``TENSORBOARD.WRONG_PRED_VIS``).

        Args:
            inputs: per-pathway normalised batches ``(N, C, T, H, W)``.
            preds: scores ``(N, K)``; labels: ``(N,)``; video_index: ``(N,)`` ids used in the tag.
        Returns:
            the number of wrongly predicted clips logged.
        """
        if not self.cfg.TENSORBOARD.WRONG_PRED_VIS.ENABLE:
            return 0
        predicted = preds.detach().cpu().argmax(dim=1)
        labels = labels.detach().cpu()
        wrong = torch.nonzero(predicted != labels).flatten().tolist()
        prefix = self.cfg.TENSORBOARD.WRONG_PRED_VIS.TAG
        for i in wrong:
            sample_id = int(video_index[i]) if video_index is not None else i
            truth = class_name(self.class_names, int(labels[i]))
            guess = class_name(self.class_names, int(predicted[i]))
            for pathway, batch in enumerate(inputs):
                tag = f"{prefix}/video {sample_id} pathway {pathway}: true {truth}, predicted {guess}"
                self.add_video(tag, self.unnormalize(batch[i]), global_step)
        return len(wrong)

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        self.writer.flush()
        self.writer.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
