"""Built-in multi-label data: a synthetic AVA layout (boxes, several actors) and a Charades layout.

Actors are the textured polygons of ``datasets/synthetic.py`` (same shapes, colours, cluttered
backgrounds and sensor noise). The actions are that module's first eight motion classes, in three kinds
that combine: a translation (left, right, up or down), a scale change (zoom in or out) and a
rotation (clockwise or anticlockwise). An actor does one to three at once, at most one of each
kind, so "moving left" + "zooming in" + "rotating clockwise" is one actor's label set. Action ``id`` in the files is the class index + 1
(AVA ids start at 1); Charades labels are 0-based class indices.

``SYNTHETIC.LAYOUT ava`` (with ``TRAIN.DATASET ava``) generates, under ``SYNTHETIC.CACHE_DIR`` or
``~/.cache/slowfast/synthetic-ava-<settings hash>``::

    frames/<video_id>/<video_id>_000001.jpg     AVA.FPS frames per second from AVA.FIRST_FRAME_SEC
    frame_lists/{train,val}.csv                 original_vido_id video_idx frame_idx path labels
    annotations/ava_{train,val}_v2.2.csv         video_id,timestamp,x1,y1,x2,y2,action_id,person_id
    annotations/ava_{train,val}_predicted_boxes.csv   detector-like boxes: ground truth jittered,
                                                 some missed, some false positives, with scores
                                                 (train: labels of the matched actor; val: none)
    annotations/ava_action_list_v2.2_for_activitynet_2019.pbtxt   the 8 actions
    annotations/ava_val_excluded_timestamps_v2.2.csv               one excluded val keyframe

Each video holds ``SYNTHETIC.AVA_KEYFRAMES + 1`` seconds; keyframe ``k`` (second
``FIRST_FRAME_SEC + 1 + k``) labels the actions each actor does during the second centred on it.

``SYNTHETIC.LAYOUT charades`` (with ``TRAIN.DATASET charades``) generates one actor per video doing
1-3 actions for the whole clip: ``frames/<id>/<id>-000001.jpg`` and ``{train,val}.csv`` frame lists
(``original_vido_id video_id frame_id path labels``, labels ``"0,4"``), ``classes.txt``.

Generation is deterministic in ``SYNTHETIC.SEED`` and atomic (a temporary directory renamed into
place), like the motion dataset's.
"""
import hashlib
import json
import logging
import math
import os
from dataclasses import dataclass
from typing import Callable, Dict, List, Sequence, Tuple

import cv2
import numpy as np

from slowfast.datasets.synthetic import (
    _DONE_MARKER, CLASS_NAMES, _draw_background, _place, _random_colour, _random_polygon, _vivid_colour, class_motion,
    clip_seed, generate_atomically,
)
from slowfast.utils.errors import ConfigError, DataError

logger = logging.getLogger(__name__)

GENERATOR_VERSION = 4  # bump when the output changes (it keys the cache directory)
ACTIONS: Tuple[str, ...] = CLASS_NAMES[:8]
# The three kinds of action (translation, scale, rotation); an actor does at most one of each.
KINDS: Tuple[Tuple[int, ...], ...] = ((0, 1, 2, 3), (4, 5), (6, 7))
LABEL_MAP_NAME = "ava_action_list_v2.2_for_activitynet_2019.pbtxt"
LAYOUTS = ("ava", "charades")  # SYNTHETIC.LAYOUT values, each read by the dataset of that name


def uses_builtin_layout(cfg, dataset: str) -> bool:
    """Whether dataset ``dataset`` ("ava" / "charades") reads the generated layout: SYNTHETIC.LAYOUT
    names it. Another layout, or an unknown one, is a ConfigError (it would be silently ignored)."""
    layout = cfg.SYNTHETIC.LAYOUT
    if layout and layout not in LAYOUTS:
        raise ConfigError(f"SYNTHETIC.LAYOUT={layout!r} is not a built-in layout", f"use one of {list(LAYOUTS)} or ''")
    if layout and layout != dataset:
        raise ConfigError(f"SYNTHETIC.LAYOUT={layout!r} generates data for the '{layout}' dataset, not '{dataset}'",
                          f"set SYNTHETIC.LAYOUT {dataset} or '' (or read the '{layout}' dataset)")
    return layout == dataset


# ---------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------
@dataclass
class Actor:
    """One textured polygon and its state; speeds are per frame."""

    body: np.ndarray
    marker: np.ndarray
    body_colour: Tuple[int, int, int]
    marker_colour: Tuple[int, int, int]
    centre: np.ndarray
    size: float
    angle: float
    speed: float
    zoom_rate: float
    spin: float
    min_size: float
    max_size: float


