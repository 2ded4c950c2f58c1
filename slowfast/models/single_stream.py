"""Single-stream efficient 3D CNN baselines (Köpüklü et al. 2019, "Resource Efficient 3D CNNs").

``ShuffleNet3D``, ``ShuffleNetV23D``, ``MobileNetV23D``, ``MobileNet3D`` and ``GhostNet3D`` take
``[x]`` with ``x`` ``(N, 3, 16, 112, 112)`` and return logits ``(N, K)`` (``MODEL.ARCH
single_stream``). They reuse the stage tables of ``efficient_slowfast.py`` with one pathway and no
fusions; unlike the two-pathway variants, every strided layer also strides time (stride
``(2, 2, 2)``; the stem keeps ``(1, 2, 2)``), ShuffleNetV2 keeps the paper's 232/488 widths and the
ShuffleNet (V1) strided unit concatenates an average pool of its input (models.md §4).
``GhostNet3D`` follows the release's single-stream GhostNet: spatial strides only.
Width by ``SLOWFAST.WIDTH_MULTI``, ShuffleNet groups by ``SLOWFAST.GROUPS``, dropout by
``MODEL.DROPOUT_RATE`` (0.2 in the baselines' configs).
"""
import torch.nn as nn

from slowfast.models.blocks.mobilenet import depthwise_separable_stage
from slowfast.models.build import MODEL_REGISTRY
from slowfast.models.efficient_slowfast import (
    EfficientVideoNet,
    Table,
    ghostnet_table,
    mobilenetv2_table,
    shufflenet_table,
    shufflenetv2_table,
    stem_spec,
    width_entry,
)
from slowfast.models.norm import NormLayer
from slowfast.models.two_pathway import StageSpec

# Strided layers of the single-stream baselines halve time too.
STRIDE_3D = (2, 2, 2)

# ShuffleNetV2 [stem, s2, s3, s4, last conv] by width, as published (232/488).
SHUFFLENETV2_3D_WIDTHS = {
    0.25: (24, 32, 64, 128, 1024),
    0.5: (24, 48, 96, 192, 1024),
    1.0: (24, 116, 232, 464, 1024),
    1.5: (24, 176, 352, 704, 1024),
    2.0: (24, 224, 488, 976, 2048),
}
# MobileNet (V1) depthwise-separable rows (c, n, strided), one stage each (s2..s6), after a
# 3x3x3 stem of 32 W channels.
MOBILENET_ROWS = ((64, 1, True), (128, 2, True), (256, 2, True), (512, 6, True), (1024, 2, False))


def mobilenet_table(width_multi: float, norm_layer: NormLayer) -> Table:
    """Stem ``int(32 W)`` (ReLU), depthwise-separable stages s2..s6 of width ``int(c W)``."""
    stages = [stem_spec("s1", (int(32 * width_multi),), nn.ReLU, None, norm_layer, fuse=False)]
    for i, (width, num_blocks, strided) in enumerate(MOBILENET_ROWS):
        dim_out = int(width * width_multi)

        def build(p: int, dim_in: int, dim_out=dim_out, num_blocks=num_blocks, strided=strided):
            rows = [(dim_out, num_blocks, STRIDE_3D if strided else 1)]
            return depthwise_separable_stage(dim_in, rows, norm_layer), dim_out

        stages.append(StageSpec(f"s{i + 2}", build, block_prefix="block", spatial_stride=STRIDE_3D[1] if strided else 1))
    return stages, None, None


class SingleStreamNet(EfficientVideoNet):
    """A one-pathway efficient 3D CNN: ``[x (N, C, T, H, W)] -> logits (N, K)``."""

    arch = "single_stream"


@MODEL_REGISTRY.register()
class ShuffleNet3D(SingleStreamNet):
    """3D-ShuffleNet (V1): stem ``int(24 W)`` + max pool (stride 2), [4, 8, 4] units, pooled head."""

    @staticmethod
    def stage_table(cfg, norm_layer):
        groups = cfg.SLOWFAST.GROUPS
        return shufflenet_table(
            cfg.SLOWFAST.WIDTH_MULTI, groups, 1, 1, stride=STRIDE_3D, pool_stride=STRIDE_3D, fuse=False,
            shortcut="pool", first_groups=lambda dim_in: 1 if dim_in == 24 else groups,
            norm_layer=norm_layer,
        )


@MODEL_REGISTRY.register()
class ShuffleNetV23D(SingleStreamNet):
    """3D-ShuffleNetV2 (W 0.25/0.5/1.0/1.5/2.0): stem + max pool, [4, 8, 4] units, 1x1x1 head conv."""

    @staticmethod
    def stage_table(cfg, norm_layer):
        widths = width_entry(SHUFFLENETV2_3D_WIDTHS, cfg.SLOWFAST.WIDTH_MULTI)
        return shufflenetv2_table(
            widths, 1, 1, stride=STRIDE_3D, pool_stride=STRIDE_3D, fuse=False, norm_layer=norm_layer
        )


@MODEL_REGISTRY.register()
class MobileNetV23D(SingleStreamNet):
    """3D-MobileNetV2: inverted residuals with (2, 2, 2) strides, 1x1x1 head conv to 1280 (ReLU6)."""

    head_activation = nn.ReLU6

    @staticmethod
    def stage_table(cfg, norm_layer):
        return mobilenetv2_table(cfg.SLOWFAST.WIDTH_MULTI, 1, 1, stride=STRIDE_3D, fuse=False, norm_layer=norm_layer)


@MODEL_REGISTRY.register()
class MobileNet3D(SingleStreamNet):
    """3D-MobileNet (V1): depthwise-separable blocks, pooled head on ``int(1024 W)`` channels."""

    @staticmethod
    def stage_table(cfg, norm_layer):
        return mobilenet_table(cfg.SLOWFAST.WIDTH_MULTI, norm_layer)


@MODEL_REGISTRY.register()
class GhostNet3D(SingleStreamNet):
    """GhostNet for video (the release's single-stream GhostNet, strides ``(1, s, s)``): stem, ghost
    stages s1..s5, head ConvBnAct to 960 W, pool, 1x1x1 conv with bias to 1280, ReLU."""

    @staticmethod
    def stage_table(cfg, norm_layer):
        return ghostnet_table(cfg.SLOWFAST.WIDTH_MULTI, 1, 1, fuse=False, norm_layer=norm_layer, conv_head_width=1280)
