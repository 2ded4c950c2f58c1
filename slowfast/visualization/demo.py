"""Demo: label a video (file or camera) with the model's top classes and write or show it.

Three stages overlap, joined by bounded queues so none runs ahead of the others by more than
a couple of windows:

    reader thread  --frames-->  inference (caller's thread)  --labelled frames-->  writer thread
    (PyAV/OpenCV)               sliding windows + Predictor                        (overlay, mp4/window)

A window of ``NUM_FRAMES * SAMPLING_RATE`` frames (at ``DATA.TARGET_FPS``; scaled to the input's
frame rate) is classified every ``DEMO.BUFFER_SIZE`` frames (0 = one window length); the frames
that arrived since the previous prediction are drawn with its top ``DEMO.TOPK`` labels and the
FPS measured so far. The output has the input's size, frame rate (or ``DEMO.OUTPUT_FPS``) and
frame count. Torch runs on ``DEMO.NUM_THREADS`` threads (default: all cores but one).
"""
import contextlib
import logging
import os
import queue
import threading
import time
from typing import Iterable, Iterator, NamedTuple, Optional

import numpy as np

from slowfast.visualization.overlay import draw_text_lines, prediction_lines
from slowfast.inference.predictor import Predictor, StreamingPredictor, window_length, window_stride
from slowfast.visualization.sources import FrameSource, Mp4Writer, WindowDisplay, demo_source
from slowfast.utils.errors import ConfigError

logger = logging.getLogger(__name__)

# Frame rate assumed for a camera that does not report one.
_DEFAULT_FPS = 30
_END = object()


class _Failure:
    """Carries an exception from a worker thread to the thread that consumes its queue."""

    def __init__(self, error: BaseException):
        self.error = error


class DemoStats(NamedTuple):
    """What a demo run measured."""

    num_frames: int
    num_clips: int
    setup_seconds: float  # the untimed warm-up prediction (inference optimisation) before the first frame
    wall_seconds: float  # first frame read to last frame written
    model_clips_per_second: float
    model_frames_per_second: float  # video frames per second the model alone sustains at this stride
    end_to_end_fps: float  # frames written per second of wall time, start to finish


def _put(target: queue.Queue, item, stop: threading.Event) -> bool:
    """Put ``item`` unless ``stop`` is set first; False when stopped."""
    while not stop.is_set():
        try:
            target.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _drain(source: queue.Queue, stop: threading.Event) -> Iterator:
    """Items of ``source`` until the end marker or ``stop``; re-raises a worker thread's exception."""
    while not stop.is_set():
        try:
            item = source.get(timeout=0.1)
        except queue.Empty:
            continue
        if item is _END:
            return
        if isinstance(item, _Failure):
            raise item.error
        yield item


def _read_frames(frames: Iterable[np.ndarray], target: queue.Queue, stop: threading.Event) -> None:
    """Reader thread: every frame of ``frames`` into ``target``, then the end marker."""
    try:
        for frame in frames:
            if not _put(target, frame, stop):
                return
        _put(target, _END, stop)
    except BaseException as error:  # handed to the consumer, which re-raises it
        _put(target, _Failure(error), stop)


class _OutputWriter:
    """Writer thread body: draws each labelled frame and hands it to the sink (mp4 or window)."""

    def __init__(self, cfg, fps):
        self.cfg, self.fps = cfg, fps
        self.sink = None
        self.error: Optional[BaseException] = None

    def _open_sink(self, frame: np.ndarray):
        if self.cfg.DEMO.OUTPUT_FILE:
            height, width = frame.shape[:2]
            return Mp4Writer(self.cfg.DEMO.OUTPUT_FILE, width, height, self.fps)
        return WindowDisplay(width=self.cfg.DEMO.DISPLAY_WIDTH, height=self.cfg.DEMO.DISPLAY_HEIGHT)

    def run(self, source: queue.Queue, stop: threading.Event) -> None:
        try:
            for frames, lines in _drain(source, stop):
                for frame in frames:
                    if self.sink is None:
                        self.sink = self._open_sink(frame)
                    # Copy: the inference stage still holds these frames for overlapping windows.
                    self.sink.write(draw_text_lines(frame.copy(), lines))
                    if getattr(self.sink, "closed_by_user", False):
                        stop.set()
                        return
        except BaseException as error:
            self.error = error
            stop.set()
        finally:
            if self.sink is not None:
                self.sink.close()