def _area(polygon: np.ndarray) -> float:
    """Shoelace area of a ``(V, 2)`` polygon (a unit-radius regular hexagon: 2.6)."""
    x, y = polygon[:, 0], polygon[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))))


def _new_actor(rng: np.random.Generator, height: int, width: int, slot: int, num_slots: int, fps: float) -> Actor:
    """An actor in horizontal slot ``slot`` of ``num_slots`` (actors start apart)."""
    short = min(height, width)
    body = _random_polygon(rng)
    for _ in range(20):  # a sliver of a polygon hardly shows its motion: redraw thin ones
        if _area(body) >= 1.5:
            break
        body = _random_polygon(rng)
    # The marker sits off-centre, so a turn sweeps it around the body: rotation shows clearly.
    direction = rng.uniform(0, 2 * math.pi)
    marker = _random_polygon(rng) * 0.35 + 0.45 * np.array([math.cos(direction), math.sin(direction)])
    size = rng.uniform(0.14, 0.18) * short
    x = width * (slot + rng.uniform(0.35, 0.65)) / num_slots
    # Three or more actors start on alternate rows, so neighbours do not overlap.
    row = 0.5 if num_slots < 3 else (0.3 if slot % 2 == 0 else 0.7)
    y = (row + rng.uniform(-0.1, 0.1)) * height
    return Actor(
        body=body, marker=marker, body_colour=_vivid_colour(rng), marker_colour=_random_colour(rng),
        centre=np.array([x, y]), size=size, angle=rng.uniform(0, 360),
        speed=rng.uniform(0.22, 0.28) * short / fps, zoom_rate=math.log(rng.uniform(1.3, 1.45)) / fps,
        spin=rng.uniform(200.0, 260.0) / fps, min_size=0.11 * short, max_size=0.24 * short,
    )


def _choose_actions(rng: np.random.Generator, actor: Actor, height: int, width: int, frames: int,
                    others: Sequence[np.ndarray] = ()) -> Tuple[int, ...]:
    """1-3 actions of distinct kinds for the next ``frames`` frames.

    Each action is drawn at random among those of its kind that keep the actor's centre within the
    middle 70 % of the frame and its size within its limits until the segment ends; a translation
    must also end at least 0.4 of the short side away from the ``others`` centres, and is left out
    when none does (an actor that was only to translate rotates instead). Actors thus stay in
    view, large and apart."""
    num = int(rng.integers(1, 4))
    kinds = sorted(rng.choice(len(KINDS), size=num, replace=False).tolist())
    actions = []
    for kind in kinds:
        # A fixed number of draws per kind, whatever the actor's state.
        options = [KINDS[kind][i] for i in rng.permutation(len(KINDS[kind]))]

        def end_state(action: int):
            m = _motion(actor, (action,)) * frames
            return actor.centre + m[:2], actor.size * math.exp(m[2])

        def crowding(centre: np.ndarray) -> float:
            """How far inside the keep-apart distance of the nearest other actor ``centre`` is (0 = clear)."""
            gaps = [np.linalg.norm(centre - other) for other in others]
            return max(0.0, 0.4 * min(height, width) - min(gaps)) if gaps else 0.0

        def stays(action: int) -> bool:
            (x, y), size = end_state(action)
            return (0.15 * width <= x <= 0.85 * width and 0.15 * height <= y <= 0.85 * height
                    and actor.min_size <= size <= actor.max_size)

        def off_middle(action: int) -> float:
            (x, y), size = end_state(action)
            return abs(x / width - 0.5) + abs(y / height - 0.5) + abs(math.log(size / math.sqrt(actor.min_size * actor.max_size)))

        in_view = [a for a in options if stays(a)]
        apart = [a for a in in_view if kind != 0 or crowding(end_state(a)[0]) == 0]
        if apart:
            actions.append(apart[0])
        elif kind != 0:  # a zoom that fits nowhere: the one ending nearest the middle size
            actions.append(min(options, key=off_middle))
        # else: no translation keeps this actor in view and apart: it does its other actions
    if not actions:  # it was to translate only: it turns instead
        actions.append(KINDS[2][int(rng.integers(len(KINDS[2])))])
    return tuple(sorted(actions))


def _motion(actor: Actor, actions: Sequence[int]):
    """Per-frame (dx, dy, dlog_size, drotation) of ``actions`` combined."""
    total = np.zeros(4)
    for action in actions:
        m = class_motion(action, actor.speed, actor.zoom_rate, actor.spin)
        total += (m.dx, m.dy, m.log_scale, m.rotation)
    return total


