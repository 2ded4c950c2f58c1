"""Spatial transforms, normalisation and pathway packing on synthetic tensors (exact values)."""
import pytest
import torch
import torchvision.transforms.v2.functional as F

from slowfast.config.defaults import get_cfg
from slowfast.datasets import transforms as T


def coordinate_clip(num_frames=2, height=6, width=10):
    """uint8 ``(T, H, W, 3)``: channel 0 = column, channel 1 = row, channel 2 = frame index."""
    clip = torch.zeros((num_frames, height, width, 3), dtype=torch.uint8)
    clip[..., 0] = torch.arange(width).view(1, 1, width)
    clip[..., 1] = torch.arange(height).view(1, height, 1)
    clip[..., 2] = torch.arange(num_frames).view(num_frames, 1, 1)
    return clip


def top_left(frames_tchw):
    """(row, column) of the top-left pixel of a crop of a ``coordinate_clip``."""
    return int(frames_tchw[0, 1, 0, 0]), int(frames_tchw[0, 0, 0, 0])


def test_frames_to_tchw_layout_and_bad_shape():
    clip = coordinate_clip()
    tchw = T.frames_to_tchw(clip)
    assert tchw.shape == (2, 3, 6, 10)
    assert torch.equal(tchw[:, 0], clip[..., 0])
    with pytest.raises(ValueError, match=r"\(T, H, W, C\)"):
        T.frames_to_tchw(torch.zeros(2, 3, 6, 10))


@pytest.mark.parametrize("height, width, size, expected", [
    (240, 320, 128, (128, 170)),  # landscape: long side floor(320 * 128 / 240) = 170
    (320, 240, 128, (170, 128)),  # portrait
    (256, 340, 256, (256, 340)),  # already at size: untouched
])
def test_short_side_scale_sizes(height, width, size, expected):
    frames = torch.zeros((1, 3, height, width), dtype=torch.uint8)
    assert tuple(T.short_side_scale(frames, size).shape[-2:]) == expected


def test_random_short_side_scale_stays_in_range_and_follows_the_generator():
    frames = torch.zeros((1, 3, 60, 80), dtype=torch.uint8)
    sizes = {T.random_short_side_scale(frames, 30, 33, torch.Generator().manual_seed(s)).shape[-2] for s in range(40)}
    assert sizes == {30, 31, 32, 33}
    a = T.random_short_side_scale(frames, 20, 50, torch.Generator().manual_seed(3)).shape
    b = T.random_short_side_scale(frames, 20, 50, torch.Generator().manual_seed(3)).shape
    assert a == b
    with pytest.raises(ValueError, match="TRAIN_JITTER_SCALES"):
        T.random_short_side_scale(frames, 50, 40)


def test_random_crop_is_a_window_of_the_input_shared_by_all_frames():
    frames = T.frames_to_tchw(coordinate_clip(num_frames=3))
    corners = set()
    for seed in range(200):
        crop = T.random_crop(frames, 4, torch.Generator().manual_seed(seed))
        assert crop.shape == (3, 3, 4, 4)
        row, col = top_left(crop)
        corners.add((row, col))
        # every frame cropped at the same place, and the window is contiguous
        assert torch.equal(crop[:, 0, 0], torch.arange(col, col + 4).expand(3, 4).to(torch.uint8))
        assert torch.equal(crop[:, 1, :, 0], torch.arange(row, row + 4).expand(3, 4).to(torch.uint8))
    assert corners == {(r, c) for r in range(3) for c in range(7)}  # all (6-4+1) x (10-4+1) offsets
    with pytest.raises(ValueError, match="does not fit"):
        T.random_crop(frames, 7)


@pytest.mark.parametrize("position, expected", [(0, (1, 0)), (1, (1, 3)), (2, (1, 6))])
def test_uniform_crop_landscape_left_centre_right(position, expected):
    frames = T.frames_to_tchw(coordinate_clip(height=6, width=10))
    # offsets: rows ceil((6-4)/2) = 1; columns 0 / ceil((10-4)/2) = 3 / 10-4 = 6
    assert top_left(T.uniform_crop(frames, 4, position)) == expected


@pytest.mark.parametrize("position, expected", [(0, (0, 1)), (1, (3, 1)), (2, (5, 1))])
def test_uniform_crop_portrait_top_centre_bottom(position, expected):
    frames = T.frames_to_tchw(coordinate_clip(height=9, width=5))
    assert top_left(T.uniform_crop(frames, 4, position)) == expected


def test_uniform_crop_rejects_unknown_position():
    with pytest.raises(ValueError, match="position"):
        T.uniform_crop(T.frames_to_tchw(coordinate_clip()), 4, 3)


def test_spatial_crop_position():
    assert T.spatial_crop_position(0, 1) == 1  # a single crop is the centre
    assert [T.spatial_crop_position(i, 3) for i in range(3)] == [0, 1, 2]
    with pytest.raises(ValueError, match="NUM_SPATIAL_CROPS"):
        T.spatial_crop_position(0, 2)


def test_random_horizontal_flip_mirrors_columns_or_not():
    frames = T.frames_to_tchw(coordinate_clip())
    outcomes = set()
    for seed in range(20):
        out = T.random_horizontal_flip(frames, 0.5, torch.Generator().manual_seed(seed))
        outcomes.add(int(out[0, 0, 0, 0]))
        assert torch.equal(out, frames) or torch.equal(out, frames.flip(-1))
    assert outcomes == {0, 9}
    assert torch.equal(T.random_horizontal_flip(frames, 0.0), frames)
    assert torch.equal(T.random_horizontal_flip(frames, 1.0), frames.flip(-1))


