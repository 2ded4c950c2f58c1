"""The built-in synthetic motion dataset: a newcomer trains, tests and demos before owning Kinetics.

Each clip shows one textured, asymmetric polygon over a cluttered static background with
per-frame sensor noise. The class is the object's motion (left, right, up, down, zoom in,
zoom out, clockwise, anticlockwise, none), so a single frame says nothing about the class:
everything visible in frame 0 is drawn from the clip's seed alone, and the class only decides
how that scene evolves afterwards. Generation is deterministic in ``SYNTHETIC.SEED``.

On disk (``SYNTHETIC.CACHE_DIR`` or ``~/.cache/slowfast/synthetic-<settings hash>``)::

    videos/<split>_<index:05d>.mp4   H.264 clips written with PyAV
    {train,val,test}.csv             Kinetics format: "videos/<file> <label>"
    classes.txt                      one class name per line (line number = label)
    frames/<id>/00001.jpg ...        optional Jester-v1 layout copy (SYNTHETIC.FRAME_FOLDERS)
    jester-v1-{train,validation,labels}.csv

Generation goes to a temporary directory that is renamed into place when complete, so an
interrupted run or several processes generating at once never leave a half-written dataset.
"""
import hashlib
import json
import logging
import math
import os
import shutil
import tempfile
from dataclasses import dataclass
from typing import Callable, List, Tuple

import av
import cv2
import numpy as np

from slowfast.datasets.annotations import VideoRecord, check_labels
from slowfast.datasets.build import DATASET_REGISTRY
from slowfast.datasets.kinetics import Kinetics
from slowfast.utils.errors import DataError
from slowfast.utils.errors import ConfigError

logger = logging.getLogger(__name__)

CLASS_NAMES: Tuple[str, ...] = (
    "moving left",
    "moving right",
    "moving up",
    "moving down",
    "zooming in",
    "zooming out",
    "rotating clockwise",
    "rotating anticlockwise",
    "no motion",
)
# The class a clip becomes when played backwards (tools/probe_time_reversal.py): each motion's
# opposite, and "no motion" itself.
REVERSED_CLASS: Tuple[int, ...] = (1, 0, 3, 2, 5, 4, 7, 6, 8)
SPLITS = ("train", "val", "test")
# Bump when the rendering or the encoding changes, so cached datasets of an older generator are
# not reused (6: constant-quantiser H.264 whose decoded frame 0 is independent of the class).
GENERATOR_VERSION = 6
_DONE_MARKER = "generation.json"


@dataclass(frozen=True)
class Motion:
    """Per-frame motion of the object: translation (pixels), log-scale and rotation (degrees)."""

    dx: float = 0.0
    dy: float = 0.0
    log_scale: float = 0.0
    rotation: float = 0.0


def class_motion(class_index: int, speed: float, zoom_rate: float, spin: float) -> Motion:
    """The per-frame motion of class ``class_index`` with the clip's magnitudes.

    Image y grows downwards, and a positive rotation in image coordinates turns clockwise
    on screen.
    """
    motions = (
        Motion(dx=-speed),
        Motion(dx=speed),
        Motion(dy=-speed),
        Motion(dy=speed),
        Motion(log_scale=zoom_rate),
        Motion(log_scale=-zoom_rate),
        Motion(rotation=spin),
        Motion(rotation=-spin),
        Motion(),
    )
    return motions[class_index]


def _random_polygon(rng: np.random.Generator) -> np.ndarray:
    """An irregular polygon around the origin with unit mean radius, (V, 2)."""
    num_vertices = int(rng.integers(3, 8))
    angles = np.sort(rng.uniform(0, 2 * math.pi, num_vertices))
    radii = rng.uniform(0.6, 1.4, num_vertices)
    return np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1)


def _random_colour(rng: np.random.Generator, low: int = 0, high: int = 256) -> Tuple[int, int, int]:
    return tuple(int(c) for c in rng.integers(low, high, 3))


def _vivid_colour(rng: np.random.Generator) -> Tuple[int, int, int]:
    """A colour whose every channel is dark or bright, so it stands out from mid-tone backgrounds."""
    return tuple(int(c) if c < 64 else int(c) + 128 for c in rng.integers(0, 128, 3))


