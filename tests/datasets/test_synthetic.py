"""The built-in synthetic motion dataset: deterministic, motion-only classes, atomic generation."""
import filecmp
import os

import av
import numpy as np
import pytest

from slowfast.config.defaults import get_cfg
from slowfast.datasets import synthetic
from slowfast.datasets.synthetic import CLASS_NAMES, ensure_synthetic_dataset, render_clip


def tiny_cfg(cache_dir, seed=0, frame_folders=False):
    cfg = get_cfg()
    cfg.SYNTHETIC.CACHE_DIR = str(cache_dir)
    cfg.SYNTHETIC.CLIPS_PER_CLASS = [2, 1, 1]
    cfg.SYNTHETIC.NUM_FRAMES = 12
    cfg.SYNTHETIC.FRAME_SIZE = [48, 64]
    cfg.SYNTHETIC.SEED = seed
    cfg.SYNTHETIC.FRAME_FOLDERS = frame_folders
    return cfg


def test_first_frame_is_identical_across_classes():
    clips = [render_clip(c, seed=7, num_frames=16, height=48, width=64) for c in range(len(CLASS_NAMES))]
    for clip in clips[1:]:
        np.testing.assert_array_equal(clip[0], clips[0][0])


def _decode(path):
    with av.open(path) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(container.streams.video[0])])


@pytest.mark.parametrize("seed", [0, 7])
def test_decoded_first_frame_is_identical_across_classes(tmp_path, seed):
    """The promise holds after encoding: frame 0 of the nine encoded clips of one seed decodes to the
    same pixels (with CRF, x264's look-ahead made them differ by up to 35 grey levels). Default
    clip size, so the encoder sees the motion the dataset really has."""
    decoded = []
    for c in range(len(CLASS_NAMES)):
        path = str(tmp_path / f"class_{c}.mp4")
        synthetic.write_mp4(path, render_clip(c, seed=seed, num_frames=48, height=96, width=128), fps=30)
        decoded.append(_decode(path))
    assert all(len(clip) == 48 for clip in decoded)
    for c, clip in enumerate(decoded[1:], start=1):
        np.testing.assert_array_equal(clip[0], decoded[0][0], err_msg=CLASS_NAMES[c])
    # ... and only frame 0: the classes still differ once they move.
    assert all(not np.array_equal(clip[24], decoded[0][24]) for clip in decoded[1:])


def test_encoded_clips_stay_small_and_faithful(tmp_path):
    """The constant-quantiser encoding keeps a default clip small and close to what was rendered."""
    frames = render_clip(CLASS_NAMES.index("rotating clockwise"), seed=3, num_frames=48, height=96, width=128)
    path = str(tmp_path / "clip.mp4")
    synthetic.write_mp4(path, frames, fps=30)
    assert os.path.getsize(path) < 30_000  # 15.5 kB today; CRF 18 wrote 21 kB on average
    error = np.abs(_decode(path).astype(np.int16) - frames.astype(np.int16)).mean()
    assert error < 6.0, error


