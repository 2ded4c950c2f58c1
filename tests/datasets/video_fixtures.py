"""Video files for tests, written with PyAV into a temporary folder.

* ``write_index_video``: frame ``i`` encodes ``i`` in its pixels, so a test can check which frame
  a reader returned. Lossless codecs (``libx264rgb`` at qp 0, ``ffv1``) reproduce the pixels
  exactly (``index_frame(i)``); lossy ones (``mpeg4``) are read back with ``decode_index``.
* ``write_two_stream_video``: two video streams with different content.
* ``write_audio_only``: a file with an audio stream and no video.
* ``damage_video``: truncated, zero-byte, garbage, missing and audio-only variants of a file.

Shared by the reader tests and the dataset/loader tests (reuse via ``tests/datasets/conftest.py``).
"""
import os
import shutil
from fractions import Fraction
from typing import Optional, Sequence

import av
import numpy as np

HEIGHT, WIDTH = 32, 48
_BITS = 12  # frame indices up to 4095 fit in the bit stripes of lossy fixtures


def index_frame(index: int, height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
    """The RGB frame ``(H, W, 3)`` that encodes ``index``.

    Red and green hold the index (low and high byte), blue a fixed 77, and the left half of the
    frame holds ``_BITS`` black/white stripes (one per bit, most significant first) so that the
    index survives lossy compression too.
    """
    frame = np.empty((height, width, 3), dtype=np.uint8)
    frame[..., 0] = index % 256
    frame[..., 1] = (index // 256) % 256
    frame[..., 2] = 77
    stripe = height // _BITS or 1
    for bit in range(_BITS):
        value = 255 if (index >> (_BITS - 1 - bit)) & 1 else 0
        frame[bit * stripe:(bit + 1) * stripe, : width // 2, :] = value
    return frame


def decode_index(frame: np.ndarray) -> int:
    """The index encoded by ``index_frame`` in a (possibly lossily) decoded frame."""
    stripe = frame.shape[0] // _BITS or 1
    index = 0
    for bit in range(_BITS):
        stripe_mean = frame[bit * stripe + stripe // 2, 2: frame.shape[1] // 2 - 2].mean()
        index = (index << 1) | int(stripe_mean > 127)
    return index


_ENCODER_OPTIONS = {
    # Lossless H.264 in RGB with a keyframe exactly every 10 frames (no scene-cut keyframes),
    # so reads from the middle need real seeks. (x264 makes no B-frames when lossless.)
    "libx264rgb": ("rgb24", {"qp": "0", "preset": "ultrafast",
                             "x264-params": "keyint=10:min-keyint=10:scenecut=0"}),
    "ffv1": ("bgr0", {"g": "10"}),  # lossless RGB, intra-only
    # Lossy MPEG-4 Part 2 with B-frames (the codec of most AVI files): decode order differs
    # from presentation order.
    "mpeg4": ("yuv420p", {"g": "10", "bf": "2", "qscale": "2"}),
}


def write_index_video(path: str, num_frames: int, fps=30, codec: str = "libx264rgb",
                      height: int = HEIGHT, width: int = WIDTH, with_audio: bool = False,
                      frame_times_ms: Optional[Sequence[int]] = None) -> str:
    """Write ``num_frames`` frames ``index_frame(0..num_frames-1)`` to ``path`` (container by
    extension: .mp4, .avi, .mkv); ``fps`` may be a Fraction (30000/1001). ``frame_times_ms``
    gives each frame's presentation time instead (variable frame rate, gaps). Returns ``path``."""
    pix_fmt, options = _ENCODER_OPTIONS[codec]
    rate = Fraction(fps).limit_denominator(1001)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate, options=dict(options))
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        if frame_times_ms is not None:
            stream.codec_context.time_base = Fraction(1, 1000)
        audio = _add_audio_stream(container) if with_audio else None
        for i in range(num_frames):
            frame = av.VideoFrame.from_ndarray(index_frame(i, height, width), format="rgb24")
            if frame_times_ms is not None:
                frame.pts, frame.time_base = int(frame_times_ms[i]), Fraction(1, 1000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
        if audio is not None:
            _write_tone(container, audio, seconds=num_frames / float(rate))
    return str(path)


def write_two_stream_video(path: str, num_frames: int = 12, fps: int = 30) -> str:
    """A video whose first video stream holds ``index_frame(i)`` and whose second holds
    ``index_frame(1000 + i)`` at half the size (.mkv)."""
    with av.open(str(path), "w") as container:
        first = container.add_stream("ffv1", rate=fps)
        first.width, first.height, first.pix_fmt = WIDTH, HEIGHT, "bgr0"
        second = container.add_stream("ffv1", rate=fps)
        second.width, second.height, second.pix_fmt = WIDTH // 2, HEIGHT * 2, "bgr0"
        for i in range(num_frames):
            container.mux(first.encode(av.VideoFrame.from_ndarray(index_frame(i), format="rgb24")))
            big = index_frame(1000 + i, HEIGHT * 2, WIDTH // 2)
            container.mux(second.encode(av.VideoFrame.from_ndarray(big, format="rgb24")))
        container.mux(first.encode())
        container.mux(second.encode())
    return str(path)


def _add_audio_stream(container, sample_rate: int = 16000):
    stream = container.add_stream("aac", rate=sample_rate)
    stream.layout = "mono"
    return stream


def _write_tone(container, stream, seconds: float) -> None:
    """Encode a 440 Hz tone of ``seconds`` into the audio ``stream``."""
    rate = stream.rate
    samples = int(rate * seconds)
    t = np.arange(samples) / rate
    wave = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    chunk = 1024
    for start in range(0, samples, chunk):
        frame = av.AudioFrame.from_ndarray(wave[None, start:start + chunk], format="fltp", layout="mono")
        frame.sample_rate = rate
        frame.pts = start
        container.mux(stream.encode(frame))
    container.mux(stream.encode())


def write_audio_only(path: str, seconds: float = 0.5) -> str:
    """A file (.mp4 or .m4a) with one AAC audio stream and no video stream."""
    with av.open(str(path), "w") as container:
        _write_tone(container, _add_audio_stream(container), seconds)
    return str(path)


DAMAGE_KINDS = ("missing", "zero_bytes", "truncated", "garbage", "audio_only")


def damage_video(source: str, target: str, kind: str, seed: int = 0) -> str:
    """Write a damaged copy of ``source`` to ``target`` and return ``target``.

    kinds: ``missing`` (nothing is written), ``zero_bytes``, ``truncated`` (the first third of
    the bytes), ``garbage`` (random bytes of the same size), ``audio_only`` (``source`` is not
    used; an audio-only file is written).
    """
    target = str(target)
    if kind == "missing":
        if os.path.exists(target):
            os.remove(target)
    elif kind == "zero_bytes":
        open(target, "wb").close()
    elif kind == "truncated":
        data = open(source, "rb").read()
        with open(target, "wb") as f:
            f.write(data[: len(data) // 3])
    elif kind == "garbage":
        size = os.path.getsize(source)
        with open(target, "wb") as f:
            f.write(np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes())
    elif kind == "audio_only":
        write_audio_only(target)
    else:
        raise ValueError(f"unknown damage kind '{kind}'; choose one of {DAMAGE_KINDS}")
    return target


def copy_to(source: str, folder: str, name: Optional[str] = None) -> str:
    """Copy ``source`` into ``folder`` (a tmp_path) and return the new path."""
    target = os.path.join(str(folder), name or os.path.basename(source))
    shutil.copyfile(source, target)
    return target
