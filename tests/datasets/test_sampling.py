"""Temporal sampling math: exact indices for training, testing, fps resampling and multigrid."""
import random

import numpy as np
import pytest

from slowfast.datasets.sampling import clip_indices, clip_length, clip_start, random_sampling_rate


def test_clip_length_in_source_frames():
    assert clip_length(num_frames=32, sampling_rate=2, target_fps=30, fps=30) == 64
    assert clip_length(num_frames=8, sampling_rate=8, target_fps=30, fps=15) == 32
    assert clip_length(num_frames=16, sampling_rate=2, target_fps=30, fps=25) == pytest.approx(80 / 3)
    assert clip_length(num_frames=8, sampling_rate=8, target_fps=30, fps=30000 / 1001) == pytest.approx(63.936, abs=1e-3)


@pytest.mark.parametrize("bad", [dict(num_frames=0), dict(sampling_rate=-1), dict(target_fps=0),
                                 dict(fps=float("nan")), dict(fps=float("inf"))])
def test_clip_length_rejects_non_positive_values(bad):
    args = {**dict(num_frames=8, sampling_rate=2, target_fps=30, fps=30), **bad}
    name = next(iter(bad))
    with pytest.raises(ValueError, match=f"^{name} must be a positive number"):
        clip_length(**args)


def test_test_views_are_centred_in_equal_slices():
    # 300 frames, clip of 64: possible starts [0, 236], 10 views at the centres of 10 slices.
    starts = [clip_start(300, 64, i, 10) for i in range(10)]
    assert starts == pytest.approx([236 * (i + 0.5) / 10 for i in range(10)])
    assert clip_start(300, 64, 0, 1) == 118.0  # a single view is the centred clip
    np.testing.assert_array_equal(
        clip_indices(300, fps=30, num_frames=32, sampling_rate=2, target_fps=30, clip_idx=0, num_clips=1),
        np.arange(118, 182, 2))


def test_test_view_indices_exact():
    # 100 frames at 30 fps, 8x4 clip (length 32): starts 68 * (i + 0.5) / 3 = 11.33, 34, 56.67.
    views = [clip_indices(100, 30, 8, 4, 30, clip_idx=i, num_clips=3).tolist() for i in range(3)]
    assert views == [[11, 15, 19, 23, 27, 31, 35, 39],
                     [34, 38, 42, 46, 50, 54, 58, 62],
                     [56, 60, 64, 68, 72, 76, 80, 84]]


def test_resampling_to_target_fps():
    # A 60 fps video sampled at 30 fps target: twice the source stride.
    # (length 16 source frames, centred start (1000 - 16) / 2 = 492)
    np.testing.assert_array_equal(clip_indices(1000, 60, 4, 2, 30, clip_idx=0, num_clips=1),
                                  [492, 496, 500, 504])
    # A 12 fps video (Jester conversions), 8 frames at rate 2 of 30 fps: stride 0.8 source
    # frames, length 6.4, centred start (20 - 6.4) / 2 = 6.8; 6.8 + 4 * 0.8 = 10.0 exactly.
    assert clip_indices(20, 12, 8, 2, 30, clip_idx=0, num_clips=1).tolist() == [6, 7, 8, 9, 10, 10, 11, 12]
    # 25 fps source, 16x2 clip: stride 2 * 25 / 30 = 5/3 frames, length 80/3, centred start
    # (200 - 80/3) / 2 = 86 2/3; positions 86.67, 88.33, 90.0, 91.67, ...
    assert clip_indices(200, 25, 16, 2, 30, clip_idx=0, num_clips=1).tolist() == [
        86, 88, 90, 91, 93, 95, 96, 98, 100, 101, 103, 105, 106, 108, 110, 111]


def test_float_error_does_not_lose_a_frame():
    # 29.97 fps target and source: the stride is exactly 1 and must not floor 2.9999999 to 2.
    fps = 30000 / 1001
    indices = clip_indices(30, fps, 30, 1, fps, clip_idx=0, num_clips=1)
    np.testing.assert_array_equal(indices, np.arange(30))


