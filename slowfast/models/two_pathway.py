"""The one composition of every pathway network: stems -> [stage_k -> fuse_k]* -> head.

It knows nothing about ResNet, ShuffleNet or GhostNet. A backbone describes itself with a stage
table (a list of :class:`StageSpec`) whose entries carry a *block builder*; a fusion is any factory
``(dim_slow, dim_fast) -> module`` whose module maps ``[x_slow, x_fast] -> [x_slow', x_fast']`` and
reports ``out_dims = (dim_slow', dim_fast')`` (see ``fusion.py``; bind ``alpha``/``beta_inv`` with
``functools.partial`` or ``fusion.build_fusion(cfg, norm_layer)``). The same composition serves one
pathway (``dims_in=[3]``: C2D, I3D, Slow, single-stream nets) and two (``dims_in=[3, 3]``).

Module names come out as in public SlowFast, so its checkpoints load unchanged::

    s1.pathway0_stem.conv        s1_fuse.conv_f2s       s2.pathway1_res2.branch2.a_bn
    s2_fuse.bn                   s5.pathway0_res2       head.projection

Example (a toy two-pathway net; a real backbone's builder returns its own blocks)::

    import functools, torch.nn as nn
    from slowfast.models.fusion import CMDA
    from slowfast.models.heads import PooledHead
    from slowfast.models.two_pathway import StageSpec, TwoPathwayNet

    def stem(pathway, dim_in):                  # -> (blocks, dim_out)
        width = 16 if pathway == 0 else 2       # slow, fast (= slow // beta_inv)
        return [nn.Conv3d(dim_in, width, 3, padding=1)], width

    def stage(pathway, dim_in):                 # dim_in includes the fused channels
        width = 32 if pathway == 0 else 4
        return [nn.Conv3d(dim_in, width, 1), nn.Conv3d(width, width, 1)], width

    net = TwoPathwayNet(
        dims_in=[3, 3],
        stages=[
            StageSpec("s1", stem, block_prefix="stem", indexed=False, fuse_name="s1_fuse"),
            StageSpec("s2", stage, block_prefix="unit"),   # no fusion after s2
        ],
        fusion=functools.partial(CMDA, alpha=4, beta_inv=8),
        head=lambda dims: PooledHead(dims, num_classes=10, dropout_rate=0.5),
    )
    # modules: s1.pathway0_stem, s1_fuse, s2.pathway0_unit0, s2.pathway1_unit1, head.projection
    # s2 input widths: net.out_dims["s1_fuse"] == (16 + 2, 16 // 8 + 2) == (18, 4)
    logits = net([slow, fast])                  # (N, 10)

Explicit names are free-form: MobileNetV2's fusion after ``s2`` is ``StageSpec("s2", ...,
fuse_name="s3_fuse")``.
"""
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn

# (pathway index, input width) -> (blocks run in order, output width of the last block).
BlockBuilder = Callable[[int, int], Tuple[List[nn.Module], int]]
# (dim_slow, dim_fast) -> fusion module with ``out_dims``.
FusionFactory = Callable[[int, int], nn.Module]
# per-pathway widths entering the head -> head module mapping the list of tensors (and, for an RoI
# head, the boxes) to logits.
HeadBuilder = Callable[[List[int]], nn.Module]