def _draw(frame: np.ndarray, actor: Actor) -> np.ndarray:
    """Draw ``actor`` (body, then its marker) into ``frame``; returns its box x1, y1, x2, y2 in pixels."""
    body = _place(actor.body, actor.centre, actor.size, actor.angle)
    marker = _place(actor.marker, actor.centre, actor.size, actor.angle)
    cv2.fillPoly(frame, [body], actor.body_colour, cv2.LINE_AA, shift=4)
    cv2.fillPoly(frame, [marker], actor.marker_colour, cv2.LINE_AA, shift=4)
    points = np.concatenate([body, marker]) / 16.0
    height, width = frame.shape[:2]
    return np.clip([points[:, 0].min(), points[:, 1].min(), points[:, 0].max(), points[:, 1].max()],
                   0, [width, height, width, height])


def render_scene(seed: int, num_frames: int, height: int, width: int, num_actors: int,
                 segment_of: Callable[[int], int], fps: float = 30.0):
    """Render actors whose actions change at segment boundaries.

    Args:
        segment_of: frame index -> segment index (non-decreasing); actions are drawn at the
            first frame of each segment.
    Returns:
        frames uint8 ``(T, H, W, 3)`` RGB, boxes float ``(T, A, 4)`` x1, y1, x2, y2 in pixels, and
        ``actions[segment][actor]`` tuples of class indices.
    """
    rng = np.random.default_rng(seed)
    background = _draw_background(rng, height, width)
    noise_std = rng.uniform(1.0, 4.0)
    actors = [_new_actor(rng, height, width, slot, num_actors, fps) for slot in range(num_actors)]
    frames = np.empty((num_frames, height, width, 3), np.uint8)
    boxes = np.zeros((num_frames, num_actors, 4))
    actions: List[List[Tuple[int, ...]]] = []
    motions = []
    for t in range(num_frames):
        if segment_of(t) == len(actions):
            length = sum(1 for u in range(t, num_frames) if segment_of(u) == segment_of(t))
            ends = [actor.centre for actor in actors]  # where each actor will be at the segment's end
            segment_actions = []
            for a, actor in enumerate(actors):
                acts = _choose_actions(rng, actor, height, width, length, ends[:a] + ends[a + 1:])
                ends[a] = actor.centre + _motion(actor, acts)[:2] * length
                segment_actions.append(acts)
            actions.append(segment_actions)
            motions = [_motion(actor, acts) for actor, acts in zip(actors, segment_actions)]
        frame = background.copy()
        for a, (actor, motion) in enumerate(zip(actors, motions)):
            boxes[t, a] = _draw(frame, actor)
            actor.centre = actor.centre + motion[:2]
            actor.size *= math.exp(motion[2])
            actor.angle += motion[3]
        noise = rng.normal(0.0, noise_std, frame.shape)
        frames[t] = np.clip(frame + noise, 0, 255).astype(np.uint8)
    return frames, boxes, actions


def _write_frames(folder: str, name_template: str, frames: np.ndarray) -> List[str]:
    """JPEG frames ``name_template.format(1..T)`` in ``folder``; returns the file names."""
    os.makedirs(folder)
    names = []
    for t, frame in enumerate(frames, start=1):
        names.append(name_template.format(t))
        cv2.imwrite(os.path.join(folder, names[-1]), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR),
                    [cv2.IMWRITE_JPEG_QUALITY, 90])
    return names


# ---------------------------------------------------------------------------------------------
# Cache and atomic generation
# ---------------------------------------------------------------------------------------------
def _settings(cfg, layout: str) -> Dict:
    s = cfg.SYNTHETIC
    common = {"layout": layout, "version": GENERATOR_VERSION, "seed": s.SEED, "frame_size": list(s.FRAME_SIZE)}
    if layout == "ava":
        return {**common, "videos": list(s.AVA_VIDEOS), "keyframes": s.AVA_KEYFRAMES, "actors": list(s.AVA_ACTORS),
                "first_frame_sec": cfg.AVA.FIRST_FRAME_SEC, "fps": cfg.AVA.FPS}
    return {**common, "videos": list(s.CHARADES_VIDEOS), "num_frames": s.NUM_FRAMES}


