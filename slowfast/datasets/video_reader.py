"""One reader interface over several video back ends.

``open_video(path, backend=...)`` returns a :class:`VideoReader` with

* ``num_frames`` - the exact number of decodable frames,
* ``fps``        - the average frame rate (float; 29.97 stays 29.97),
* ``height``, ``width``,
* ``read(indices)`` - ``uint8`` array ``(len(indices), H, W, 3)`` in RGB, frames in the order
  asked (repeats allowed), decoding only the span ``[min(indices), max(indices)]``.

Back ends:

``pyav``        video files through PyAV (the wheels bundle FFmpeg). Always available.
``frames``      folders of JPEG frames named by a template (``img_{:05d}.jpg`` from 1).
``torchcodec``  video files through torchcodec, only when it is importable.

Every failure to open or decode - missing, empty, truncated, undecodable or audio-only file,
missing frame file - raises :class:`VideoDecodeError` whose message starts with the path.
"""
import bisect
import os
from typing import Callable, Dict, List, Sequence

import numpy as np
from slowfast.utils.errors import ConfigError

try:  # optional, faster back end
    from torchcodec.decoders import VideoDecoder as _TorchCodecDecoder
except ImportError:  # not installed (the usual case): the back end reports itself unavailable
    _TorchCodecDecoder = None


class VideoDecodeError(RuntimeError):
    """A video (or frame folder) could not be opened or decoded; the message names the path."""


class _UnreliableTimestamps(Exception):
    """The decoder's frame timestamps cannot locate frames (internal to the PyAV reader)."""


class VideoReader:
    """Interface of every back end. Subclasses set the attributes and implement ``_read``.

    Attributes:
        path: the file or folder read.
        num_frames: exact number of decodable frames.
        fps: average frame rate.
        height, width: frame size in pixels.
    """

    path: str
    num_frames: int
    fps: float
    height: int
    width: int

    def read(self, indices: Sequence[int]) -> np.ndarray:
        """Frames ``indices`` as ``uint8 (len(indices), H, W, 3)`` RGB, in the order asked.

        Raises ``IndexError`` for indices outside ``[0, num_frames)`` and
        ``VideoDecodeError`` when a frame cannot be decoded.
        """
        wanted = self._check_indices(indices)
        if wanted.size == 0:
            return np.empty((0, self.height, self.width, 3), dtype=np.uint8)
        return self._read(wanted)

    def _read(self, indices: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def close(self) -> None:
        """Release file handles; the reader cannot be used afterwards."""

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.path!r}, num_frames={self.num_frames}, "
                f"fps={self.fps:.3f}, size={self.height}x{self.width})")

    def _check_indices(self, indices: Sequence[int]) -> np.ndarray:
        wanted = np.asarray(indices)
        if wanted.ndim != 1 or (wanted.size and not np.issubdtype(wanted.dtype, np.integer)):
            raise TypeError(f"{self.path}: frame indices must be a 1-D sequence of integers, got {indices!r}")
        wanted = wanted.astype(np.int64)
        if wanted.size and (wanted.min() < 0 or wanted.max() >= self.num_frames):
            raise IndexError(f"{self.path}: frame indices {wanted.min()}..{wanted.max()} outside "
                             f"[0, {self.num_frames}) frames")
        return wanted

    def _error(self, what: str) -> VideoDecodeError:
        return VideoDecodeError(f"{self.path}: {what}")


def rgb_converter() -> Callable[[object], np.ndarray]:
    """A function ``av.VideoFrame -> uint8 (H, W, 3)`` RGB for the frames of one video.

    Why not ``VideoFrame.to_ndarray(format="rgb24")``: it builds a new swscale context for every
    frame, ~0.3 ms (5x the conversion itself, half of a 16-frame training read of a 64x48 clip);
    one ``VideoReformatter`` shared by the frames builds it once and gives identical pixels.
    """
    import av

    reformatter = av.video.reformatter.VideoReformatter()
    return lambda frame: reformatter.reformat(frame, format="rgb24").to_ndarray()


