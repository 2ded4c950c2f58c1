"""Data-loading benchmarks (``tools/benchmark.py --mode data`` and ``--mode decode``).

``benchmark_data(cfg)``: clips/s of the configured train and test loaders, the time per clip
split into open, seek+decode and transform, and beside it the raw front-to-back decode speed of
the same files (the ceiling: every frame decoded, none converted).

``benchmark_clip_decoding(paths)``: per file, one training clip (e.g. 32x2 and 16x2) decoded
by our reader against the naive reference (decode every frame from the start and convert every
one to RGB, then pick the clip's frames) and against decoding the whole video.

Timings are wall-clock (``time.perf_counter``); compare ratios measured in one session.
"""
import logging
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from slowfast.datasets import sampling
from slowfast.datasets.video_reader import VideoReader, open_video

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------
# Reference decoders
# ---------------------------------------------------------------------------------------------
def reference_decode_clip(path: str, indices: Sequence[int]) -> np.ndarray:
    """The naive decoder: decode every frame from the start, convert every one to RGB, then
    keep ``indices``. ``uint8 (len(indices), H, W, 3)``."""
    import av

    with av.open(path) as container:
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    return np.stack([frames[i] for i in indices])


def raw_decode(path: str, backend: str = "pyav", **reader_kwargs) -> int:
    """Decode every frame front to back without converting any (the ceiling); returns the
    number of frames. Frame folders have no cheaper path than reading every image."""
    if backend != "pyav":
        with open_video(path, backend=backend, **reader_kwargs) as reader:
            return len(reader.read(np.arange(reader.num_frames)))
    import av

    with av.open(path) as container:
        stream = container.streams.video[0]
        stream.codec_context.thread_count = reader_kwargs.get("threads", 1)
        return sum(1 for _ in container.decode(stream))


def _seconds(clock: Callable[[], float], function, *args, **kwargs) -> Tuple[float, object]:
    start = clock()
    result = function(*args, **kwargs)
    return clock() - start, result


# ---------------------------------------------------------------------------------------------
# One clip per call, per file
# ---------------------------------------------------------------------------------------------
def benchmark_clip_decoding(paths: Sequence[str], clip_shapes: Sequence[Tuple[int, int]] = ((32, 2), (16, 2)),
                            target_fps: float = 30.0, clips_per_file: int = 5, seed: int = 0,
                            threads: int = 1, clock: Callable[[], float] = time.perf_counter) -> List[Dict]:
    """Per file and clip shape ``(num_frames, sampling_rate)``: seconds per clip of our reader
    (open, seek+decode) and of ``reference_decode_clip`` on the same random training clips, and
    the seconds to decode the whole video with our reader (RGB) and raw (no RGB).
    ``clock``: ``time.perf_counter`` (wall) or ``time.process_time`` (CPU of this process, steadier
    on a shared machine; with ``threads=1`` the two agree on an idle one).

    Returns one dict per (file, shape) with keys ``file, clip, frames, ours_open_s,
    ours_decode_s, ours_clips_per_s, reference_clips_per_s, speedup, whole_video_rgb_s,
    whole_video_raw_s``.
    """
    rows = []
    for path in paths:
        with open_video(path, threads=threads) as reader:  # warm-up: file cache, codec init
            num_video_frames, fps = reader.num_frames, reader.fps
            whole_rgb_s, _ = _seconds(clock, reader.read, np.arange(num_video_frames))
        whole_raw_s, _ = _seconds(clock, raw_decode, path, threads=threads)
        for num_frames, sampling_rate in clip_shapes:
            rng = np.random.default_rng(seed)
            clips = [sampling.clip_indices(num_video_frames, fps, num_frames, sampling_rate, target_fps, rng=rng)
                     for _ in range(clips_per_file)]
            open_s = decode_s = reference_s = 0.0
            for indices in clips:
                seconds, reader = _seconds(clock, open_video, path, threads=threads)
                open_s += seconds
                seconds, ours = _seconds(clock, reader.read, indices)
                decode_s += seconds
                reader.close()
                seconds, reference = _seconds(clock, reference_decode_clip, path, indices)
                reference_s += seconds
                if not np.array_equal(ours, reference):
                    raise AssertionError(f"{path}: reader and reference disagree on frames {indices.tolist()}")
            ours_s = (open_s + decode_s) / len(clips)
            rows.append(dict(
                file=path, clip=f"{num_frames}x{sampling_rate}", frames=num_video_frames,
                ours_open_s=open_s / len(clips), ours_decode_s=decode_s / len(clips),
                ours_clips_per_s=1.0 / ours_s, reference_clips_per_s=len(clips) / reference_s,
                speedup=reference_s / len(clips) / ours_s,
                whole_video_rgb_s=whole_rgb_s, whole_video_raw_s=whole_raw_s,
            ))
    return rows