def dataset_dir(cfg, layout: str) -> str:
    """SYNTHETIC.CACHE_DIR, or a directory keyed by the layout's settings."""
    if cfg.SYNTHETIC.CACHE_DIR:
        return os.path.abspath(os.path.expanduser(cfg.SYNTHETIC.CACHE_DIR))
    key = hashlib.sha256(json.dumps(_settings(cfg, layout), sort_keys=True).encode()).hexdigest()[:12]
    cache_root = os.environ.get("XDG_CACHE_HOME", os.path.join(os.path.expanduser("~"), ".cache"))
    return os.path.join(cache_root, "slowfast", f"synthetic-{layout}-{key}")


def ensure_generated(cfg, layout: str) -> str:
    """Generate the ``layout`` ("ava" or "charades") dataset unless complete; return its directory."""
    generate = {"ava": _generate_ava, "charades": _generate_charades}[layout]
    root, settings = dataset_dir(cfg, layout), _settings(cfg, layout)
    marker = os.path.join(root, _DONE_MARKER)
    if os.path.isfile(marker):
        with open(marker) as f:
            if json.load(f) != settings:
                raise DataError(f"SYNTHETIC.CACHE_DIR {root} holds a synthetic dataset of other settings",
                                "empty it or choose another directory")

    def generate_with_marker(directory: str) -> None:
        generate(cfg, directory)
        with open(os.path.join(directory, _DONE_MARKER), "w") as f:
            json.dump(settings, f, sort_keys=True)

    return generate_atomically(root, generate_with_marker, f"the synthetic {layout} dataset")


# ---------------------------------------------------------------------------------------------
# AVA layout
# ---------------------------------------------------------------------------------------------
def _fmt(box: Sequence[float]) -> str:
    return ",".join("%.4f" % v for v in box)


def _box_iou(a: np.ndarray, b: np.ndarray) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return w * h / union if union > 0 else 0.0


def _predicted_boxes(rng: np.random.Generator, truth: np.ndarray) -> List[Tuple[np.ndarray, float, int]]:
    """A person detector's output for one keyframe: ``(box, score, matched actor or -1)``.

    Each actor is missed with probability 0.05, else found with a jittered box and a score in
    [0.92, 1] (above SlowFast's default AVA.DETECTION_SCORE_THRESH 0.9); a false positive (random
    box, score uniform in [0.05, 0.95], so a few pass the threshold) is added with probability 0.3.
    """
    found = []
    for a, box in enumerate(truth):
        miss, jitter, score = rng.random() < 0.05, rng.normal(0.0, 0.015, 4), rng.uniform(0.92, 1.0)
        if not miss:
            jittered = np.clip(box + jitter, 0.0, 1.0)
            jittered[2:] = np.maximum(jittered[2:], jittered[:2] + 0.01)
            found.append((np.clip(jittered, 0.0, 1.0), score, a))
    if rng.random() < 0.3:
        x1, y1 = rng.uniform(0.0, 0.7, 2)
        fp = np.array([x1, y1, x1 + rng.uniform(0.15, 0.3), y1 + rng.uniform(0.15, 0.3)]).clip(0, 1)
        matched = [a for a, box in enumerate(truth) if _box_iou(fp, box) >= 0.5]
        found.append((fp, rng.uniform(0.05, 0.95), matched[0] if matched else -1))
    return found


