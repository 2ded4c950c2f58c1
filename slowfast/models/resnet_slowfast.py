"""ResNet video models: SlowFast, SlowFastDualAttention (CMDA fusions) and single-pathway ResNet
(C2D, I3D, Slow), all composed by :class:`~slowfast.models.two_pathway.TwoPathwayNet`.

This file holds only the stage tables (temporal kernels, depths, widths) and registration.
"""
from typing import List, Sequence, Tuple

import torch.nn as nn

from slowfast.models.blocks.resnet import ResNetStem, block_temporal_kernels, res_stage_blocks
from slowfast.models.build import MODEL_REGISTRY
from slowfast.models.fusion import build_fusion
from slowfast.models.heads import build_head
from slowfast.models.norm import NormLayer, get_norm
from slowfast.models.two_pathway import StageSpec, TwoPathwayNet, feature_strides, init_weights
from slowfast.utils.errors import ConfigError

# Blocks of res2..res5 per depth.
STAGE_DEPTHS = {18: (2, 2, 2, 2), 50: (3, 4, 6, 3), 101: (3, 4, 23, 3)}

# Temporal kernel basis of (stem, res2, res3, res4, res5), one list per pathway; a basis with two
# entries alternates over the blocks of the stage (I3D).
TEMPORAL_KERNEL_BASIS = {
    "c2d": [[[1]], [[1]], [[1]], [[1]], [[1]]],
    "i3d": [[[5]], [[3]], [[3, 1]], [[3, 1]], [[1, 3]]],
    "slow": [[[1]], [[1]], [[1]], [[3]], [[3]]],
    "slowfast": [[[1], [5]], [[1], [3]], [[1], [3]], [[3], [3]], [[3], [3]]],
}

# Temporal max-pooling after res2 (C2D and I3D halve T there, as in public SlowFast).
POOL_AFTER_RES2 = {"c2d": [(2, 1, 1)], "i3d": [(2, 1, 1)], "slow": None, "slowfast": None}

# Output width of a block per inner width: bottleneck 4x, basic 1x.
EXPANSION = {"bottleneck_transform": 4, "basic_transform": 1}


def _per_pathway(values: Sequence, num_pathways: int, key: str, stage: int) -> List:
    """Broadcast a one-entry per-stage list to every pathway; reject other length mismatches."""
    values = list(values)
    if len(values) == 1:
        return values * num_pathways
    if len(values) != num_pathways:
        if num_pathways == 1:
            raise ConfigError(f"{key}[{stage}] = {values} needs 1 entry (one pathway)",
                              f"a single-pathway model takes one value per stage: write [{values[0]}] for stage {stage}")
        raise ConfigError(f"{key}[{stage}] = {values} needs 1 or {num_pathways} entries (one per pathway)")
    return values


def resnet_stage_table(cfg, arch: str, pathway_divisors: Sequence[int], norm_layer: NormLayer,
                       fuse: bool) -> List[StageSpec]:
    """Stem + res2..res5 of a ResNet with one pathway per entry of ``pathway_divisors``.

    Pathway p has every width of the slow pathway divided by ``pathway_divisors[p]`` (1 for the
    slow pathway, ``SLOWFAST.BETA_INV`` for the fast one). All widths are also divided by
    ``RESNET.WIDTH_DIVISOR`` (tiny models for tests).
    """
    depth = cfg.RESNET.DEPTH
    if depth not in STAGE_DEPTHS:
        raise ValueError(f"RESNET.DEPTH {depth} unsupported; known: {sorted(STAGE_DEPTHS)}")
    trans_func = cfg.RESNET.TRANS_FUNC
    if trans_func not in EXPANSION:
        raise ValueError(f"RESNET.TRANS_FUNC '{trans_func}' unknown; known: {', '.join(EXPANSION)}")
    divisor = cfg.RESNET.WIDTH_DIVISOR
    base = cfg.RESNET.WIDTH_PER_GROUP
    smallest = base // divisor // max(pathway_divisors) if divisor > 0 else 0
    if divisor < 1 or base % divisor or smallest < 1:
        raise ValueError(
            f"RESNET.WIDTH_DIVISOR {divisor} must divide RESNET.WIDTH_PER_GROUP {base} and leave every "
            f"pathway (divisors {list(pathway_divisors)}) at least one channel"
        )
    base //= divisor
    groups = cfg.RESNET.NUM_GROUPS
    num_pathways = len(pathway_divisors)
    kernels = TEMPORAL_KERNEL_BASIS[arch]

    def stem(p: int, dim_in: int) -> Tuple[List[nn.Module], int]:
        width = base // pathway_divisors[p]
        return [ResNetStem(dim_in, width, kernels[0][p][0], norm_layer)], width

    def res_stage(i: int):
        strides = _per_pathway(cfg.RESNET.SPATIAL_STRIDES[i], num_pathways, "RESNET.SPATIAL_STRIDES", i)
        dilations = _per_pathway(cfg.RESNET.SPATIAL_DILATIONS[i], num_pathways, "RESNET.SPATIAL_DILATIONS", i)
        temporal = _per_pathway(cfg.RESNET.NUM_BLOCK_TEMP_KERNEL[i], num_pathways, "RESNET.NUM_BLOCK_TEMP_KERNEL", i)

        def build(p: int, dim_in: int) -> Tuple[List[nn.Module], int]:
            dim_inner = base * groups * 2 ** i // pathway_divisors[p]
            dim_out = base * EXPANSION[trans_func] * 2 ** i // pathway_divisors[p]
            blocks = res_stage_blocks(
                dim_in, dim_out, dim_inner,
                block_temporal_kernels(kernels[i + 1][p], STAGE_DEPTHS[depth][i], temporal[p]),
                stride=strides[p], trans_func=trans_func, num_groups=groups, dilation=dilations[p],
                stride_1x1=cfg.RESNET.STRIDE_1X1, norm_layer=norm_layer,
            )
            return blocks, dim_out

        return build

    # The stem's strided conv and max pool shrink H, W by 4.
    stages = [StageSpec("s1", stem, block_prefix="stem", indexed=False, fuse_name="s1_fuse" if fuse else None,
                        spatial_stride=4)]
    for i in range(4):
        name = f"s{i + 2}"
        stages.append(StageSpec(
            name, res_stage(i), block_prefix="res",
            fuse_name=f"{name}_fuse" if fuse and i < 3 else None,
            pool_after=POOL_AFTER_RES2[arch] if i == 0 else None,
            spatial_stride=_per_pathway(cfg.RESNET.SPATIAL_STRIDES[i], num_pathways, "RESNET.SPATIAL_STRIDES", i),
        ))
    return stages


