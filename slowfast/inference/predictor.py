"""Clip prediction shared by the demo, the streaming API and Grad-CAM.

Three small pieces, each replaceable:

* ``Predictor``: ``__call__(inputs: List[Tensor]) -> probabilities (N, K)``, one ``(N, C, T, H, W)``
  tensor per pathway. ``PytorchPredictor`` runs the framework's model; another back end
  registers ``<Name>Predictor(cfg)`` in ``PREDICTOR_REGISTRY`` and is chosen by ``DEMO.BACKEND name``
  (``OnnxPredictor`` <- ``onnx``), the registering module being imported by ``build_predictor``.
* ``ClipPreprocessor``: a window of decoded RGB frames -> the model's pathway inputs, with the
  evaluator's own transforms (``slowfast.datasets.transforms``).
* ``sliding_windows``: any frame iterator -> windows of ``NUM_FRAMES * SAMPLING_RATE`` frames
  (at ``DATA.TARGET_FPS``, scaled to the stream's frame rate), advanced every ``DEMO.BUFFER_SIZE``
  frames.

``StreamingPredictor`` strings them together for Python users::

    for frame_index, labels, scores in StreamingPredictor(cfg).predict(frames):
        ...
"""
import collections
import time
from typing import Callable, Deque, Iterable, Iterator, List, NamedTuple, Optional, Protocol

import numpy as np
import torch
from fvcore.common.registry import Registry

from slowfast.datasets.transforms import frames_to_tchw, normalize, pack_pathway_output, short_side_scale
from slowfast.models.build import build_model, get_device
from slowfast.inference.labels import class_name, class_names_of
from slowfast.utils.errors import ConfigError

PREDICTOR_REGISTRY = Registry("PREDICTOR")
PREDICTOR_REGISTRY.__doc__ = "Inference back ends of the demo, selected by DEMO.BACKEND."


class Predictor(Protocol):
    """What the demo and the streaming API need from an inference back end."""

    def __call__(self, inputs: List[torch.Tensor]) -> torch.Tensor:
        """``inputs``: one ``(N, C, T, H, W)`` tensor per pathway -> probabilities ``(N, K)``."""


def head_activation(cfg) -> Callable[[torch.Tensor], torch.Tensor]:
    """Logits -> probabilities as ``MODEL.HEAD_ACT`` says."""
    if cfg.MODEL.HEAD_ACT == "softmax":
        return lambda logits: torch.softmax(logits, dim=1)
    if cfg.MODEL.HEAD_ACT == "sigmoid":
        return torch.sigmoid
    raise ConfigError(f"MODEL.HEAD_ACT must be 'softmax' or 'sigmoid', got {cfg.MODEL.HEAD_ACT!r}")


def load_model_for_inference(cfg, model: Optional[torch.nn.Module] = None, what: str = "the demo") -> torch.nn.Module:
    """``model`` (default: ``build_model(cfg)``) with its weights loaded, in eval mode: TEST.CHECKPOINT_FILE_PATH,
    else the newest checkpoint of OUTPUT_DIR, else TRAIN.CHECKPOINT_FILE_PATH (any layout; every model tensor
    must be filled). Without any, a model built here is refused (CheckpointError) unless
    TEST.ALLOW_RANDOM_INIT; a ``model`` the caller passes keeps the caller's weights."""
    from slowfast.engine.checkpoint import load_inference_weights, resolve_test_weights

    if model is not None and resolve_test_weights(cfg)[0] is None:
        return model.eval()
    model = model if model is not None else build_model(cfg)
    load_inference_weights(model, cfg, what=what)
    return model.eval()


@PREDICTOR_REGISTRY.register()
class PytorchPredictor:
    """The framework's own model; ``DEMO.BACKEND pytorch``.

    On the first call the model is optimised for inference at that input shape (BatchNorm
    folded, TEST.OPTIMIZE_LAYOUT's memory layout) by ``slowfast.inference.optimize`` when
    ``optimize`` is True.
    """

    def __init__(self, cfg, model: Optional[torch.nn.Module] = None, optimize: bool = True):
        from slowfast.inference.optimize import optimize_for_inference, prepare_inputs

        self._optimize_for_inference = optimize_for_inference if optimize else None
        self.layout = cfg.TEST.OPTIMIZE_LAYOUT
        self._prepare_inputs = prepare_inputs
        self.device = get_device(cfg)
        self.model = load_model_for_inference(cfg, model).to(self.device)
        self.activation = head_activation(cfg)
        self._optimized = None

    def __call__(self, inputs: List[torch.Tensor]) -> torch.Tensor:
        inputs = [x.to(self.device, non_blocking=True) for x in inputs]
        if self._optimized is None:
            optimize = self._optimize_for_inference
            self._optimized = optimize(self.model, inputs, layout=self.layout) if optimize else self.model
        with torch.inference_mode():
            logits = self._optimized(self._prepare_inputs(self._optimized, inputs))
            return self.activation(logits.float()).cpu()