class _ClipBuffer:
    """The clip being read: ``uint8 (len(indices), H, W, 3)``, filled as the wanted frames come
    out of the decoder; each frame is converted to RGB once (by ``to_rgb``, see
    :func:`rgb_converter`), however often it is asked for."""

    def __init__(self, path: str, indices: np.ndarray, height: int, width: int,
                 to_rgb: Callable[[object], np.ndarray]):
        self.path = path
        self._to_rgb = to_rgb
        self.frames = np.empty((len(indices), height, width, 3), dtype=np.uint8)
        self._positions: Dict[int, List[int]] = {}
        for position, index in enumerate(indices.tolist()):
            self._positions.setdefault(index, []).append(position)
        self.first = int(indices.min())
        self._found: set = set()

    def wants(self, index: int) -> bool:
        return index in self._positions

    def store(self, index: int, frame) -> None:
        """Convert the ``av.VideoFrame`` ``frame`` to RGB into the positions of ``index``."""
        rgb = self._to_rgb(frame)
        if rgb.shape != self.frames.shape[1:]:
            raise VideoDecodeError(f"{self.path}: frame {index} is {rgb.shape[1]}x{rgb.shape[0]}, the stream declares "
                                   f"{self.frames.shape[2]}x{self.frames.shape[1]} (size changes mid-stream "
                                   f"are not supported)")
        self.frames[self._positions[index]] = rgb
        self._found.add(index)

    @property
    def complete(self) -> bool:
        return len(self._found) == len(self._positions)

    @property
    def missing(self) -> List[int]:
        return sorted(self._positions.keys() - self._found)


def _check_file(path: str) -> None:
    """Fail early, and clearly, for a path that cannot hold a video."""
    if not os.path.exists(path):
        raise VideoDecodeError(f"{path}: file not found")
    if not os.path.isfile(path):
        raise VideoDecodeError(f"{path}: not a file")
    if os.path.getsize(path) == 0:
        raise VideoDecodeError(f"{path}: empty file (0 bytes)")