def _check_arch(cfg, allowed: Sequence[str], model: str) -> str:
    arch = cfg.MODEL.ARCH
    if arch not in allowed:
        raise ValueError(f"MODEL.ARCH '{arch}' is not valid for {model}; expected one of {list(allowed)}")
    return arch


def _head_builder(cfg, stages: Sequence[StageSpec], num_pathways: int):
    """Pooled head, or the RoI head on the backbone's output stride with DETECTION.ENABLE."""
    strides = feature_strides(stages, num_pathways)
    return lambda dims: build_head(cfg, dims, strides)


class _ResNetSlowFastBase(TwoPathwayNet):
    """SlowFast with the fusion given by ``SLOWFAST.FUSION`` (default ``default_fusion``)."""

    default_fusion = "lateral"

    def __init__(self, cfg):
        _check_arch(cfg, ["slowfast"], type(self).__name__)
        if len(cfg.DATA.INPUT_CHANNEL_NUM) != 2:
            raise ValueError(f"DATA.INPUT_CHANNEL_NUM {cfg.DATA.INPUT_CHANNEL_NUM} needs two entries for {type(self).__name__}")
        norm_layer = get_norm(cfg)
        stages = resnet_stage_table(cfg, "slowfast", [1, cfg.SLOWFAST.BETA_INV], norm_layer, fuse=True)
        super().__init__(
            dims_in=cfg.DATA.INPUT_CHANNEL_NUM,
            stages=stages,
            fusion=build_fusion(cfg, norm_layer, default=self.default_fusion),
            head=_head_builder(cfg, stages, 2),
        )
        init_weights(self, cfg.MODEL.FC_INIT_STD, cfg.RESNET.ZERO_INIT_FINAL_BN)


@MODEL_REGISTRY.register()
class SlowFast(_ResNetSlowFastBase):
    """SlowFast (Feichtenhofer et al. 2019): ``[slow (N,3,T,H,W), fast (N,3,αT,H,W)] -> (N, K)``.

    Lateral FuseFastToSlow connections after s1..s4 (``SLOWFAST.FUSION`` may select "cmda").
    """

    default_fusion = "lateral"


@MODEL_REGISTRY.register()
class SlowFastDualAttention(_ResNetSlowFastBase):
    """ResNet SlowFast with a CMDA fusion (ECA fast->slow, position attention slow->fast) after s1..s4."""

    default_fusion = "cmda"


@MODEL_REGISTRY.register()
class ResNet(TwoPathwayNet):
    """Single-pathway video ResNet, ``MODEL.ARCH`` in c2d / i3d / slow: ``[x (N,3,T,H,W)] -> (N, K)``."""

    def __init__(self, cfg):
        arch = _check_arch(cfg, ["c2d", "i3d", "slow"], "ResNet")
        norm_layer = get_norm(cfg)
        stages = resnet_stage_table(cfg, arch, [1], norm_layer, fuse=False)
        super().__init__(
            dims_in=cfg.DATA.INPUT_CHANNEL_NUM[:1],
            stages=stages,
            fusion=None,
            head=_head_builder(cfg, stages, 1),
        )
        init_weights(self, cfg.MODEL.FC_INIT_STD, cfg.RESNET.ZERO_INIT_FINAL_BN)