def _draw_background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A static cluttered background: a mid-tone base colour with random rectangles and circles.

    Mid tones keep a clip's overall colour from dominating what a network sees first, so the
    moving object, not the backdrop, carries the signal."""
    background = np.empty((height, width, 3), np.uint8)
    background[:] = _random_colour(rng, 80, 176)
    for _ in range(int(rng.integers(2, 6))):
        colour = _random_colour(rng, 40, 216)
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        size = int(rng.integers(3, max(4, min(height, width) // 8)))
        if rng.random() < 0.5:
            cv2.rectangle(background, (x, y), (x + size, y + size), colour, -1)
        else:
            cv2.circle(background, (x, y), size // 2, colour, -1)
    return background


def _place(shape: np.ndarray, centre: np.ndarray, scale: float, angle_deg: float) -> np.ndarray:
    """Rotate by ``angle_deg``, scale and translate a (V, 2) shape; returns int32 pixel points."""
    theta = math.radians(angle_deg)
    rotation = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    points = shape @ rotation.T * scale + centre
    return np.round(points * 16).astype(np.int32)  # 4 bits of sub-pixel precision


def render_clip(
    class_index: int, seed: int, num_frames: int = 48, height: int = 96, width: int = 128
) -> np.ndarray:
    """Render one clip of class ``class_index`` as uint8 ``(T, H, W, 3)`` RGB.

    Every random draw happens in the same order whatever the class, so two clips with the same
    ``seed`` and different classes have bit-identical first frames.
    """
    if not 0 <= class_index < len(CLASS_NAMES):
        raise ValueError(f"class_index must be in [0, {len(CLASS_NAMES)}), got {class_index}")
    rng = np.random.default_rng(seed)
    background = _draw_background(rng, height, width)
    body, marker = _random_polygon(rng), _random_polygon(rng) * 0.45 + rng.uniform(-0.3, 0.3, 2)
    body_colour, marker_colour = _vivid_colour(rng), _random_colour(rng)
    scale = rng.uniform(0.2, 0.28) * min(height, width)
    centre = np.array([rng.uniform(0.3, 0.7) * width, rng.uniform(0.3, 0.7) * height])
    angle = rng.uniform(0, 360)
    noise_std = rng.uniform(1.0, 5.0)
    # Magnitudes are drawn for every class (used or not) to keep the draw order class-free.
    total_shift = rng.uniform(0.6, 0.9) * min(height, width)
    motion = class_motion(
        class_index,
        speed=total_shift / max(1, num_frames - 1),
        zoom_rate=math.log(rng.uniform(2.2, 3.2)) / max(1, num_frames - 1),
        spin=rng.uniform(200.0, 320.0) / max(1, num_frames - 1),
    )
    frames = np.empty((num_frames, height, width, 3), np.uint8)
    for t in range(num_frames):
        frame = background.copy()
        pos = centre + t * np.array([motion.dx, motion.dy])
        size = scale * math.exp(t * motion.log_scale)
        rot = angle + t * motion.rotation
        cv2.fillPoly(frame, [_place(body, pos, size, rot)], body_colour, cv2.LINE_AA, shift=4)
        cv2.fillPoly(frame, [_place(marker, pos, size, rot)], marker_colour, cv2.LINE_AA, shift=4)
        noise = rng.normal(0.0, noise_std, frame.shape)
        frames[t] = np.clip(frame + noise, 0, 255).astype(np.uint8)
    return frames


def clip_seed(base_seed: int, split: str, index: int) -> int:
    """The rendering seed of clip ``index`` of ``split``: independent of its class."""
    digest = hashlib.sha256(f"{base_seed}/{split}/{index}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def write_mp4(path: str, frames: np.ndarray, fps: int) -> None:
    """Encode uint8 ``(T, H, W, 3)`` RGB frames (even H and W) as H.264, byte-reproducibly.

    x264 picks SIMD algorithms by CPU and buffer alignment, which made about a quarter of the
    encodes of small frames differ from run to run; ``cpu-independent`` (with one thread) makes
    the bitstream a function of the frames alone, and "bitexact" muxing writes no wall-clock time.

    Frame ``t`` is encoded from frames ``0..t`` only: a constant quantiser (no CRF rate control),
    no macroblock tree, no look-ahead and no B-frames. With CRF, x264's look-ahead and macroblock
    tree spent frame 0's bits according to the motion that follows, so the decoded first frames
    of the nine classes of one seed differed by up to 35 grey levels although their rendered
    frames are identical; now they decode to identical pixels, and a single decoded frame still
    says nothing about the class. QP 22 keeps the clips as faithful as CRF 18 did and smaller (15 kB
    on average for 48 frames of 128x96, was 21 kB).
    """
    height, width = frames.shape[1:3]
    if height % 2 or width % 2:
        raise ConfigError(f"H.264 4:2:0 needs an even frame size, got {height}x{width} (SYNTHETIC.FRAME_SIZE)")
    with av.open(path, mode="w", options={"fflags": "+bitexact"}) as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.options = {
            "qp": "22",
            "preset": "veryfast",
            "x264-params": "cpu-independent=1:bframes=0:mbtree=0:rc-lookahead=0",
        }
        stream.codec_context.thread_count = 1
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())


def _settings(cfg) -> dict:
    s = cfg.SYNTHETIC
    return {
        "version": GENERATOR_VERSION,
        "clips_per_class": list(s.CLIPS_PER_CLASS),
        "num_frames": s.NUM_FRAMES,
        "frame_size": list(s.FRAME_SIZE),
        "fps": s.FPS,
        "seed": s.SEED,
        "frame_folders": bool(s.FRAME_FOLDERS),
    }


def dataset_dir(cfg) -> str:
    """Where the dataset of these settings lives (SYNTHETIC.CACHE_DIR or a settings-keyed cache)."""
    if cfg.SYNTHETIC.CACHE_DIR:
        return os.path.abspath(os.path.expanduser(cfg.SYNTHETIC.CACHE_DIR))
    key = hashlib.sha256(json.dumps(_settings(cfg), sort_keys=True).encode()).hexdigest()[:12]
    cache_root = os.environ.get("XDG_CACHE_HOME", os.path.join(os.path.expanduser("~"), ".cache"))
    return os.path.join(cache_root, "slowfast", f"synthetic-{key}")


def _split_items(cfg, split: str) -> List[Tuple[str, int, int]]:
    """(clip id, label, seed) of every clip of ``split``; classes interleaved."""
    per_class = cfg.SYNTHETIC.CLIPS_PER_CLASS[SPLITS.index(split)]
    items = []
    for index in range(per_class * len(CLASS_NAMES)):
        label = index % len(CLASS_NAMES)
        items.append((f"{split}_{index:05d}", label, clip_seed(cfg.SYNTHETIC.SEED, split, index)))
    return items


def _write_frame_folder(root: str, clip_id: str, frames: np.ndarray) -> None:
    folder = os.path.join(root, "frames", clip_id)
    os.makedirs(folder)
    for t, frame in enumerate(frames, start=1):
        cv2.imwrite(os.path.join(folder, f"{t:05d}.jpg"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))


def _generate_into(cfg, root: str) -> None:
    s = cfg.SYNTHETIC
    height, width = s.FRAME_SIZE
    os.makedirs(os.path.join(root, "videos"))
    with open(os.path.join(root, "classes.txt"), "w") as f:
        f.write("\n".join(CLASS_NAMES) + "\n")
    if s.FRAME_FOLDERS:
        with open(os.path.join(root, "jester-v1-labels.csv"), "w") as f:
            f.write("\n".join(CLASS_NAMES) + "\n")
    for split in SPLITS:
        csv_lines, jester_lines = [], []
        for clip_id, label, seed in _split_items(cfg, split):
            frames = render_clip(label, seed, s.NUM_FRAMES, height, width)
            write_mp4(os.path.join(root, "videos", f"{clip_id}.mp4"), frames, s.FPS)
            csv_lines.append(f"videos/{clip_id}.mp4 {label}")
            if s.FRAME_FOLDERS:
                _write_frame_folder(root, clip_id, frames)
                jester_lines.append(f"{clip_id};{CLASS_NAMES[label]}")
        with open(os.path.join(root, f"{split}.csv"), "w") as f:
            f.write("\n".join(csv_lines) + "\n")
        if s.FRAME_FOLDERS and split != "test":
            name = "train" if split == "train" else "validation"
            with open(os.path.join(root, f"jester-v1-{name}.csv"), "w") as f:
                f.write("\n".join(jester_lines) + "\n")
    with open(os.path.join(root, _DONE_MARKER), "w") as f:
        json.dump(_settings(cfg), f, sort_keys=True)


def ensure_synthetic_dataset(cfg) -> str:
    """Generate the dataset of ``cfg.SYNTHETIC`` unless it is already complete; return its directory."""
    num_clips = sum(cfg.SYNTHETIC.CLIPS_PER_CLASS) * len(CLASS_NAMES)
    return generate_atomically(dataset_dir(cfg), lambda data: _generate_into(cfg, data),
                               f"the synthetic motion dataset ({num_clips} clips)")


def generate_atomically(root: str, generate: Callable[[str], None], description: str) -> str:
    """Run ``generate(directory)`` unless ``root`` already holds a complete dataset (its
    ``generation.json`` marker, which ``generate`` writes last); return ``root``.

    ``generate`` fills a temporary directory next to ``root`` that is renamed into place when
    complete, so an interrupted run or several processes generating at once never leave a
    half-written dataset. Shared by every built-in generator (``synthetic_detection`` too).
    """
    if os.path.isfile(os.path.join(root, _DONE_MARKER)):
        return root
    parent = os.path.dirname(root)
    os.makedirs(parent, exist_ok=True)
    logger.info("Generating %s in %s", description, root)
    staging = tempfile.mkdtemp(prefix=os.path.basename(root) + ".tmp-", dir=parent)
    try:
        generate(os.path.join(staging, "data"))
        try:
            os.replace(os.path.join(staging, "data"), root)
        except OSError as err:
            # Another process finished first (root exists and is not empty): keep its copy.
            if not os.path.isfile(os.path.join(root, _DONE_MARKER)):
                raise DataError(
                    f"SYNTHETIC.CACHE_DIR {root} exists, is not empty and holds no complete synthetic dataset",
                    "empty it or choose another directory",
                ) from err
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return root


@DATASET_REGISTRY.register()
class Synthetic(Kinetics):
    """The synthetic motion dataset, generated on first use and read like Kinetics.

    ``DATA.PATH_TO_DATA_DIR`` and ``DATA.PATH_PREFIX`` are set to the generated directory;
    flips are never applied, because a mirrored clip would change "left" into "right" and
    "clockwise" into "anticlockwise".
    """

    allow_flip = False
    REQUIRES_DATA_DIR = False

    @classmethod
    def check_split(cls, cfg, split: str) -> None:
        """The run's pre-flight check (``slowfast.engine.preflight``) without generating a clip:
        the labels the generator writes to ``<dataset dir>/<split>.csv`` must fit MODEL.NUM_CLASSES,
        named by that file's lines (so a test split left at ``synthetic`` fails in a second)."""
        path = os.path.join(dataset_dir(cfg), f"{split}.csv")
        records = [VideoRecord(f"videos/{clip_id}.mp4", label, f"{path}:{line}")
                   for line, (clip_id, label, _) in enumerate(_split_items(cfg, split), start=1)]
        check_labels(records, cfg.MODEL.NUM_CLASSES, cfg.DATA.ONE_BASED_LABELS, path)

    @classmethod
    def class_names(cls, cfg) -> List[str]:
        """The names of ``classes.txt`` in the generated directory (the generator's names before it exists)."""
        path = os.path.join(dataset_dir(cfg), "classes.txt")
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as f:
                return [line.strip() for line in f if line.strip()]
        return list(CLASS_NAMES)

    @classmethod
    def reversed_classes(cls, cfg) -> List[int]:
        """Per class, the class its clips show when played backwards (:data:`REVERSED_CLASS`)."""
        return list(REVERSED_CLASS)

    def __init__(self, cfg, split: str):
        root = ensure_synthetic_dataset(cfg)
        cfg = cfg.clone()
        cfg.defrost()  # the caller's config may be frozen; this copy is the dataset's own
        cfg.DATA.PATH_TO_DATA_DIR = root
        cfg.DATA.PATH_PREFIX = root
        super().__init__(cfg, split)