# ---------------------------------------------------------------------------------------------
# PyAV
# ---------------------------------------------------------------------------------------------
class PyAVReader(VideoReader):
    """Video files through PyAV.

    Opening demuxes the chosen video stream once without decoding it (cost: reading the file,
    about 1 ms per MB) to build the frame table: the presentation timestamps of all non-empty
    packets, sorted. Frame ``i`` is the one with the ``i``-th smallest timestamp, so
    ``num_frames`` is exact even when the header's count is missing or wrong, and an index is
    never derived from ``pts * fps`` (that rounding drops or repeats frames on AVI files and
    on streams with timestamp gaps).

    ``read`` seeks to the keyframe at or before the first frame needed, decodes up to the last
    one and converts to RGB only the frames asked for. Frames out of the decoder are located by
    their timestamps, and frames that are neither asked for nor referenced by others (most
    B-frames) are not decoded at all. AVI files store no presentation times and FFmpeg's
    guesses are scrambled by packed B-frames, so there (and whenever the decoder's timestamps
    turn out not to increase) the first frame after the seek is located by its timestamp and
    the following ones are counted in output order.

    Args:
        path: the video file.
        threads: decoder threads; 1 = single-threaded, 0 = FFmpeg's choice, n = n threads.
        thread_type: FFmpeg threading when ``threads != 1``: "AUTO", "FRAME" or "SLICE".
        stream_index: which video stream (0 = the first video stream; audio, subtitles and
            data streams are never decoded).
    """

    def __init__(self, path: str, threads: int = 1, thread_type: str = "AUTO", stream_index: int = 0):
        import av  # imported here so that the frames back end does not need PyAV

        self._av = av
        self._to_rgb = rgb_converter()
        self.path = str(path)
        _check_file(self.path)
        try:
            self._container = av.open(self.path, metadata_errors="ignore")
        except av.FFmpegError as exc:
            raise self._error(f"cannot open as a video ({exc})") from exc
        try:
            self._stream = self._select_stream(stream_index)
            self._configure_threads(threads, thread_type)
            self._build_frame_table()
        except BaseException:
            self._container.close()
            raise
        # AVI stores no presentation times: FFmpeg's guesses are scrambled by packed B-frames.
        self._timestamps_reliable = "avi" not in self._container.format.name.split(",")
        self.height = int(self._stream.codec_context.height)
        self.width = int(self._stream.codec_context.width)
        self.fps = self._average_fps()

    def _select_stream(self, stream_index: int):
        videos = self._container.streams.video
        if not videos:
            kinds = ", ".join(s.type for s in self._container.streams) or "none"
            raise self._error(f"no video stream (streams: {kinds})")
        if not 0 <= stream_index < len(videos):
            raise self._error(f"video stream {stream_index} requested, the file has {len(videos)}")
        return videos[stream_index]

    def _configure_threads(self, threads: int, thread_type: str) -> None:
        if threads < 0:
            raise ValueError(f"{self.path}: decoder threads must be >= 0, got {threads}")
        context = self._stream.codec_context
        context.thread_count = threads
        if threads != 1:
            context.thread_type = thread_type

    def _build_frame_table(self) -> None:
        """Demux (no decoding) to list every frame's timestamp and the keyframes."""
        timestamps: List[int] = []
        keyframe_timestamps: List[int] = []
        try:
            for packet in self._container.demux(self._stream):
                if packet.size == 0 or packet.is_discard:
                    continue  # the flush packet; frames an MP4 edit list cuts (never output)
                pts = packet.pts if packet.pts is not None else packet.dts
                if pts is None:
                    raise self._error("video packets carry no timestamps; cannot index frames")
                timestamps.append(pts)
                if packet.is_keyframe:
                    keyframe_timestamps.append(pts)
        except self._av.FFmpegError as exc:
            raise self._error(f"truncated or corrupt: cannot read video packets after frame "
                              f"{len(timestamps)} ({exc})") from exc
        if not timestamps:
            raise self._error("video stream has no frames")
        timestamps.sort()
        self._check_not_truncated(timestamps)
        self._timestamps = timestamps
        self._index_of_timestamp: Dict[int, int] = {pts: i for i, pts in enumerate(timestamps)}
        # Seek points as frame indices; frame 0 is always one (decoding starts at the file start).
        keyframes = {self._index_of_timestamp[pts] for pts in keyframe_timestamps}
        self._keyframes = sorted(keyframes | {0})
        self.num_frames = len(timestamps)

    def _check_not_truncated(self, timestamps: List[int]) -> None:
        """A cut file can demux without error up to where it was cut. The header tells: AVI
        by its frame count, other containers by the stream's duration (an MP4 edit list
        makes the count larger than what is played). Headers may be a frame or two off."""
        stream = self._stream
        if "avi" in self._container.format.name.split(","):
            expected = stream.frames
            missing = expected - len(timestamps)
        elif stream.duration and len(timestamps) > 1:
            frame_duration = (timestamps[-1] - timestamps[0]) / (len(timestamps) - 1)
            expected_end = (stream.start_time or 0) + stream.duration
            missing = (expected_end - timestamps[-1] - frame_duration) / frame_duration
            expected = len(timestamps) + missing
        else:
            return
        if missing > max(2, expected / 100):
            raise self._error(f"truncated: the header promises about {expected:.0f} frames, "
                              f"only {len(timestamps)} can be read")

    def _average_fps(self) -> float:
        """avg_frame_rate, else r_frame_rate, else frames / duration (in that order of trust)."""
        for rate in (self._stream.average_rate, self._stream.guessed_rate, self._stream.base_rate):
            if rate is not None and rate > 0:
                return float(rate)
        first, last = self._timestamps[0], self._timestamps[-1]
        if last > first and self._stream.time_base is not None:
            return float((self.num_frames - 1) / ((last - first) * self._stream.time_base))
        raise self._error("cannot determine the frame rate")

    def _read(self, indices: np.ndarray) -> np.ndarray:
        clip = _ClipBuffer(self.path, indices, self.height, self.width, self._to_rgb)
        first, last = int(indices.min()), int(indices.max())
        seek_frame = self._keyframes[bisect.bisect_right(self._keyframes, first) - 1]
        if self._timestamps_reliable:
            try:
                self._decode_by_timestamp(seek_frame, last, clip)
            except _UnreliableTimestamps:
                self._timestamps_reliable = False  # for the next reads too
        if not clip.complete:
            located = self._decode_by_count(seek_frame, last, clip)
            if not (located and clip.complete) and seek_frame > 0:
                # The seek landed after the span or on an unknown frame: decode from the start.
                self._decode_by_count(0, last, clip)
            if clip.complete:
                self._timestamps_reliable = False  # counting found what timestamps did not
        if not clip.complete:
            missing = clip.missing
            raise self._error(f"frames {missing[:5]}{'...' if len(missing) > 5 else ''} could not be "
                              f"decoded (truncated or corrupt file?)")
        return clip.frames

    def _decode_by_timestamp(self, seek_frame: int, last: int, clip: "_ClipBuffer") -> None:
        """Decode from the keyframe ``seek_frame`` to frame ``last`` into ``clip``, locating every
        frame by its timestamp.

        Frames that are neither wanted nor referenced by others (most B-frames) are skipped
        without decoding (``skip_frame`` NONREF, set per packet from the packet's timestamp).
        Raises ``_UnreliableTimestamps`` when the decoder's timestamps are unknown or not
        increasing.
        """
        context = self._stream.codec_context
        previous_pts = None
        index = seek_frame
        try:
            self._container.seek(self._timestamps[seek_frame], stream=self._stream, backward=True)
            for packet in self._container.demux(self._stream):
                if packet.size:
                    needed = packet.pts is None or clip.wants(self._index_of_timestamp.get(packet.pts, -1))
                    context.skip_frame = "DEFAULT" if needed else "NONREF"
                for frame in packet.decode():
                    index = self._index_of_timestamp.get(frame.pts)
                    if index is None or (previous_pts is not None and frame.pts <= previous_pts):
                        raise _UnreliableTimestamps()
                    previous_pts = frame.pts
                    if clip.wants(index):
                        clip.store(index, frame)
                    if index >= last:
                        return
        except self._av.FFmpegError as exc:
            raise self._error(f"decoding failed near frame {index} ({exc})") from exc
        finally:
            context.skip_frame = "DEFAULT"

    def _decode_by_count(self, seek_frame: int, last: int, clip: "_ClipBuffer") -> bool:
        """Decode from the keyframe ``seek_frame`` to frame ``last`` into ``clip``, locating the
        first frame by its timestamp and counting the following ones in output order
        (packed-B-frame AVI files report scrambled timestamps).

        Returns False when the first decoded frame is unknown or after the first wanted frame.
        """
        index = None
        try:
            self._container.seek(self._timestamps[seek_frame], stream=self._stream, backward=True)
            for packet in self._container.demux(self._stream):
                for frame in packet.decode():
                    if index is None:
                        # From the start of the file the first frame out is frame 0, whatever
                        # its timestamp says.
                        index = 0 if seek_frame == 0 else self._index_of_timestamp.get(frame.pts)
                        if index is None or index > clip.first:
                            return False
                    else:
                        index += 1
                    if clip.wants(index):
                        clip.store(index, frame)
                    if index >= last:
                        return True
        except self._av.FFmpegError as exc:
            raise self._error(f"decoding failed near frame {index} ({exc})") from exc
        return True

    def close(self) -> None:
        self._container.close()


