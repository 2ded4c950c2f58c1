"""Frame sources and sinks of the demo: cameras, files and streams in; mp4 files and windows out.

Frames are RGB ``uint8`` ``(H, W, 3)`` numpy arrays throughout.

Sources are read *sequentially* (a live stream cannot seek): files and stream URLs (rtsp://,
http://) with PyAV, cameras with OpenCV. Random access to clips of a file, as the datasets need,
is ``slowfast.datasets.video_reader`` instead.
"""
import os
from fractions import Fraction
from typing import Iterable, Iterator, Optional, Union

import numpy as np

from slowfast.datasets.video_reader import rgb_converter
from slowfast.utils.errors import ConfigError, DataError, DeviceUnavailableError

FrameRate = Union[Fraction, float]


class FrameSource:
    """Iterable of RGB frames with the source's nominal frame rate and frame size (None when unknown)."""

    fps: Optional[FrameRate] = None
    height: Optional[int] = None
    width: Optional[int] = None

    def __iter__(self) -> Iterator[np.ndarray]:
        raise NotImplementedError


class ContainerSource(FrameSource):
    """Every frame of the first video stream of a file or stream URL, decoded in order by PyAV."""

    def __init__(self, path_or_url: str):
        import av

        is_url = "://" in path_or_url
        if not is_url and not os.path.isfile(path_or_url):
            raise FileNotFoundError(f"input video not found: {path_or_url}; give the path of a video file, or a stream URL")
        self.path = path_or_url
        try:
            self._container = av.open(path_or_url, metadata_errors="ignore")
        except av.FFmpegError as error:
            raise DataError(f"{path_or_url}: cannot open as a video ({error})", "give a video file FFmpeg can read") from error
        if not self._container.streams.video:
            self._container.close()
            raise DataError(f"{path_or_url}: has no video stream", "give a file with a video stream (not audio only)")
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"  # frame threads: decoding keeps up with the model
        self.fps = self._stream.average_rate or self._stream.guessed_rate
        self.height, self.width = self._stream.codec_context.height, self._stream.codec_context.width

    def __iter__(self) -> Iterator[np.ndarray]:
        to_rgb = rgb_converter()
        try:
            for frame in self._container.decode(self._stream):
                yield to_rgb(frame)
        finally:
            self._container.close()


class CameraSource(FrameSource):
    """Frames of an OpenCV camera, until it stops delivering."""

    def __init__(self, index: int):
        import cv2

        self._capture = cv2.VideoCapture(index)
        if not self._capture.isOpened():
            raise DeviceUnavailableError(f"DEMO.WEBCAM={index}: cannot open camera {index} with OpenCV",
                                         "check the camera index, or set DEMO.INPUT_VIDEO and DEMO.WEBCAM -1")
        fps = self._capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if fps and fps > 0 else None
        self.height = int(self._capture.get(cv2.CAP_PROP_FRAME_HEIGHT)) or None
        self.width = int(self._capture.get(cv2.CAP_PROP_FRAME_WIDTH)) or None

    def __iter__(self) -> Iterator[np.ndarray]:
        try:
            while True:
                ok, frame_bgr = self._capture.read()
                if not ok:
                    return
                yield np.ascontiguousarray(frame_bgr[..., ::-1])
        finally:
            self._capture.release()


class IterableSource(FrameSource):
    """Any iterable of frames (a list of arrays, a generator)."""

    def __init__(self, frames: Iterable[np.ndarray], fps: Optional[FrameRate] = None):
        self._frames, self.fps = frames, fps

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter(self._frames)


def open_source(source) -> FrameSource:
    """A ``FrameSource`` for a camera index (int), a path or URL (str) or an iterable of frames."""
    if isinstance(source, FrameSource):
        return source
    if isinstance(source, int):
        return CameraSource(source)
    if isinstance(source, (str, os.PathLike)):
        return ContainerSource(os.fspath(source))
    return IterableSource(source)