def test_classes_differ_after_the_first_frame():
    """Half-way through (the object may have left the frame by the end), every pair differs."""
    clips = [render_clip(c, seed=7, num_frames=16, height=48, width=64) for c in range(len(CLASS_NAMES))]
    middle_frames = np.stack([clip[len(clip) // 2].astype(np.int32) for clip in clips])
    for a in range(len(clips)):
        for b in range(a + 1, len(clips)):
            assert np.abs(middle_frames[a] - middle_frames[b]).mean() > 1.0, (CLASS_NAMES[a], CLASS_NAMES[b])


def test_first_frame_statistics_do_not_depend_on_class():
    """Over many seeds, mean colour of frame 0 per class is the same: no single-frame shortcut."""
    per_class_means = []
    for c in range(len(CLASS_NAMES)):
        means = [render_clip(c, seed=s, num_frames=2, height=32, width=40)[0].mean() for s in range(10)]
        per_class_means.append(means)
    per_class_means = np.array(per_class_means)
    np.testing.assert_array_equal(per_class_means, np.repeat(per_class_means[:1], len(CLASS_NAMES), 0))


def test_motion_moves_the_object_in_the_named_direction():
    """Object centroid (pixels that differ from a no-motion clip's background) follows the class."""
    seed, t = 3, 15
    still = render_clip(CLASS_NAMES.index("no motion"), seed, 16, 64, 80)

    def centroid(clip):
        changed = np.abs(clip[t].astype(int) - still[t].astype(int)).sum(-1) > 60
        ys, xs = np.nonzero(changed)
        return xs.mean(), ys.mean()

    x_left, _ = centroid(render_clip(CLASS_NAMES.index("moving left"), seed, 16, 64, 80))
    x_right, _ = centroid(render_clip(CLASS_NAMES.index("moving right"), seed, 16, 64, 80))
    _, y_up = centroid(render_clip(CLASS_NAMES.index("moving up"), seed, 16, 64, 80))
    _, y_down = centroid(render_clip(CLASS_NAMES.index("moving down"), seed, 16, 64, 80))
    assert x_left < x_right
    assert y_up < y_down


def test_reversed_class_is_the_opposite_motion():
    """REVERSED_CLASS (the time-reversal probe's pairs) names, per class, the motion that undoes it."""
    assert sorted(synthetic.REVERSED_CLASS) == list(range(len(CLASS_NAMES)))
    for c, partner in enumerate(synthetic.REVERSED_CLASS):
        forward = synthetic.class_motion(c, speed=2.0, zoom_rate=0.03, spin=5.0)
        backward = synthetic.class_motion(partner, speed=2.0, zoom_rate=0.03, spin=5.0)
        assert (backward.dx, backward.dy, backward.log_scale, backward.rotation) == (
            -forward.dx, -forward.dy, -forward.log_scale, -forward.rotation), CLASS_NAMES[c]


def test_render_rejects_unknown_class():
    with pytest.raises(ValueError, match="class_index"):
        render_clip(len(CLASS_NAMES), seed=0)


def test_generation_writes_kinetics_layout(tmp_path):
    root = ensure_synthetic_dataset(tiny_cfg(tmp_path / "ds"))
    for split, per_class in zip(("train", "val", "test"), (2, 1, 1)):
        lines = open(os.path.join(root, f"{split}.csv")).read().splitlines()
        assert len(lines) == per_class * len(CLASS_NAMES)
        path, label = lines[0].split(" ")
        assert os.path.isfile(os.path.join(root, path)) and 0 <= int(label) < len(CLASS_NAMES)
        assert sorted({int(line.split()[1]) for line in lines}) == list(range(len(CLASS_NAMES)))
    assert open(os.path.join(root, "classes.txt")).read().splitlines() == list(CLASS_NAMES)
    with av.open(os.path.join(root, "videos", "train_00000.mp4")) as container:
        stream = container.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
    assert len(frames) == 12 and frames[0].shape == (48, 64, 3)


def test_generation_is_byte_identical_for_a_seed_and_differs_across_seeds(tmp_path):
    a = ensure_synthetic_dataset(tiny_cfg(tmp_path / "a", seed=5))
    b = ensure_synthetic_dataset(tiny_cfg(tmp_path / "b", seed=5))
    c = ensure_synthetic_dataset(tiny_cfg(tmp_path / "c", seed=6))
    names = sorted(os.listdir(os.path.join(a, "videos")))
    match, mismatch, errors = filecmp.cmpfiles(
        os.path.join(a, "videos"), os.path.join(b, "videos"), names, shallow=False
    )
    assert match == names and not mismatch and not errors
    assert not filecmp.cmp(os.path.join(a, "videos", names[0]), os.path.join(c, "videos", names[0]), shallow=False)


def test_dataset_reads_a_frozen_config_without_changing_it(tmp_path):
    cfg = tiny_cfg(tmp_path / "ds")
    cfg.DATA.NUM_FRAMES, cfg.DATA.TRAIN_JITTER_SCALES, cfg.DATA.TRAIN_CROP_SIZE = 4, [48, 48], 32
    cfg.SLOWFAST.ALPHA = 4
    cfg.freeze()
    dataset = synthetic.Synthetic(cfg, "val")
    assert len(dataset) == len(CLASS_NAMES) and cfg.DATA.PATH_TO_DATA_DIR == ""
    inputs, label, _, _ = dataset[0]
    assert [tuple(x.shape) for x in inputs] == [(3, 1, 32, 32), (3, 4, 32, 32)] and 0 <= label < len(CLASS_NAMES)


def test_existing_dataset_is_reused(tmp_path, monkeypatch):
    cfg = tiny_cfg(tmp_path / "ds")
    root = ensure_synthetic_dataset(cfg)
    monkeypatch.setattr(synthetic, "_generate_into", lambda *a: pytest.fail("regenerated"))
    assert ensure_synthetic_dataset(cfg) == root


def test_interrupted_generation_leaves_nothing_behind(tmp_path, monkeypatch):
    cfg = tiny_cfg(tmp_path / "ds")

    def fail_midway(cfg_, root):
        os.makedirs(os.path.join(root, "videos"))
        raise KeyboardInterrupt

    monkeypatch.setattr(synthetic, "_generate_into", fail_midway)
    with pytest.raises(KeyboardInterrupt):
        ensure_synthetic_dataset(cfg)
    assert os.listdir(tmp_path) == []
    monkeypatch.undo()
    assert os.path.isfile(os.path.join(ensure_synthetic_dataset(cfg), "train.csv"))


def test_jester_frame_folder_copy(tmp_path):
    root = ensure_synthetic_dataset(tiny_cfg(tmp_path / "ds", frame_folders=True))
    labels = open(os.path.join(root, "jester-v1-labels.csv")).read().splitlines()
    assert labels == list(CLASS_NAMES)
    first = open(os.path.join(root, "jester-v1-train.csv")).read().splitlines()[0]
    clip_id, name = first.split(";")
    assert name in CLASS_NAMES
    assert sorted(os.listdir(os.path.join(root, "frames", clip_id)))[:2] == ["00001.jpg", "00002.jpg"]
    assert len(os.listdir(os.path.join(root, "frames", clip_id))) == 12


def test_default_cache_dir_depends_on_settings(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    cfg = get_cfg()
    other = get_cfg()
    other.SYNTHETIC.SEED = 99
    assert synthetic.dataset_dir(cfg) != synthetic.dataset_dir(other)
    assert synthetic.dataset_dir(cfg).startswith(str(tmp_path))


def test_odd_frame_size_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="even frame size.*SYNTHETIC.FRAME_SIZE"):
        synthetic.write_mp4(str(tmp_path / "odd.mp4"), np.zeros((2, 47, 64, 3), np.uint8), 30)