# ---------------------------------------------------------------------------------------------
# JPEG frame folders
# ---------------------------------------------------------------------------------------------
class FrameFolderReader(VideoReader):
    """A folder of image files ``template.format(start_index + i)`` for frame ``i``.

    ``num_frames`` counts consecutive files from ``start_index`` (one directory listing);
    a gap in the numbering raises. A folder carries no frame rate, so ``fps`` is the caller's (Jester: 12).
    Images are read with OpenCV and converted BGR -> RGB.
    """

    def __init__(self, path: str, frame_template: str = "img_{:05d}.jpg", start_index: int = 1,
                 fps: float = 30.0):
        import cv2  # imported here so that the PyAV back end does not need OpenCV

        self._cv2 = cv2
        self.path = str(path)
        self.frame_template = frame_template
        self.start_index = start_index
        self.fps = float(fps)
        if not os.path.isdir(self.path):
            raise self._error("frame folder not found" if not os.path.exists(self.path) else "not a folder")
        self.num_frames = self._count_frames()
        self.height, self.width = self._load(0).shape[:2]

    def _count_frames(self) -> int:
        """Number of consecutive frame files from ``start_index`` (one directory listing).

        A gap in the numbering raises, naming the first missing file, rather than silently
        shortening the video.
        """
        names = set(os.listdir(self.path))
        count = 0
        while self.frame_template.format(self.start_index + count) in names:
            count += 1
        if count == 0:
            raise self._error(f"no frame '{self._frame_path(0)}' (template {self.frame_template!r}, "
                              f"start index {self.start_index})")
        later = (count + 1 + i for i in range(len(names)))
        if any(self.frame_template.format(self.start_index + i) in names for i in later):
            raise VideoDecodeError(f"{self._frame_path(count)}: missing frame {count} of {self.path} "
                                   f"(later frames exist)")
        return count

    def _frame_path(self, index: int) -> str:
        return os.path.join(self.path, self.frame_template.format(self.start_index + index))

    def _load(self, index: int) -> np.ndarray:
        file_path = self._frame_path(index)
        bgr = self._cv2.imread(file_path, self._cv2.IMREAD_COLOR)
        if bgr is None:
            raise VideoDecodeError(f"{file_path}: missing or unreadable frame {index} of {self.path}")
        return self._cv2.cvtColor(bgr, self._cv2.COLOR_BGR2RGB)

    def _read(self, indices: np.ndarray) -> np.ndarray:
        unique = {i: self._load(i) for i in dict.fromkeys(indices.tolist())}
        for i, frame in unique.items():
            if frame.shape[:2] != (self.height, self.width):
                raise VideoDecodeError(f"{self._frame_path(i)}: size {frame.shape[1]}x{frame.shape[0]} "
                                       f"differs from the first frame's {self.width}x{self.height}")
        return np.stack([unique[i] for i in indices.tolist()])