def build_predictor(cfg, model: Optional[torch.nn.Module] = None) -> Predictor:
    """The back end named by ``DEMO.BACKEND``; ``model`` (default: built from ``cfg``) is passed on."""
    backend = cfg.DEMO.BACKEND.lower()
    if backend == "pytorch":
        return PytorchPredictor(cfg, model)
    from slowfast.inference import onnx_backend  # noqa: F401  (registers OnnxPredictor)

    by_lower_name = {name.lower().removesuffix("predictor"): cls for name, cls in PREDICTOR_REGISTRY}
    if backend not in by_lower_name:
        raise ConfigError(f"DEMO.BACKEND={cfg.DEMO.BACKEND!r} is not a registered predictor",
                          f"use one of {sorted(by_lower_name)}")
    backend_class = by_lower_name[backend]
    return backend_class(cfg) if model is None else backend_class(cfg, model)


class ClipPreprocessor:
    """A window of RGB frames -> the model's pathway inputs, batch of one.

    Picks ``DATA.NUM_FRAMES`` frames evenly over the window, scales their short side to
    ``DATA.TEST_CROP_SIZE`` (the whole frame is seen: no crop, as in the public demo),
    normalises with ``DATA.MEAN``/``STD`` and packs the pathways.
    """

    def __init__(self, cfg):
        self.cfg = cfg
        self.num_frames = cfg.DATA.NUM_FRAMES
        self.size = cfg.DATA.TEST_CROP_SIZE

    def frame_indices(self, window_length: int) -> np.ndarray:
        """Indices of the frames fed to the model among ``window_length`` (repeats if too few)."""
        return np.linspace(0, window_length - 1, self.num_frames).round().astype(np.int64)

    def sample(self, frames: List[np.ndarray]) -> np.ndarray:
        """The ``NUM_FRAMES`` frames of a window the model sees, uint8 ``(T, H, W, 3)``."""
        return np.stack([frames[i] for i in self.frame_indices(len(frames))])

    def prepare(self, sampled: np.ndarray) -> List[torch.Tensor]:
        """Already sampled uint8 frames ``(T, H, W, 3)`` -> pathway inputs ``(1, C, T_p, H', W')``."""
        scaled = short_side_scale(frames_to_tchw(torch.from_numpy(np.ascontiguousarray(sampled))), self.size)
        clip = normalize(scaled, self.cfg.DATA.MEAN, self.cfg.DATA.STD)
        return [x.unsqueeze(0) for x in pack_pathway_output(self.cfg, clip)]

    def __call__(self, frames: List[np.ndarray]) -> List[torch.Tensor]:
        """A window of uint8 ``(H, W, 3)`` RGB frames -> pathway inputs ``(1, C, T_p, H', W')``."""
        return self.prepare(self.sample(frames))


def window_length(cfg, fps: Optional[float] = None) -> int:
    """Source frames one prediction looks at: ``NUM_FRAMES * SAMPLING_RATE`` at ``DATA.TARGET_FPS``.

    With the source's ``fps`` known, the window keeps the duration the model was trained on
    (``SAMPLING_RATE * NUM_FRAMES / TARGET_FPS * fps`` frames, as the datasets sample), so a
    12-fps Jester model sees the same 2.7 s of a 30-fps camera.
    """
    length = cfg.DATA.NUM_FRAMES * cfg.DATA.SAMPLING_RATE
    if fps:
        length = int(round(length * float(fps) / cfg.DATA.TARGET_FPS))
    return max(1, length)


def window_stride(cfg, fps: Optional[float] = None) -> int:
    """Frames between two predictions: ``DEMO.BUFFER_SIZE`` (0 = one window length)."""
    if cfg.DEMO.BUFFER_SIZE < 0:
        raise ConfigError(f"DEMO.BUFFER_SIZE must be >= 0 (0 = one window length), got {cfg.DEMO.BUFFER_SIZE}")
    return cfg.DEMO.BUFFER_SIZE or window_length(cfg, fps)


class Window(NamedTuple):
    """One prediction's worth of frames.

    ``end_index``: index of the window's last frame in the stream; ``frames``: the window (at
    most ``length`` frames, fewer only for a stream shorter than one window); ``new_frames``:
    the frames that arrived since the previous window (what the demo labels with this window).
    """

    end_index: int
    frames: List[np.ndarray]
    new_frames: List[np.ndarray]