@dataclass(frozen=True)
class StageSpec:
    """One row of a backbone's stage table.

    Attributes:
        name: module name of the stage ("s1", "s2", ...).
        build: block builder ``(pathway, dim_in) -> (blocks, dim_out)``, called once per pathway.
        block_prefix: blocks are named ``pathway{p}_{block_prefix}{i}`` ("res" -> ``pathway0_res0``).
        indexed: False names a single-block stage ``pathway{p}_{block_prefix}`` (``pathway0_stem``).
        fuse_name: module name of the fusion after this stage; None = no fusion.
        pool_after: per-pathway MaxPool3d kernel (= stride) applied after the stage and its fusion,
            e.g. ``[(2, 1, 1)]`` for the temporal pooling of C2D/I3D after res2. None = no pooling.
        spatial_stride: how much the stage shrinks H and W (product of its spatial strides), one
            int for every pathway or one per pathway; :func:`feature_strides` multiplies them to
            map input pixels onto the last feature map (the RoI head's spatial scale).
    """

    name: str
    build: BlockBuilder
    block_prefix: str = "res"
    indexed: bool = True
    fuse_name: Optional[str] = None
    pool_after: Optional[Sequence[Tuple[int, int, int]]] = None
    spatial_stride: Union[int, Sequence[int]] = 1


def feature_strides(stages: Sequence[StageSpec], num_pathways: int) -> List[int]:
    """Per pathway, input pixels per cell of the final feature map: the product of the stages'
    ``spatial_stride`` (e.g. 4 * 1 * 2 * 2 * 1 = 16 for SlowFast with AVA's unstrided res5)."""
    strides = [1] * num_pathways
    for spec in stages:
        per = spec.spatial_stride
        per = [per] * num_pathways if isinstance(per, int) else list(per)
        if len(per) != num_pathways:
            raise ValueError(f"stage '{spec.name}' spatial_stride {spec.spatial_stride} needs one entry per pathway")
        strides = [s * t for s, t in zip(strides, per)]
    return strides


class PathwayStage(nn.Module):
    """Runs each pathway's own blocks: ``[x_p (N, C_p, T_p, H, W)] -> [y_p (N, C'_p, T_p, H', W')]``.

    Pathways do not interact inside a stage (that is the fusions' job).
    """

    def __init__(self, blocks_per_pathway: Sequence[Sequence[nn.Module]], block_prefix: str, indexed: bool = True):
        super().__init__()
        self.block_names: List[List[str]] = []
        for p, blocks in enumerate(blocks_per_pathway):
            if not indexed and len(blocks) != 1:
                raise ValueError(f"an unindexed stage '{block_prefix}' must have one block per pathway, got {len(blocks)}")
            names = [f"pathway{p}_{block_prefix}{i if indexed else ''}" for i in range(len(blocks))]
            for name, block in zip(names, blocks):
                self.add_module(name, block)
            self.block_names.append(names)

    def forward(self, x: List[torch.Tensor]) -> List[torch.Tensor]:
        if len(x) != len(self.block_names):
            raise ValueError(f"stage expects {len(self.block_names)} pathway tensors, got {len(x)}")
        outputs = []
        for x_p, names in zip(x, self.block_names):
            for name in names:
                x_p = getattr(self, name)(x_p)
            outputs.append(x_p)
        return outputs


class PathwayPool(nn.Module):
    """Per-pathway max pooling with kernel = stride (``pathway{p}_pool``); identity where kernel is 1."""

    def __init__(self, kernels: Sequence[Tuple[int, int, int]]):
        super().__init__()
        for p, kernel in enumerate(kernels):
            pool = nn.Identity() if tuple(kernel) == (1, 1, 1) else nn.MaxPool3d(kernel, stride=kernel)
            self.add_module(f"pathway{p}_pool", pool)
        self.num_pathways = len(kernels)

    def forward(self, x: List[torch.Tensor]) -> List[torch.Tensor]:
        return [getattr(self, f"pathway{p}_pool")(x_p) for p, x_p in enumerate(x)]


