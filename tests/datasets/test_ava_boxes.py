"""Boxes stay on their pixels through every spatial transform (drawn on frames, transformed, checked)."""
import pytest
import torch

from slowfast.config.defaults import get_cfg
from slowfast.datasets import transforms

HEIGHT, WIDTH = 40, 60


def drawn(boxes, height=HEIGHT, width=WIDTH, frames=2):
    """uint8 ``(T, 3, H, W)`` frames, dark, with each integer box filled bright; and the boxes as floats."""
    clip = torch.full((frames, 3, height, width), 20, dtype=torch.uint8)
    for x1, y1, x2, y2 in boxes:
        clip[:, :, y1:y2, x1:x2] = 230
    return clip, torch.tensor(boxes, dtype=torch.float32)


def assert_on_pixels(image, box, margin=1.5):
    """Everything inside ``box`` (shrunk by ``margin``) is brighter than everything just outside it."""
    image = image.float()
    height, width = image.shape
    x1, y1, x2, y2 = box.tolist()
    inner = image[int(y1 + margin):int(y2 - margin + 0.999), int(x1 + margin):int(x2 - margin + 0.999)]
    assert inner.numel() > 0, box
    ring = torch.zeros_like(image, dtype=torch.bool)
    ring[max(0, int(y1 - margin - 2)):int(y2 + margin + 2), max(0, int(x1 - margin - 2)):int(x2 + margin + 2)] = True
    ring[max(0, int(y1 - margin)):int(y2 + margin + 0.999), max(0, int(x1 - margin)):int(x2 + margin + 0.999)] = False
    outside = image[ring]
    assert outside.numel() > 0, box
    assert inner.min() > outside.max(), (box, inner.min(), outside.max())


def test_short_side_scale_moves_boxes_by_the_resize_factors():
    clip, boxes = drawn([(10, 8, 30, 24)])
    scaled, moved = transforms.short_side_scale(clip, 20, boxes)
    assert scaled.shape[-2:] == (20, 30)
    assert moved.tolist() == [[5.0, 4.0, 15.0, 12.0]]
    assert_on_pixels(scaled[0, 0], moved[0], margin=1.0)
    assert torch.equal(transforms.short_side_scale(clip, 20), scaled)  # without boxes: frames alone


def test_crops_shift_and_clip_boxes_and_empty_the_ones_outside():
    clip, boxes = drawn([(4, 4, 20, 30), (44, 10, 58, 20)])
    cropped, moved = transforms.uniform_crop(clip, 30, 0, boxes)  # left crop: x in [0, 30), y in [5, 35)
    assert moved.tolist() == [[4.0, 0.0, 20.0, 25.0], [30.0, 5.0, 30.0, 15.0]]
    assert transforms.nonempty_boxes(moved).tolist() == [True, False]
    assert_on_pixels(cropped[0, 0], moved[0])
    for seed in range(5):
        generator = torch.Generator().manual_seed(seed)
        cropped, moved = transforms.random_crop(clip, 36, generator, boxes)
        for box, keep in zip(moved, transforms.nonempty_boxes(moved)):
            if keep and (box[2:] - box[:2]).min() > 4:
                assert_on_pixels(cropped[0, 0], box)


def test_flip_mirrors_boxes():
    clip, boxes = drawn([(4, 6, 20, 30)])
    flipped, moved = transforms.horizontal_flip(clip, boxes)
    assert moved.tolist() == [[40.0, 6.0, 56.0, 30.0]]
    assert_on_pixels(flipped[1, 2], moved[0])
    generator = torch.Generator().manual_seed(0)
    kept, same = transforms.random_horizontal_flip(clip, 0.0, generator, boxes)
    assert torch.equal(kept, clip) and torch.equal(same, boxes)


@pytest.mark.parametrize("seed", range(6))
def test_train_transform_keeps_every_box_on_its_pixels(seed):
    cfg = get_cfg()
    cfg.DATA.TRAIN_JITTER_SCALES, cfg.DATA.TRAIN_CROP_SIZE = [40, 56], 36
    cfg.DATA.MEAN, cfg.DATA.STD = [0.0] * 3, [1.0] * 3
    cfg.DATA.COLOR_JITTER = [0.3, 0.3, 0.3]
    clip, boxes = drawn([(6, 6, 22, 30), (34, 12, 54, 34)])
    frames = clip.permute(0, 2, 3, 1)  # the reader's (T, H, W, C)
    out, moved = transforms.train_transform(frames, cfg, torch.Generator().manual_seed(seed), boxes=boxes)
    assert out.shape == (3, 2, 36, 36)
    assert ((moved >= 0) & (moved <= 36)).all()
    for box, keep in zip(moved, transforms.nonempty_boxes(moved)):
        if keep and (box[2:] - box[:2]).min() > 4:
            assert_on_pixels(out[1, 0], box)
    # The random draws do not depend on whether boxes are carried.
    alone = transforms.train_transform(frames, cfg, torch.Generator().manual_seed(seed))
    assert torch.equal(alone, out)


@pytest.mark.parametrize("crop", [None, 30])
def test_eval_transform_with_and_without_a_crop(crop):
    cfg = get_cfg()
    cfg.DATA.MEAN, cfg.DATA.STD = [0.0] * 3, [1.0] * 3
    clip, boxes = drawn([(6, 6, 22, 30), (34, 12, 54, 34)])
    out, moved = transforms.eval_transform(clip.permute(0, 2, 3, 1), cfg, 30, crop, 1, boxes=boxes)
    assert out.shape[-2:] == ((30, 30) if crop else (30, 45))
    for box in moved:
        assert_on_pixels(out[0, 0], box, margin=1.0)