def test_color_jitter_zero_is_identity_and_brightness_matches_torchvision():
    frames = T.frames_to_tchw(coordinate_clip(width=20) * 10)
    assert torch.equal(T.color_jitter(frames, [0, 0, 0], torch.Generator().manual_seed(0)), frames)
    # brightness only: the factor drawn from the same generator state, then torchvision's op
    generator = torch.Generator().manual_seed(5)
    out = T.color_jitter(frames, [0.4, 0, 0], generator)
    replay = torch.Generator().manual_seed(5)
    torch.randperm(3, generator=replay)
    factor = float(1 - 0.4 + torch.rand((1,), generator=replay) * 0.8)
    assert 0.6 <= factor <= 1.4
    assert torch.equal(out, F.adjust_brightness(frames, factor))
    # every frame of a clip gets the same factor
    two = T.color_jitter(torch.cat([frames, frames]), [0.4, 0.4, 0.4], torch.Generator().manual_seed(1))
    assert torch.equal(two[:2], two[2:])
    with pytest.raises(ValueError, match="COLOR_JITTER"):
        T.color_jitter(frames, [0.1, 0.1])


def test_normalize_values_and_layout():
    frames = torch.full((2, 3, 4, 5), 255, dtype=torch.uint8)
    frames[:, 1] = 0
    out = T.normalize(frames, [0.5, 0.5, 0.25], [0.5, 0.25, 0.25])
    assert out.shape == (3, 2, 4, 5) and out.dtype == torch.float32
    assert torch.equal(out[0], torch.full((2, 4, 5), 1.0))   # (1 - 0.5) / 0.5
    assert torch.equal(out[1], torch.full((2, 4, 5), -2.0))  # (0 - 0.5) / 0.25
    assert torch.equal(out[2], torch.full((2, 4, 5), 3.0))   # (1 - 0.25) / 0.25


def tiny_cfg():
    cfg = get_cfg()
    cfg.DATA.TRAIN_JITTER_SCALES = [8, 10]
    cfg.DATA.TRAIN_CROP_SIZE = 6
    cfg.DATA.TEST_CROP_SIZE = 8
    cfg.DATA.MEAN, cfg.DATA.STD = [0.0] * 3, [1.0] * 3
    return cfg


def test_train_transform_shape_determinism_and_flip_switch():
    cfg = tiny_cfg()
    clip = coordinate_clip(num_frames=4, height=12, width=16)
    a = T.train_transform(clip, cfg, torch.Generator().manual_seed(0))
    b = T.train_transform(clip, cfg, torch.Generator().manual_seed(0))
    assert a.shape == (3, 4, 6, 6) and torch.equal(a, b)
    assert T.train_transform(clip, cfg, crop_size=4, jitter_scales=(4, 5)).shape == (3, 4, 4, 4)
    # without flips, columns always increase left to right
    for seed in range(10):
        out = T.train_transform(clip, cfg, torch.Generator().manual_seed(seed), random_flip=False)
        assert (out[0, 0, 0, 1:] >= out[0, 0, 0, :-1]).all()


def test_test_transform_scales_short_side_then_crops_along_long_side():
    cfg = tiny_cfg()
    clip = coordinate_clip(num_frames=2, height=4, width=8)  # -> 8 x 16, crops of 8
    crops = [T.test_transform(clip, cfg, position) for position in (0, 1, 2)]
    assert all(c.shape == (3, 2, 8, 8) for c in crops)
    # normalize scales by 1/255 (x * (1/255) - 0 with MEAN 0, STD 1): the same arithmetic, bit for bit
    reference = T.short_side_scale(T.frames_to_tchw(clip), 8).float() * (1.0 / 255)
    for crop, left in zip(crops, (0, 4, 8)):
        assert torch.equal(crop.permute(1, 0, 2, 3), reference[..., left:left + 8])


def test_pack_pathway_output_slow_frames():
    cfg = get_cfg()
    cfg.MODEL.ARCH, cfg.SLOWFAST.ALPHA = "slowfast", 4
    clip = torch.arange(32, dtype=torch.float32).view(1, 32, 1, 1).expand(3, 32, 2, 2)
    slow, fast = T.pack_pathway_output(cfg, clip)
    assert slow[0, :, 0, 0].tolist() == [0, 4, 8, 13, 17, 22, 26, 31]
    assert fast is clip
    batched = T.pack_pathway_output(cfg, clip.unsqueeze(0))  # (N, C, T, H, W) works too
    assert batched[0].shape == (1, 3, 8, 2, 2)
    cfg.MODEL.ARCH = "slow"
    assert T.pack_pathway_output(cfg, clip) == [clip]
    cfg.MODEL.ARCH = "x3d"
    with pytest.raises(ValueError, match="MODEL.ARCH 'x3d'"):
        T.pack_pathway_output(cfg, clip)
    cfg.MODEL.ARCH, cfg.SLOWFAST.ALPHA = "slowfast", 64
    with pytest.raises(ValueError, match="SLOWFAST.ALPHA"):
        T.pack_pathway_output(cfg, clip)