def sliding_windows(frames: Iterable[np.ndarray], length: int, stride: int) -> Iterator[Window]:
    """Windows of ``length`` frames, one every ``stride`` frames, ending at ``length - 1``,
    ``length - 1 + stride``, ...; a last shorter-stride window covers any frames left at the end,
    so every frame belongs to exactly one ``new_frames``.
    """
    if length < 1 or stride < 1:
        raise ValueError(f"window length and stride must be >= 1, got {length} and {stride}")
    window: Deque[np.ndarray] = collections.deque(maxlen=length)
    pending: List[np.ndarray] = []
    next_end = length - 1
    index = -1
    for index, frame in enumerate(frames):
        window.append(frame)
        pending.append(frame)
        if index == next_end:
            yield Window(index, list(window), pending)
            pending, next_end = [], next_end + stride
    if pending:
        yield Window(index, list(window), pending)


class StreamResult(NamedTuple):
    """One prediction of the stream: the window's last frame index, top-k names and scores."""

    frame_index: int
    labels: List[str]
    scores: List[float]


class StreamingPredictor:
    """Predict action labels on any stream of RGB frames as they arrive.

    Args:
        cfg: the model's config (DATA.*, MODEL.*, DEMO.BUFFER_SIZE/TOPK/LABEL_FILE_PATH/BACKEND).
        predictor: inference back end (default ``build_predictor(cfg)``).
        class_names: label names (default: ``DEMO.LABEL_FILE_PATH`` when set, else the training
            dataset's own names when it has them, else ids; see ``class_names_of``).
    """

    def __init__(self, cfg, predictor: Optional[Predictor] = None, class_names: Optional[List[str]] = None):
        self.cfg = cfg
        self.predictor = predictor if predictor is not None else build_predictor(cfg)
        self.preprocess = ClipPreprocessor(cfg)
        if class_names is None:
            class_names = class_names_of(cfg, cfg.DEMO.LABEL_FILE_PATH)
        self.class_names = class_names
        self.topk = cfg.DEMO.TOPK
        self.model_seconds = 0.0
        self.num_clips = 0

    def warm_up(self, height: int, width: int, fps: Optional[float] = None) -> float:
        """One untimed prediction on a black window of ``height x width`` frames, so that one-off
        set-up (inference optimisation, memory allocation) does not count as model time.

        Returns the seconds it took.
        """
        start = time.perf_counter()
        frames = [np.zeros((height, width, 3), np.uint8)] * window_length(self.cfg, fps)
        self.predictor(self.preprocess(frames))
        return time.perf_counter() - start

    def predict_window(self, frames: List[np.ndarray]) -> torch.Tensor:
        """Probabilities ``(K,)`` of one window of RGB frames; times the model call."""
        inputs = self.preprocess(frames)
        start = time.perf_counter()
        probabilities = self.predictor(inputs)[0]
        self.model_seconds += time.perf_counter() - start
        self.num_clips += 1
        return probabilities

    def top_labels(self, probabilities: torch.Tensor) -> StreamResult:
        """Top-k names and scores of ``probabilities`` (frame index left at -1)."""
        scores, ids = torch.topk(probabilities, min(self.topk, probabilities.numel()))
        labels = [class_name(self.class_names, int(i)) for i in ids]
        return StreamResult(-1, labels, [float(s) for s in scores])

    def predict_windows(self, frames: Iterable[np.ndarray], fps: Optional[float] = None) -> Iterator[tuple]:
        """``(Window, StreamResult)`` per window; the demo needs the window's frames too.

        ``fps``: the stream's frame rate when known (see ``window_length``).
        """
        windows = sliding_windows(frames, window_length(self.cfg, fps), window_stride(self.cfg, fps))
        for window in windows:
            result = self.top_labels(self.predict_window(window.frames))
            yield window, result._replace(frame_index=window.end_index)

    def predict(self, frames, fps: Optional[float] = None) -> Iterator[StreamResult]:
        """``(frame_index, labels, scores)`` for each window of ``frames``, as they arrive.

        ``frames``: an iterable of uint8 RGB ``(H, W, 3)`` arrays, a camera index, a file path or a
        stream URL (rtsp://...); the frame rate of a file or camera is read from it.
        """
        from slowfast.visualization.sources import open_source

        source = open_source(frames)
        for _, result in self.predict_windows(source, fps or source.fps):
            yield result

    @property
    def model_clips_per_second(self) -> float:
        """Clips per second of model time (pre-processing excluded)."""
        return self.num_clips / self.model_seconds if self.model_seconds > 0 else 0.0
