#!/usr/bin/env python3
"""Regenerate demo_frame.png and gradcam.png (about 1-2 minutes on 2 CPU cores).

    python docs/images/make_images.py

A toy SlowFast (``tests/visualization/conftest.py``) is trained for 300 steps on fresh clips of
the synthetic motion generator (left / right / up / down / no motion, 32x32, 8 frames), then
* demo_frame.png: two frames of the demo's output on a new 320x240 synthetic video made of
  8-frame segments of different motions (one prediction per segment);
* gradcam.png: a frame of the first segment ("moving right") and its fast-pathway Grad-CAM at
  layer ``s2`` blended over it.
"""
import os
import sys
import tempfile

import av
import numpy as np
import torch
from PIL import Image

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)

from slowfast.config.defaults import get_cfg  # noqa: E402
from slowfast.datasets.synthetic import CLASS_NAMES, render_clip, write_mp4  # noqa: E402
from slowfast.visualization.demo import run_demo  # noqa: E402
from slowfast.visualization.gradcam import GradCAM, resize_maps  # noqa: E402
from slowfast.visualization.overlay import blend_heatmap, draw_text_lines  # noqa: E402
from slowfast.inference.predictor import ClipPreprocessor, PytorchPredictor  # noqa: E402
from tests.visualization.conftest import ToySlowFast  # noqa: E402

NAMES = ["moving left", "moving right", "moving up", "moving down", "no motion"]
OUT_DIR = os.path.dirname(os.path.abspath(__file__))


def training_batch(count, first_seed, size=32):
    clips, labels = [], []
    for i in range(count):
        label = i % len(NAMES)
        clip = render_clip(CLASS_NAMES.index(NAMES[label]), seed=first_seed + i, num_frames=8, height=size, width=size)
        clips.append((torch.from_numpy(clip).permute(3, 0, 1, 2).float() / 255 - 0.45) / 0.225)
        labels.append(label)
    return torch.stack(clips), torch.tensor(labels)


def train_toy(steps=300):
    torch.manual_seed(0)
    model = ToySlowFast(num_classes=len(NAMES), width=16, alpha=4, pool="max")
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for step in range(steps):
        clips, labels = training_batch(20, step * 20)
        loss = torch.nn.functional.cross_entropy(model([clips[:, :, ::4], clips]), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


def toy_cfg(label_file):
    cfg = get_cfg()
    cfg.NUM_GPUS = 0
    cfg.MODEL.NUM_CLASSES = len(NAMES)
    cfg.SLOWFAST.ALPHA = 4
    cfg.DATA.NUM_FRAMES, cfg.DATA.SAMPLING_RATE, cfg.DATA.TARGET_FPS = 8, 1, 30
    cfg.DATA.TEST_CROP_SIZE = 32
    cfg.DEMO.LABEL_FILE_PATH, cfg.DEMO.TOPK = label_file, 3
    return cfg


def main():
    torch.set_num_threads(1)
    model = train_toy()
    work = tempfile.mkdtemp()
    label_file = os.path.join(work, "names.txt")
    with open(label_file, "w") as f:
        f.write("\n".join(NAMES) + "\n")
    cfg = toy_cfg(label_file)
    order = ["moving right", "moving down", "no motion", "moving left", "moving up", "moving right"]
    segments = [render_clip(CLASS_NAMES.index(c), seed=100 + i, num_frames=8, height=96, width=128)
                for i, c in enumerate(order)]
    frames = np.stack([np.array(Image.fromarray(f).resize((320, 240), Image.BILINEAR))
                       for f in np.concatenate(segments)])
    cfg.DEMO.INPUT_VIDEO = os.path.join(work, "synthetic.mp4")
    cfg.DEMO.OUTPUT_FILE = os.path.join(work, "labelled.mp4")
    write_mp4(cfg.DEMO.INPUT_VIDEO, frames, 30)
    run_demo(cfg, PytorchPredictor(cfg, model))
    with av.open(cfg.DEMO.OUTPUT_FILE) as container:
        labelled = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    Image.fromarray(np.concatenate([labelled[5], labelled[13]], axis=1)).save(os.path.join(OUT_DIR, "demo_frame.png"))

    window = list(frames[:8])
    result = GradCAM(model, ["s2"])(ClipPreprocessor(cfg)(window))
    predicted = int(result.targets[0])
    probability = torch.softmax(result.logits, dim=1)[0, predicted].item()
    fast_cam = resize_maps(result.maps["s2"][1][0], 240, 320).numpy()
    overlay = blend_heatmap(np.stack(window), fast_cam, 0.5)[4]
    overlay = draw_text_lines(overlay, ["s2 fast pathway", f"pred: {NAMES[predicted]} {probability:.2f}"])
    Image.fromarray(np.concatenate([window[4], overlay], axis=1)).save(os.path.join(OUT_DIR, "gradcam.png"))
    print(f"wrote demo_frame.png and gradcam.png to {OUT_DIR} (Grad-CAM of '{NAMES[predicted]}', p={probability:.2f})")


if __name__ == "__main__":
    main()