def _generate_ava(cfg, root: str) -> None:
    s, ava = cfg.SYNTHETIC, cfg.AVA
    height, width = s.FRAME_SIZE
    fps, num_keyframes = int(ava.FPS), s.AVA_KEYFRAMES
    num_frames = (num_keyframes + 1) * fps
    first_keyframe = ava.FIRST_FRAME_SEC + 1
    # Keyframe k is at frame (k + 1) * fps; its segment is the second centred on it.
    segment_of = lambda t: min(max(int(math.floor(t / fps + 0.5)) - 1, 0), num_keyframes - 1)  # noqa: E731
    for folder in ("frames", "frame_lists", "annotations"):
        os.makedirs(os.path.join(root, folder))
    annotations = os.path.join(root, "annotations")
    with open(os.path.join(annotations, LABEL_MAP_NAME), "w") as f:
        for action, name in enumerate(ACTIONS, start=1):
            f.write(f'item {{\n  name: "{name}"\n  id: {action}\n}}\n')
    excluded = []
    for split, num_videos in zip(("train", "val"), s.AVA_VIDEOS):
        list_lines = ["original_vido_id video_idx frame_idx path labels"]
        gt_lines, predicted_lines = [], []
        for video_idx in range(num_videos):
            video_id = f"synth_{split}_{video_idx:03d}"
            seed = clip_seed(s.SEED, f"ava-{split}", video_idx)
            rng = np.random.default_rng(seed + 1)
            num_actors = int(rng.integers(s.AVA_ACTORS[0], s.AVA_ACTORS[1] + 1))
            frames, boxes, actions = render_scene(seed, num_frames, height, width, num_actors, segment_of, fps)
            names = _write_frames(os.path.join(root, "frames", video_id), video_id + "_{:06d}.jpg", frames)
            list_lines += [f'{video_id} {video_idx} {i} {video_id}/{name} ""' for i, name in enumerate(names)]
            scale = np.array([width, height, width, height], float)
            for k in range(num_keyframes):
                sec = first_keyframe + k
                truth = boxes[(k + 1) * fps] / scale
                for person, box in enumerate(truth):
                    gt_lines += [f"{video_id},{sec:04d},{_fmt(box)},{action + 1},{person}" for action in actions[k][person]]
                for box, score, person in _predicted_boxes(rng, truth):
                    labels = [action + 1 for action in actions[k][person]] if person >= 0 and split == "train" else [""]
                    predicted_lines += [f"{video_id},{sec:04d},{_fmt(box)},{label},{score:.4f}" for label in labels]
            if split == "val" and video_idx == 0:
                excluded.append(f"{video_id},{first_keyframe + num_keyframes - 1:04d}")
        with open(os.path.join(root, "frame_lists", f"{split}.csv"), "w") as f:
            f.write("\n".join(list_lines) + "\n")
        with open(os.path.join(annotations, f"ava_{split}_v2.2.csv"), "w") as f:
            f.write("\n".join(gt_lines) + "\n")
        with open(os.path.join(annotations, f"ava_{split}_predicted_boxes.csv"), "w") as f:
            f.write("\n".join(predicted_lines) + "\n")
    with open(os.path.join(annotations, "ava_val_excluded_timestamps_v2.2.csv"), "w") as f:
        f.write("\n".join(excluded) + "\n")


def ava_overrides(cfg, root: str) -> Dict[str, object]:
    """The ``AVA.*`` values that make the ``ava`` dataset read the generated layout in ``root``."""
    first_keyframe = cfg.AVA.FIRST_FRAME_SEC + 1
    annotations = os.path.join(root, "annotations")
    return {
        "FRAME_DIR": os.path.join(root, "frames"), "FRAME_LIST_DIR": os.path.join(root, "frame_lists"),
        "ANNOTATION_DIR": annotations, "TRAIN_LISTS": ["train.csv"], "TEST_LISTS": ["val.csv"],
        "TRAIN_GT_BOX_LISTS": ["ava_train_v2.2.csv"],
        "TRAIN_PREDICT_BOX_LISTS": [name for name in cfg.AVA.TRAIN_PREDICT_BOX_LISTS if name == "ava_train_predicted_boxes.csv"],
        "TEST_PREDICT_BOX_LISTS": ["ava_val_predicted_boxes.csv"], "LABEL_MAP_FILE": LABEL_MAP_NAME,
        "EXCLUSION_FILE": "ava_val_excluded_timestamps_v2.2.csv", "GROUNDTRUTH_FILE": "ava_val_v2.2.csv",
        "VALID_SECONDS": [first_keyframe, first_keyframe + cfg.SYNTHETIC.AVA_KEYFRAMES - 1],
        "FULL_TEST_ON_VAL": True,  # a few seconds per video: validate on all of them
    }


# ---------------------------------------------------------------------------------------------
# Charades layout
# ---------------------------------------------------------------------------------------------
def _generate_charades(cfg, root: str) -> None:
    s = cfg.SYNTHETIC
    height, width = s.FRAME_SIZE
    os.makedirs(os.path.join(root, "frames"))
    with open(os.path.join(root, "classes.txt"), "w") as f:
        f.write("\n".join(ACTIONS) + "\n")
    for split, num_videos in zip(("train", "val"), s.CHARADES_VIDEOS):
        lines = ["original_vido_id video_id frame_id path labels"]
        for video_idx in range(num_videos):
            video_id = f"SYN{split[0].upper()}{video_idx:04d}"
            seed = clip_seed(s.SEED, f"charades-{split}", video_idx)
            frames, _, actions = render_scene(seed, s.NUM_FRAMES, height, width, 1, lambda t: 0, float(s.FPS))
            labels = ",".join(str(action) for action in sorted(actions[0][0]))
            names = _write_frames(os.path.join(root, "frames", video_id), video_id + "-{:06d}.jpg", frames)
            lines += [f"{video_id} {video_idx} {i} {video_id}/{name} {labels}" for i, name in enumerate(names)]
        with open(os.path.join(root, f"{split}.csv"), "w") as f:
            f.write("\n".join(lines) + "\n")
