"""Config loading: defaults, _BASE_ inheritance, both override forms, loud failures."""
import pytest

from slowfast.config.loader import ConfigError, load_config, parse_args


def write(path, text):
    path.write_text(text)
    return str(path)


@pytest.fixture
def child_yaml(tmp_path):
    write(tmp_path / "base.yaml", "TRAIN:\n  BATCH_SIZE: 32\n  EVAL_PERIOD: 3\nSOLVER:\n  BASE_LR: 0.4\n")
    return write(tmp_path / "child.yaml", "_BASE_: base.yaml\nTRAIN:\n  BATCH_SIZE: 16\n")


def test_base_inheritance_child_wins(child_yaml):
    cfg = load_config(parse_args(["--cfg", child_yaml]), child_yaml)
    assert cfg.TRAIN.BATCH_SIZE == 16  # child
    assert cfg.TRAIN.EVAL_PERIOD == 3  # base
    assert cfg.SOLVER.BASE_LR == 0.4  # base
    assert cfg.TEST.NUM_ENSEMBLE_VIEWS == 10  # default


@pytest.mark.parametrize(
    "argv_tail",
    [
        ["TRAIN.BATCH_SIZE", "8", "NUM_GPUS", "0"],  # bare pairs after --cfg
        ["--opts", "TRAIN.BATCH_SIZE", "8", "NUM_GPUS", "0"],  # upstream --opts form
        ["TRAIN.BATCH_SIZE", "8", "--opts", "NUM_GPUS", "0"],  # both at once
    ],
)
def test_both_override_forms(child_yaml, argv_tail):
    args = parse_args(["--cfg", child_yaml] + argv_tail)
    cfg = load_config(args, child_yaml)
    assert (cfg.TRAIN.BATCH_SIZE, cfg.NUM_GPUS) == (8, 0)


def test_shard_flags_and_several_cfgs(child_yaml, tmp_path):
    other = write(tmp_path / "other.yaml", "RNG_SEED: 7\n")
    args = parse_args(["--cfg", child_yaml, "--cfg", other, "--num_shards", "2", "--shard_id", "1",
                       "--init_method", "file:///tmp/x"])
    assert args.cfg_files == [child_yaml, other]
    cfg = load_config(args, other)
    assert (cfg.RNG_SEED, cfg.NUM_SHARDS, cfg.SHARD_ID) == (7, 2, 1)
    assert args.init_method == "file:///tmp/x"


def test_unknown_key_on_command_line_names_key():
    with pytest.raises(ConfigError, match=r"command-line overrides: .*TRAIN\.BATCH_SIZZ"):
        load_config(parse_args(["TRAIN.BATCH_SIZZ", "8"]))


def test_wrong_type_names_key_and_value():
    with pytest.raises(ConfigError, match=r"TRAIN\.BATCH_SIZE") as error:
        load_config(parse_args(["TRAIN.BATCH_SIZE", "eight"]))
    assert "eight" in str(error.value)


def test_unknown_key_in_file_names_file_and_key(tmp_path):
    path = write(tmp_path / "bad.yaml", "SOLVER:\n  BASE_LRR: 0.1\n")
    with pytest.raises(ConfigError) as error:
        load_config(None, path)
    assert "bad.yaml" in str(error.value) and "SOLVER.BASE_LRR" in str(error.value)


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    path = write(tmp_path / "broken.yaml", "TRAIN:\n  BATCH_SIZE: [1\n")
    with pytest.raises(ConfigError, match=r"broken\.yaml.*line 2"):
        load_config(None, path)


def test_missing_file_and_odd_overrides(tmp_path):
    with pytest.raises(ConfigError, match="config file not found: .*nope.yaml"):
        load_config(None, str(tmp_path / "nope.yaml"))
    with pytest.raises(SystemExit):
        parse_args(["TRAIN.BATCH_SIZE"])
    with pytest.raises(SystemExit):
        parse_args(["--not_a_flag", "1"])


def test_typos_get_the_nearest_names(tmp_path):
    with pytest.raises(ConfigError) as error:
        load_config(parse_args(["SOLVER.MAX_EPOCHS", "3"]))
    assert error.value.message == "command-line overrides: unknown config key SOLVER.MAX_EPOCHS"
    assert error.value.hint.startswith("did you mean SOLVER.MAX_EPOCH ")
    path = write(tmp_path / "typo.yaml", "SOLVER:\n  MAX_EPOCHS: 3\n")
    with pytest.raises(ConfigError, match=r"typo\.yaml.*unknown config key SOLVER\.MAX_EPOCHS; did you mean SOLVER\.MAX_EPOCH"):
        load_config(None, path)
    with pytest.raises(ConfigError) as error:  # a key of another section
        load_config(parse_args(["TRAIN.MAX_EPOCH", "3"]))
    assert error.value.hint.startswith("did you mean SOLVER.MAX_EPOCH ")
    missing = "configs/Kinetics/SLOWFAST_SHUFFLENETV2_8x8_R50_multigrid.yaml"
    with pytest.raises(ConfigError) as error:
        load_config(None, missing)
    assert error.value.hint == "did you mean configs/Kinetics/SLOWFAST_SHUFFLENETV2_8x8_R50_stepwise_multigrid.yaml?"


def test_integer_for_float_key_accepted_and_non_number_refused(tmp_path):
    cfg = load_config(parse_args(["SOLVER.BASE_LR", "1"]))
    assert cfg.SOLVER.BASE_LR == 1.0 and isinstance(cfg.SOLVER.BASE_LR, float)
    cfg = load_config(None, write(tmp_path / "lr.yaml", "SOLVER:\n  BASE_LR: 2\n  WEIGHT_DECAY: 5e-5\n"))
    assert (cfg.SOLVER.BASE_LR, cfg.SOLVER.WEIGHT_DECAY) == (2.0, 5e-5) and isinstance(cfg.SOLVER.BASE_LR, float)
    with pytest.raises(ConfigError) as error:
        load_config(parse_args(["TRAIN.BATCH_SIZE", "two"]))
    assert str(error.value) == "command-line overrides: TRAIN.BATCH_SIZE='two' is not an integer; give an integer, like 64"