class TwoPathwayNet(nn.Module):
    """``[x_0, ..., x_{P-1}]`` (each ``(N, C, T_p, H, W)``) -> stages with fusions -> head -> ``(N, K)``.

    Args:
        dims_in: input channels per pathway (``DATA.INPUT_CHANNEL_NUM``); its length is P.
        stages: the backbone's stage table, stem first.
        fusion: factory for the fusions named by ``StageSpec.fuse_name`` (needs P == 2).
        head: builder of the head from the final per-pathway widths.

    Attributes:
        feature_names: module names run before the head, in order (stages, fusions, pools).
        out_dims: per module name, the per-pathway widths it outputs (channel bookkeeping).
    """

    def __init__(
        self,
        dims_in: Sequence[int],
        stages: Sequence[StageSpec],
        fusion: Optional[FusionFactory],
        head: HeadBuilder,
    ):
        super().__init__()
        self.num_pathways = len(dims_in)
        self.feature_names: List[str] = []
        self.out_dims: Dict[str, Tuple[int, ...]] = {}
        dims = list(dims_in)
        for spec in stages:
            blocks_per_pathway = []
            for p in range(self.num_pathways):
                blocks, dims[p] = spec.build(p, dims[p])
                blocks_per_pathway.append(blocks)
            self._add_feature(spec.name, PathwayStage(blocks_per_pathway, spec.block_prefix, spec.indexed), dims)
            if spec.fuse_name is not None:
                if fusion is None or self.num_pathways != 2:
                    raise ValueError(f"stage '{spec.name}' asks for fusion '{spec.fuse_name}' but the net has "
                                     f"{self.num_pathways} pathway(s) and fusion={fusion}")
                fuse = fusion(dims[0], dims[1])
                dims = list(fuse.out_dims)
                self._add_feature(spec.fuse_name, fuse, dims)
            if spec.pool_after is not None:
                if len(spec.pool_after) != self.num_pathways:
                    raise ValueError(f"stage '{spec.name}' pool_after needs one kernel per pathway")
                self._add_feature(f"{spec.name}_pool", PathwayPool(spec.pool_after), dims)
        self.head = head(list(dims))

    def _add_feature(self, name: str, module: nn.Module, dims: Sequence[int]) -> None:
        if name in self._modules:
            raise ValueError(f"duplicate module name '{name}' in the stage table")
        self.add_module(name, module)
        self.feature_names.append(name)
        self.out_dims[name] = tuple(dims)

    def forward_features(self, x: List[torch.Tensor]) -> List[torch.Tensor]:
        """Per-pathway features entering the head."""
        if len(x) != self.num_pathways:
            raise ValueError(f"model expects a list of {self.num_pathways} pathway tensors, got {len(x)}")
        for name in self.feature_names:
            x = getattr(self, name)(x)
        return x

    def forward(self, x: List[torch.Tensor], bboxes: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Logits ``(N, K)``; with an RoI head (detection), ``bboxes`` ``(B, 5)`` rows of (batch
        index, x1, y1, x2, y2) in input pixels give logits ``(B, K)``, one row per box."""
        features = self.forward_features(x)
        if bboxes is None:
            return self.head(features)
        return self.head(features, bboxes)


@torch.no_grad()
def init_weights(model: nn.Module, fc_init_std: float = 0.01, zero_init_final_bn: bool = False) -> None:
    """Public-SlowFast initialisation: MSRA (He normal, fan-out) for convs with zero bias; norm
    gamma 1 / beta 0, or gamma 0 for block-final norms (``transform_final_bn``) when
    ``zero_init_final_bn`` (the block starts as the identity); Linear ``N(0, fc_init_std)``, bias 0.
    Parameters of other kinds (e.g. CMDA's gate, initialised to 0) are left alone.
    """
    for module in model.modules():
        if isinstance(module, nn.Conv3d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            if module.bias is not None:
                module.bias.zero_()
        elif isinstance(module, nn.modules.batchnorm._NormBase):
            if module.weight is not None:
                final = getattr(module, "transform_final_bn", False) and zero_init_final_bn
                module.weight.fill_(0.0 if final else 1.0)
                module.bias.zero_()
        elif isinstance(module, nn.Linear):
            module.weight.normal_(mean=0.0, std=fc_init_std)
            if module.bias is not None:
                module.bias.zero_()