def demo_source(cfg) -> FrameSource:
    """The demo input: ``DEMO.WEBCAM`` (>= 0), else ``DEMO.INPUT_VIDEO`` or ``DEMO.DATA_SOURCE``."""
    if cfg.DEMO.WEBCAM >= 0:
        return CameraSource(cfg.DEMO.WEBCAM)
    path = cfg.DEMO.INPUT_VIDEO or cfg.DEMO.DATA_SOURCE
    if not path:
        raise ConfigError("the demo needs an input",
                          "set DEMO.INPUT_VIDEO (or DEMO.DATA_SOURCE) to a video file or URL, or DEMO.WEBCAM to a camera index")
    return ContainerSource(path)


def as_frame_rate(fps: FrameRate) -> Fraction:
    """``fps`` as an exact fraction (29.97 -> 30000/1001) for the encoder's time base."""
    if isinstance(fps, Fraction):
        return fps
    return Fraction(fps).limit_denominator(1001)


class Mp4Writer:
    """Encode RGB frames to an mp4 file with PyAV (H.264 when available, else MPEG-4 Part 2).

    The stream has the frame rate ``fps`` and frame ``i`` the timestamp ``i / fps``, so the
    file has exactly the frames written at exactly that rate. Odd frame sizes, which 4:2:0
    chroma cannot hold, are encoded in 4:4:4 so the output keeps the input's size.
    """

    def __init__(self, path: str, width: int, height: int, fps: FrameRate):
        import av

        self._av = av
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        rate = as_frame_rate(fps)
        self._container = av.open(path, mode="w")
        even = width % 2 == 0 and height % 2 == 0
        codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
        self._stream = self._container.add_stream(codec, rate=rate)
        self._stream.width, self._stream.height = width, height
        self._stream.pix_fmt = "yuv420p" if even or codec == "mpeg4" else "yuv444p"
        self._stream.codec_context.time_base = 1 / rate
        if codec == "libx264":
            self._stream.options = {"crf": "20", "preset": "veryfast"}
        self._size = (height, width)
        self.frames_written = 0

    def write(self, frame: np.ndarray) -> None:
        if frame.shape[:2] != self._size:
            raise ValueError(f"frame of size {frame.shape[:2]} written to a {self._size} video")
        video_frame = self._av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        video_frame.pts = self.frames_written
        self._container.mux(self._stream.encode(video_frame))
        self.frames_written += 1

    def close(self) -> None:
        self._container.mux(self._stream.encode())
        self._container.close()


class WindowDisplay:
    """Show frames in an OpenCV window (needs a GUI build of OpenCV and a display)."""

    def __init__(self, name: str = "SlowFast demo", width: int = 0, height: int = 0):
        import cv2

        self._cv2, self.name = cv2, name
        if os.name != "nt" and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            raise DeviceUnavailableError(
                "DEMO.OUTPUT_FILE is empty, so the demo would show a window, but there is no display "
                "(DISPLAY is not set)", "set DEMO.OUTPUT_FILE to an .mp4 path"
            )
        try:
            cv2.namedWindow(name, cv2.WINDOW_NORMAL)
        except cv2.error as error:
            raise DeviceUnavailableError(
                "DEMO.OUTPUT_FILE is empty, so the demo would show a window, but this OpenCV has no GUI "
                f"support (opencv-python-headless?; {str(error).strip().splitlines()[-1]})",
                "set DEMO.OUTPUT_FILE to an .mp4 path, or install opencv-python",
            ) from error
        if width > 0 and height > 0:
            cv2.resizeWindow(name, width, height)
        self.frames_written = 0
        self.closed_by_user = False

    def write(self, frame: np.ndarray) -> None:
        self._cv2.imshow(self.name, frame[..., ::-1])
        self.frames_written += 1
        if self._cv2.waitKey(1) & 0xFF in (ord("q"), 27):  # q or Esc stops the demo
            self.closed_by_user = True

    def close(self) -> None:
        self._cv2.destroyWindow(self.name)