# ---------------------------------------------------------------------------------------------
# torchcodec (optional)
# ---------------------------------------------------------------------------------------------
class TorchCodecReader(VideoReader):
    """Video files through torchcodec (exact seek mode: it scans the file on open, like the
    PyAV reader). ``stream_index`` counts video streams, as in ``PyAVReader``."""

    def __init__(self, path: str, threads: int = 1, stream_index: int = 0):
        if _TorchCodecDecoder is None:
            raise ImportError("the 'torchcodec' decoding back end needs the torchcodec package "
                              "(pip install torchcodec); use DATA.DECODING_BACKEND pyav instead")
        self.path = str(path)
        _check_file(self.path)
        absolute_index = self._absolute_stream_index(stream_index)
        try:
            self._decoder = _TorchCodecDecoder(self.path, stream_index=absolute_index, seek_mode="exact",
                                               dimension_order="NHWC", num_ffmpeg_threads=threads)
            metadata = self._decoder.metadata
        except (RuntimeError, ValueError) as exc:
            raise self._error(f"cannot open as a video ({exc})") from exc
        self.num_frames = int(metadata.num_frames)
        self.fps = float(metadata.average_fps)
        self.height, self.width = int(metadata.height), int(metadata.width)
        if self.num_frames == 0:
            raise self._error("video stream has no frames")

    def _absolute_stream_index(self, video_stream_index: int) -> int:
        """torchcodec counts streams of every type; ours counts video streams only."""
        import av

        try:
            with av.open(self.path, metadata_errors="ignore") as container:
                videos = container.streams.video
                if not 0 <= video_stream_index < len(videos):
                    raise self._error(f"video stream {video_stream_index} requested, the file has {len(videos)}")
                return videos[video_stream_index].index
        except av.FFmpegError as exc:
            raise self._error(f"cannot open as a video ({exc})") from exc

    def _read(self, indices: np.ndarray) -> np.ndarray:
        try:
            batch = self._decoder.get_frames_at(indices=indices.tolist())
        except (RuntimeError, ValueError) as exc:
            raise self._error(f"decoding failed ({exc})") from exc
        return batch.data.numpy()


def torchcodec_available() -> bool:
    """True when the optional torchcodec back end can be used."""
    return _TorchCodecDecoder is not None


BACKENDS = ("pyav", "frames", "torchcodec")


def open_video(path: str, backend: str = "pyav", threads: int = 1, frame_template: str = "img_{:05d}.jpg",
               start_index: int = 1, fps: float = 30.0, stream_index: int = 0,
               thread_type: str = "AUTO") -> VideoReader:
    """Open ``path`` with ``backend`` (see the module docstring).

    ``threads`` applies to the video back ends (``thread_type`` to PyAV); ``frame_template``,
    ``start_index`` and ``fps`` to frame folders; ``stream_index`` picks among the file's
    video streams (0 = the first).
    """
    if backend == "pyav":
        return PyAVReader(path, threads=threads, thread_type=thread_type, stream_index=stream_index)
    if backend == "frames":
        return FrameFolderReader(path, frame_template=frame_template, start_index=start_index, fps=fps)
    if backend == "torchcodec":
        return TorchCodecReader(path, threads=threads, stream_index=stream_index)
    raise ConfigError(f"DATA.DECODING_BACKEND: unknown back end '{backend}'; choose one of {', '.join(BACKENDS)}")


def open_video_from_cfg(cfg, path: str, fps: float = 30.0) -> VideoReader:
    """``open_video`` with the DATA.DECODING_* and DATA.FRAME_* settings of ``cfg``."""
    return open_video(path, backend=cfg.DATA.DECODING_BACKEND, threads=cfg.DATA.DECODING_THREADS,
                      frame_template=cfg.DATA.FRAME_TEMPLATE, start_index=cfg.DATA.FRAME_START_INDEX, fps=fps)