def demo_torch_threads(cfg) -> int:
    """``DEMO.NUM_THREADS``, or all available cores but one (the reader and writer need a core:
    with every core busy, OpenMP threads wait on each other and small convolutions slow down a lot)."""
    if cfg.DEMO.NUM_THREADS < 0:
        raise ConfigError(f"DEMO.NUM_THREADS must be >= 0 (0 = automatic), got {cfg.DEMO.NUM_THREADS}")
    if cfg.DEMO.NUM_THREADS:
        return cfg.DEMO.NUM_THREADS
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores - 1)


@contextlib.contextmanager
def torch_threads(count: int):
    """Run the block with ``count`` torch intra-op threads, then restore the previous number."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def run_demo(cfg, predictor: Optional[Predictor] = None, source: Optional[FrameSource] = None) -> DemoStats:
    """Run the demo described by ``cfg.DEMO``; print and return the model and end-to-end FPS.

    Args:
        cfg: a model config with DEMO.ENABLE (TEST.CHECKPOINT_FILE_PATH gives the weights).
        predictor: inference back end (default: ``build_predictor(cfg)``, i.e. DEMO.BACKEND).
        source: frames to label (default: DEMO.WEBCAM / INPUT_VIDEO / DATA_SOURCE).
    """
    with torch_threads(demo_torch_threads(cfg)):
        if cfg.DETECTION.ENABLE:  # precomputed person boxes in, each with its actions out
            from slowfast.visualization.box_demo import run_box_demo

            return run_box_demo(cfg, source=source)
        return _run(cfg, predictor, source)


def _run(cfg, predictor: Optional[Predictor] = None, source: Optional[FrameSource] = None) -> DemoStats:
    """The demo pipeline: warm-up, then reader thread -> inference -> writer thread."""
    source = source if source is not None else demo_source(cfg)
    streaming = StreamingPredictor(cfg, predictor)
    fps = cfg.DEMO.OUTPUT_FPS if cfg.DEMO.OUTPUT_FPS > 0 else (source.fps or _DEFAULT_FPS)
    window_frames = window_length(cfg, source.fps)
    frames_queue: queue.Queue = queue.Queue(maxsize=2 * window_frames)
    labelled_queue: queue.Queue = queue.Queue(maxsize=2)
    setup_seconds = streaming.warm_up(source.height, source.width, source.fps) if source.height else 0.0
    stop = threading.Event()
    writer = _OutputWriter(cfg, fps)
    threads = [
        threading.Thread(target=_read_frames, args=(source, frames_queue, stop), name="demo-reader", daemon=True),
        threading.Thread(target=writer.run, args=(labelled_queue, stop), name="demo-writer", daemon=True),
    ]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    num_frames = 0
    try:
        for window, result in streaming.predict_windows(_drain(frames_queue, stop), source.fps):
            num_frames += len(window.new_frames)
            measured_fps = num_frames / (time.perf_counter() - start)
            lines = prediction_lines(result.labels, result.scores, measured_fps)
            if not _put(labelled_queue, (window.new_frames, lines), stop):
                break
        _put(labelled_queue, _END, stop)
        threads[1].join()  # the writer empties its queue, then closes the output
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    if writer.error is not None:
        raise writer.error
    wall_seconds = time.perf_counter() - start
    stats = DemoStats(
        num_frames=num_frames,
        num_clips=streaming.num_clips,
        setup_seconds=setup_seconds,
        wall_seconds=wall_seconds,
        model_clips_per_second=streaming.model_clips_per_second,
        model_frames_per_second=streaming.model_clips_per_second * window_stride(cfg, source.fps),
        end_to_end_fps=num_frames / wall_seconds if wall_seconds > 0 else 0.0,
    )
    print(
        f"demo: {stats.num_frames} frames, {stats.num_clips} clips in {stats.wall_seconds:.2f} s | "
        f"model {stats.model_clips_per_second:.1f} clips/s = {stats.model_frames_per_second:.1f} frames/s "
        f"(one prediction every {window_stride(cfg, source.fps)} frames) | end-to-end {stats.end_to_end_fps:.1f} FPS "
        f"(after {stats.setup_seconds:.1f} s of model set-up)"
    )
    if cfg.DEMO.OUTPUT_FILE:
        print(f"demo: wrote {os.path.abspath(cfg.DEMO.OUTPUT_FILE)}", flush=True)  # say where the result is
    return stats
