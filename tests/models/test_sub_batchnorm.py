"""SubBatchNorm3d: per-split statistics in training, plain BatchNorm3d state and eval behaviour."""
import pytest
import torch
import torch.nn as nn

from slowfast.models.sub_batchnorm import SubBatchNorm3d, convert_batchnorm


def _clip_batch(n=8, c=4, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, c, 2, 3, 3, generator=gen) * 3 + 1


def _randomise_affine(bn):
    with torch.no_grad():
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-1, 1)
    return bn


class TinyNet(nn.Module):
    """conv -> BN -> ReLU -> conv -> BN -> pooled logits, over (N, 3, T, H, W)."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv3d(3, 6, 3, padding=1), nn.BatchNorm3d(6), nn.ReLU(),
            nn.Conv3d(6, 6, 1), nn.BatchNorm3d(6), nn.ReLU(),
        )
        self.fc = nn.Linear(6, 5)

    def forward(self, x):
        return self.fc(self.features(x).mean(dim=(2, 3, 4)))


def test_each_split_is_normalised_with_its_own_statistics():
    x = _clip_batch()
    sub = _randomise_affine(SubBatchNorm3d(4, num_splits=4))
    out = sub(x)
    for split in range(4):
        ref = nn.BatchNorm3d(4)
        ref.load_state_dict({"weight": sub.weight, "bias": sub.bias}, strict=False)
        torch.testing.assert_close(out[split::4], ref(x[split::4]))


def test_running_stats_are_the_whole_batch_statistics():
    x = _clip_batch()
    sub, ref = SubBatchNorm3d(4, num_splits=2), nn.BatchNorm3d(4)
    for _ in range(3):
        sub(x), ref(x)
    torch.testing.assert_close(sub.running_mean, ref.running_mean)
    torch.testing.assert_close(sub.running_var, ref.running_var)
    assert int(sub.num_batches_tracked) == 3


def test_cumulative_momentum_matches_batchnorm():
    sub, ref = SubBatchNorm3d(4, num_splits=2, momentum=None), nn.BatchNorm3d(4, momentum=None)
    for seed in range(3):
        x = _clip_batch(seed=seed)
        sub(x), ref(x)
    torch.testing.assert_close(sub.running_var, ref.running_var)


def test_one_split_and_eval_mode_equal_batchnorm_exactly():
    x = _clip_batch()
    sub, ref = _randomise_affine(SubBatchNorm3d(4, num_splits=1)), nn.BatchNorm3d(4)
    ref.load_state_dict(sub.state_dict())
    assert torch.equal(sub(x), ref(x))
    sub.num_splits = 4
    sub.eval(), ref.eval()
    assert torch.equal(sub(x), ref(x))


def test_uneven_batch_uses_largest_dividing_split_count():
    x = _clip_batch(n=6)
    sub = SubBatchNorm3d(4, num_splits=4)  # 6 samples: 3 splits of 2
    out = sub(x)
    torch.testing.assert_close(out[0::3], nn.BatchNorm3d(4)(x[0::3]))


def test_state_dict_is_identical_to_batchnorm3d():
    sub_state, ref_state = SubBatchNorm3d(4, num_splits=4).state_dict(), nn.BatchNorm3d(4).state_dict()
    assert list(sub_state) == list(ref_state)
    assert all(sub_state[k].shape == ref_state[k].shape for k in ref_state)


def test_invalid_num_splits_is_rejected():
    with pytest.raises(ValueError, match="num_splits"):
        SubBatchNorm3d(4, num_splits=0)


def test_sub_batchnorm_checkpoint_loads_into_plain_model_with_same_eval_outputs(tmp_path):
    torch.manual_seed(0)
    trained = convert_batchnorm(TinyNet(), num_splits=4)
    assert sum(isinstance(m, SubBatchNorm3d) for m in trained.modules()) == 2
    optimizer = torch.optim.SGD(trained.parameters(), lr=0.1)
    x, labels = torch.randn(8, 3, 2, 4, 4), torch.arange(8) % 5
    for _ in range(3):
        optimizer.zero_grad()
        nn.functional.cross_entropy(trained(x), labels).backward()
        optimizer.step()
    path = tmp_path / "checkpoint.pyth"
    torch.save({"model_state": trained.state_dict()}, path)

    plain = TinyNet()
    plain.load_state_dict(torch.load(path)["model_state"])  # strict: same keys and shapes
    assert not any(isinstance(m, SubBatchNorm3d) for m in plain.modules())
    trained.eval(), plain.eval()
    probe = torch.randn(3, 3, 2, 4, 4)
    assert torch.equal(trained(probe), plain(probe))


def test_convert_keeps_tensors_and_optimizer_state():
    model = TinyNet()
    bn = model.features[1]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    nn.functional.cross_entropy(model(torch.randn(4, 3, 2, 4, 4)), torch.arange(4)).backward()
    optimizer.step()
    weight, running_mean = bn.weight, bn.running_mean

    convert_batchnorm(model, num_splits=2)
    sub = model.features[1]
    assert isinstance(sub, SubBatchNorm3d) and sub.num_splits == 2
    assert sub.weight is weight and sub.running_mean is running_mean
    assert "momentum_buffer" in optimizer.state[sub.weight]

    convert_batchnorm(model, num_splits=3)
    assert model.features[1] is sub and sub.num_splits == 3

    convert_batchnorm(model, num_splits=1)
    back = model.features[1]
    assert type(back) is nn.BatchNorm3d and back.weight is weight and back.running_mean is running_mean


def test_get_norm_builds_sub_batchnorm_and_refuses_sync_bn_on_cpu():
    from slowfast.config.defaults import get_cfg
    from slowfast.models.norm import get_norm

    cfg = get_cfg()
    cfg.BN.NORM_TYPE, cfg.BN.NUM_SPLITS = "sub_batchnorm", 3
    layer = get_norm(cfg)(16)
    assert isinstance(layer, SubBatchNorm3d) and layer.num_splits == 3 and layer.num_features == 16
    cfg.BN.NORM_TYPE, cfg.NUM_GPUS = "sync_batchnorm", 0
    with pytest.raises(ValueError, match="sync_batchnorm' needs CUDA"):
        get_norm(cfg)
