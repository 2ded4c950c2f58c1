"""Grad-CAM: exact maps on a hand-made layer, shapes and errors on a toy SlowFast, and a briefly
trained toy that looks at the moving object rather than the static background."""
import numpy as np
import pytest
import torch

from slowfast.datasets.synthetic import CLASS_NAMES, render_clip
from slowfast.visualization.gradcam import GradCAM, class_activation_map, match_pathway, overlay_clip

from .conftest import ToySlowFast


def _inputs(batch=2, frames=8, alpha=4, size=32, seed=0):
    generator = torch.Generator().manual_seed(seed)
    fast = torch.randn(batch, 3, frames, size, size, generator=generator)
    return [fast[:, :, ::alpha].contiguous(), fast]


def test_class_activation_map_exact_values():
    # Two channels, one frame, 2x2 map; gradients average to +1 (channel 0) and -0.5 (channel 1).
    activation = torch.tensor([[[[[1.0, 2.0], [3.0, 4.0]]], [[[2.0, 2.0], [0.0, 8.0]]]]])
    gradient = torch.tensor([[[[[1.0, 1.0], [1.0, 1.0]]], [[[-1.0, 0.0], [0.0, -1.0]]]]])
    cam = class_activation_map(activation, gradient, size=(1, 2, 2))
    # weighted sum: [[1-1, 2-1], [3-0, 4-4]] = [[0, 1], [3, 0]] -> ReLU -> / max
    assert torch.equal(cam, torch.tensor([[[[0.0, 1 / 3], [1.0, 0.0]]]]))


def test_two_pathway_layer_gives_one_normalised_map_per_pathway(toy_model):
    inputs = _inputs()
    result = GradCAM(toy_model, ["s1_fuse", "s2"])(inputs)
    for layer in ("s1_fuse", "s2"):
        assert result.pathways[layer] == [0, 1]
        slow_map, fast_map = result.maps[layer]
        assert slow_map.shape == (2, 2, 32, 32) and fast_map.shape == (2, 8, 32, 32)
        for cam in (slow_map, fast_map):
            assert cam.min() >= 0.0 and cam.max() <= 1.0
            peaks = cam.flatten(1).max(dim=1).values
            assert torch.all((peaks == 1.0) | (peaks == 0.0))  # per-clip min-max normalisation
    assert torch.equal(result.targets, result.logits.argmax(dim=1))


def test_given_targets_state_and_gradients_are_left_alone(toy_model):
    toy_model.train()
    result = GradCAM(toy_model, "s2")(_inputs(), targets=torch.tensor([2, 0]))
    assert result.targets.tolist() == [2, 0]
    assert toy_model.training  # restored
    assert all(p.grad is None for p in toy_model.parameters())


def test_single_tensor_layer_maps_to_the_pathway_with_its_frame_count(toy_model):
    result = GradCAM(toy_model, ["s1.pathway1", "s1.pathway0"])(_inputs())
    assert result.pathways == {"s1.pathway1": [1], "s1.pathway0": [0]}
    assert result.maps["s1.pathway1"][0].shape == (2, 8, 32, 32)
    assert match_pathway(4, [2, 8]) == 1 and match_pathway(16, [2, 8]) == 0


def test_unknown_or_unsuitable_layer_errors(toy_model):
    with pytest.raises(KeyError, match=r"'s6_fuse'.*valid module names.*s1_fuse.*s2") as error:
        GradCAM(toy_model, ["s6_fuse"])
    assert "head" in str(error.value)
    with pytest.raises(ValueError, match="'head' outputs shape \\(2, 3\\)"):
        GradCAM(toy_model, ["head"])(_inputs())


def test_overlay_blends_colour_map_over_the_input(toy_cfg):
    clip = torch.zeros(3, 2, 4, 4)  # normalised zeros = the mean grey
    cam = torch.zeros(2, 4, 4)
    cam[:, 0, 0] = 1.0
    frames = overlay_clip(clip, cam, toy_cfg, alpha=0.5)
    assert frames.shape == (2, 4, 4, 3) and frames.dtype == np.uint8
    grey = round(0.45 * 255)
    # JET: 0 -> dark blue (0, 0, 128), 1 -> dark red (128, 0, 0) in RGB.
    assert np.abs(frames[0, 1, 1].astype(int) - [grey // 2, grey // 2, (grey + 128) // 2]).max() <= 2
    assert np.abs(frames[0, 0, 0].astype(int) - [(grey + 128) // 2, grey // 2, grey // 2]).max() <= 2


MOVING, STILL = CLASS_NAMES.index("moving left"), CLASS_NAMES.index("no motion")


def _synthetic_batch(count, first_seed, frames=8, size=32):
    """Half moving-left, half no-motion clips; normalised inputs, labels 0/1, moving-pixel masks."""
    clips, labels, masks = [], [], []
    for i in range(count):
        label = i % 2
        clip = render_clip((MOVING, STILL)[label], seed=first_seed + i, num_frames=frames, height=size, width=size)
        background = np.median(clip, axis=0)  # the object never stays long on one pixel
        masks.append(np.abs(clip.astype(np.float32) - background).max(axis=-1) > 40)
        clips.append((torch.from_numpy(clip).permute(3, 0, 1, 2).float() / 255 - 0.45) / 0.225)
        labels.append(label)
    return torch.stack(clips), torch.tensor(labels), np.stack(masks)


def test_trained_toy_looks_at_the_moving_object():  # one torch thread (conftest): deterministic
    torch.manual_seed(0)
    model = ToySlowFast(num_classes=2, width=8, alpha=4, pool="max")
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    for step in range(50):  # ~3 s: "is something moving?" is learnt from 800 fresh clips
        clips, labels, _ = _synthetic_batch(16, first_seed=step * 16)
        loss = torch.nn.functional.cross_entropy(model([clips[:, :, ::4], clips]), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    clips, labels, masks = _synthetic_batch(32, first_seed=10**6)
    model.eval()
    with torch.no_grad():
        accuracy = (model([clips[:, :, ::4], clips]).argmax(dim=1) == labels).float().mean()
    assert accuracy >= 0.9

    moving = labels == 0
    result = GradCAM(model, ["s2"])([clips[moving][:, :, ::4], clips[moving]], targets=labels[moving])
    slow_map = result.maps["s2"][0].numpy()  # the slow pathway carries the fused motion evidence
    object_mask = masks[moving.numpy()][:, ::4]
    on_object = slow_map[object_mask].mean()
    on_background = slow_map[~object_mask].mean()
    assert on_object > 2.5 * on_background