def test_clip_longer_than_video_starts_at_zero_and_repeats_the_last_frame():
    for clip_idx in (-1, 0, 4):
        indices = clip_indices(10, 30, 8, 2, 30, clip_idx=clip_idx, num_clips=5, rng=np.random.default_rng(0))
        assert indices.tolist() == [0, 2, 4, 6, 8, 9, 9, 9]
    assert clip_indices(1, 30, 4, 8, 30, clip_idx=0, num_clips=1).tolist() == [0, 0, 0, 0]


def test_training_start_is_random_from_the_given_generator_only():
    def draw(rng):
        return [clip_indices(300, 30, 8, 8, 30, clip_idx=-1, rng=rng).tolist() for _ in range(20)]

    assert draw(np.random.default_rng(7)) == draw(np.random.default_rng(7))
    assert draw(random.Random(7)) == draw(random.Random(7))
    np.random.seed(0)
    random.seed(0)
    first = draw(np.random.default_rng(3))
    np.random.seed(1)
    random.seed(1)
    assert draw(np.random.default_rng(3)) == first  # the global RNGs play no part
    starts = [clip[0] for clip in draw(np.random.default_rng(0)) + draw(np.random.default_rng(1))]
    assert len(set(starts)) > 20 and min(starts) >= 0 and max(starts) <= 300 - 64


def test_training_starts_cover_every_possible_start():
    rng = np.random.default_rng(0)
    starts = {clip_indices(20, 30, 4, 4, 30, clip_idx=-1, rng=rng)[0] for _ in range(500)}
    assert starts == set(range(0, 5))  # 20 frames, clip of 16: starts 0..4, the last one too
    counts = np.bincount([clip_indices(20, 30, 4, 4, 30, rng=rng)[0] for _ in range(5000)])
    assert counts.min() > 900 and counts.max() < 1100  # equally likely
    assert all(clip_indices(20, 30, 4, 4, 30, rng=rng)[-1] <= 19 for _ in range(100))


def test_indices_are_integers_within_the_video():
    rng = random.Random(0)
    for _ in range(200):
        num_video_frames = rng.randint(1, 400)
        fps = rng.choice([12, 24, 25, 30000 / 1001, 30, 60])
        num_frames = rng.choice([1, 4, 8, 16, 32])
        num_clips = rng.randint(1, 10)
        clip_idx = rng.randint(-1, num_clips - 1)
        indices = clip_indices(num_video_frames, fps, num_frames, rng.choice([1, 2, 4, 8]), 30,
                               clip_idx=clip_idx, num_clips=num_clips, rng=rng)
        assert indices.dtype == np.int64 and indices.shape == (num_frames,)
        assert indices.min() >= 0 and indices.max() < num_video_frames
        assert np.all(np.diff(indices) >= 0)


def test_invalid_view_and_missing_rng():
    with pytest.raises(ValueError, match="clip_idx must be -1 or in \\[0, 3\\), got 3"):
        clip_start(100, 10, 3, 3)
    with pytest.raises(ValueError, match="needs an rng"):
        clip_start(100, 10, -1, 1)
    with pytest.raises(ValueError, match="num_video_frames must be a positive number"):
        clip_indices(0, 30, 8, 8, 30, clip_idx=0)


def test_multigrid_sampling_rate():
    assert random_sampling_rate(0, 2) == 2  # long cycle off
    rng = np.random.default_rng(0)
    rates = {random_sampling_rate(8, 2, rng) for _ in range(300)}
    assert rates == {2, 3, 4, 5, 6, 7, 8}
    py_rng = random.Random(0)
    assert {random_sampling_rate(4, 2, py_rng) for _ in range(100)} == {2, 3, 4}
    assert random_sampling_rate(2, 2, rng) == 2
    with pytest.raises(ValueError, match="below DATA.SAMPLING_RATE"):
        random_sampling_rate(1, 2, rng)
    with pytest.raises(ValueError, match="needs an rng"):
        random_sampling_rate(8, 2)


def test_multigrid_rate_keeps_the_clip_span():
    # Long cycle T = T0 / 4 at rate 4x: 8 frames at rate 8 span what 32 frames at rate 2 do.
    full = clip_indices(300, 30, 32, 2, 30, clip_idx=0, num_clips=1)
    short = clip_indices(300, 30, 8, 8, 30, clip_idx=0, num_clips=1)
    assert (full[0], full[-1] + 2) == (short[0], short[-1] + 8)
    np.testing.assert_array_equal(short, full[::4])
