"""Shared fixtures: a tiny two-pathway model with SlowFast-style module names, and its config."""
import os

import pytest
import torch
from torch import nn

from slowfast.config.defaults import get_cfg

DATA_DIR = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data")
DEMO_CLIP = os.path.join(DATA_DIR, "real_clips", "demo.mp4")  # 340x256, 28 fps, 280 frames


class PathwayConv(nn.Module):
    """One Conv3d + BN + ReLU per pathway; ``[slow, fast] -> [slow, fast]``."""

    def __init__(self, in_widths, out_widths, spatial_stride=1):
        super().__init__()
        self.pathway0, self.pathway1 = (
            nn.Sequential(
                nn.Conv3d(c_in, c_out, (3, 3, 3), (1, spatial_stride, spatial_stride), (1, 1, 1), bias=False),
                nn.BatchNorm3d(c_out),
                nn.ReLU(inplace=True),
            )
            for c_in, c_out in zip(in_widths, out_widths)
        )

    def forward(self, inputs):
        return [self.pathway0(inputs[0]), self.pathway1(inputs[1])]


class FuseFastToSlow(nn.Module):
    """Time-strided conv of the fast pathway concatenated to the slow one (the SlowFast lateral)."""

    def __init__(self, fast_width, alpha):
        super().__init__()
        self.conv = nn.Conv3d(fast_width, fast_width, (5, 1, 1), (alpha, 1, 1), (2, 0, 0))

    def forward(self, inputs):
        slow, fast = inputs
        return [torch.cat([slow, torch.relu(self.conv(fast))], dim=1), fast]


class ToySlowFast(nn.Module):
    """A two-pathway toy with modules ``s1``, ``s1_fuse``, ``s2`` and ``head``.

    ``pool``: "mean" (global average, as the real heads) or "max" over (H, W) then mean over T,
    which lets a briefly trained toy pick up a small moving object.
    """

    def __init__(self, num_classes=3, width=8, alpha=4, pool="mean"):
        super().__init__()
        self.pool = pool
        fast = width // 2
        self.s1 = PathwayConv([3, 3], [width, fast], spatial_stride=2)
        self.s1_fuse = FuseFastToSlow(fast, alpha)
        self.s2 = PathwayConv([width + fast, fast], [2 * width, fast])
        self.head = nn.Linear(2 * width + fast, num_classes)

    def forward(self, inputs):
        slow, fast = self.s2(self.s1_fuse(self.s1(inputs)))
        pooled = torch.cat([self._pool(slow), self._pool(fast)], dim=1)
        return self.head(pooled)

    def _pool(self, x):
        if self.pool == "max":
            return x.amax(dim=(3, 4)).mean(dim=2)
        return x.mean(dim=(2, 3, 4))


@pytest.fixture
def toy_cfg(tmp_path):
    """Config of ``ToySlowFast``: 8-frame fast pathway, alpha 4, 32-pixel short side; the window is
    16 frames at TARGET_FPS 28 (the frame rate of the demo clip)."""
    cfg = get_cfg()
    cfg.NUM_GPUS = 0
    cfg.OUTPUT_DIR = str(tmp_path)
    cfg.MODEL.NUM_CLASSES = 3
    cfg.MODEL.ARCH = "slowfast"
    cfg.SLOWFAST.ALPHA = 4
    cfg.DATA.NUM_FRAMES = 8
    cfg.DATA.SAMPLING_RATE = 2
    cfg.DATA.TARGET_FPS = 28
    cfg.DATA.TEST_CROP_SIZE = 32
    cfg.DEMO.ENABLE = True
    cfg.DEMO.TOPK = 2
    cfg.TRAIN.ENABLE = False
    cfg.TEST.ENABLE = False
    return cfg


@pytest.fixture
def toy_model():
    torch.manual_seed(0)
    return ToySlowFast(num_classes=3, width=8, alpha=4).eval()