def format_clip_rows(rows: Sequence[Dict]) -> str:
    """A plain-text table of ``benchmark_clip_decoding`` rows."""
    header = (f"{'file':<28} {'clip':>5} {'frames':>6} {'open ms':>8} {'decode ms':>9} {'clips/s':>8} "
              f"{'ref clips/s':>11} {'speedup':>7} {'whole RGB s':>11} {'whole raw s':>11}")
    lines = [header]
    for row in rows:
        lines.append(
            f"{row['file'][-28:]:<28} {row['clip']:>5} {row['frames']:>6} {row['ours_open_s'] * 1e3:8.1f} "
            f"{row['ours_decode_s'] * 1e3:9.1f} {row['ours_clips_per_s']:8.1f} {row['reference_clips_per_s']:11.1f} "
            f"{row['speedup']:6.2f}x {row['whole_video_rgb_s']:11.3f} {row['whole_video_raw_s']:11.3f}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Configured loaders
# ---------------------------------------------------------------------------------------------
@dataclass
class _StageTimes:
    """Seconds spent opening and reading videos by one dataset (in this process)."""

    open_s: float = 0.0
    decode_s: float = 0.0
    paths: List[str] = field(default_factory=list)


class _TimedReader:
    """Wraps a reader to add the time of each ``read`` to ``_StageTimes.decode_s``."""

    def __init__(self, reader: VideoReader, times: _StageTimes):
        self._reader, self._times = reader, times

    def read(self, indices):
        seconds, frames = _seconds(time.perf_counter, self._reader.read, indices)
        self._times.decode_s += seconds
        return frames

    def __getattr__(self, name):
        return getattr(self._reader, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self._reader.close()


def _instrument(dataset) -> _StageTimes:
    """Time ``dataset.open_reader`` and the reads of the readers it returns (this instance only)."""
    times = _StageTimes()
    open_reader = dataset.open_reader

    def timed_open_reader(record):
        seconds, reader = _seconds(time.perf_counter, open_reader, record)
        times.open_s += seconds
        times.paths.append(record.path)
        return _TimedReader(reader, times)

    dataset.open_reader = timed_open_reader
    return times


def time_loader(loader, max_batches: Optional[int] = None, log_period: int = 10) -> Dict:
    """Iterate ``loader`` (at most ``max_batches`` batches): clips, seconds and clips/s.

    The first batch (worker start-up) is timed separately and left out of clips/s.
    """
    clips = batches = 0
    first_batch_s = None
    start = time.perf_counter()
    steady_start = start
    for batch in loader:
        batches += 1
        if first_batch_s is None:
            first_batch_s = time.perf_counter() - start
            steady_start = time.perf_counter()
        else:
            clips += int(batch[1].shape[0])
        if log_period and batches % log_period == 0:
            logger.info(f"  batch {batches}: {clips / max(time.perf_counter() - steady_start, 1e-9):.1f} clips/s")
        if max_batches is not None and batches >= max_batches:
            break
    seconds = time.perf_counter() - steady_start
    return dict(batches=batches, clips=clips, seconds=seconds, first_batch_s=first_batch_s or 0.0,
                clips_per_s=clips / seconds if clips else float("nan"))


def time_per_clip(dataset, num_items: int = 8) -> Dict:
    """Mean seconds per item split into open, seek+decode and transform (the rest of
    ``__getitem__``: augmentation, normalisation, packing), in this process; and the raw
    front-to-back decode of the same files."""
    times = _instrument(dataset)
    count = min(num_items, len(dataset))
    total_s = 0.0
    for index in range(count):
        seconds, _ = _seconds(time.perf_counter, dataset.__getitem__, index)
        total_s += seconds
    options = dataset.options
    raw_s = raw_frames = 0
    for path in dict.fromkeys(times.paths):
        seconds, frames = _seconds(time.perf_counter, raw_decode, path, backend=options.backend, threads=options.threads)
        raw_s += seconds
        raw_frames += frames
    return dict(
        items=count, open_s=times.open_s / count, decode_s=times.decode_s / count,
        transform_s=(total_s - times.open_s - times.decode_s) / count, total_s=total_s / count,
        raw_decode_frames_per_s=raw_frames / raw_s if raw_s else float("nan"),
        raw_decode_s_per_video=raw_s / max(len(set(times.paths)), 1),
    )


def benchmark_data(cfg, splits: Sequence[str] = ("train", "test"), max_batches: Optional[int] = None,
                   items_for_split: int = 8) -> Dict[str, Dict]:
    """Benchmark the loaders of ``splits`` as configured (datasets, workers, batch sizes).

    Per split: loader throughput over ``cfg.BENCHMARK.NUM_EPOCHS`` epochs (or ``max_batches``),
    and the per-clip stage split measured in this process on ``items_for_split`` items.
    Returns ``{split: {"loader": ..., "per_clip": ...}}`` and logs a summary.
    """
    from slowfast.datasets.loader import construct_loader, shuffle_dataset

    results = {}
    for split in splits:
        loader = construct_loader(cfg, split)
        epochs = []
        for epoch in range(cfg.BENCHMARK.NUM_EPOCHS):
            if split == "train" and cfg.BENCHMARK.SHUFFLE:
                shuffle_dataset(loader, epoch)
            epochs.append(time_loader(loader, max_batches, cfg.BENCHMARK.LOG_PERIOD))
        clips = sum(e["clips"] for e in epochs)
        seconds = sum(e["seconds"] for e in epochs)
        loader_result = dict(epochs=epochs, clips=clips, seconds=seconds,
                             clips_per_s=clips / seconds if clips else float("nan"),
                             num_workers=cfg.DATA_LOADER.NUM_WORKERS, batch_size=loader.batch_size)
        per_clip = time_per_clip(loader.dataset, items_for_split)
        results[split] = dict(loader=loader_result, per_clip=per_clip)
        logger.info(format_data_result(split, results[split]))
    return results


def format_data_result(split: str, result: Dict) -> str:
    """One readable paragraph of a ``benchmark_data`` split."""
    loader, per_clip = result["loader"], result["per_clip"]
    return (
        f"[{split}] loader: {loader['clips_per_s']:.2f} clips/s ({loader['clips']} clips in {loader['seconds']:.2f} s "
        f"after the first batch; {loader['num_workers']} workers)\n"
        f"[{split}] per clip ({per_clip['items']} items in-process): open {per_clip['open_s'] * 1e3:.1f} ms, "
        f"seek+decode {per_clip['decode_s'] * 1e3:.1f} ms, transform {per_clip['transform_s'] * 1e3:.1f} ms, "
        f"total {per_clip['total_s'] * 1e3:.1f} ms\n"
        f"[{split}] raw front-to-back decode of the same files: {per_clip['raw_decode_frames_per_s']:.0f} frames/s, "
        f"{per_clip['raw_decode_s_per_video'] * 1e3:.1f} ms per video"
    )
