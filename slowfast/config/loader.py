"""Command-line parsing and config loading shared by every tool.

Overrides are accepted both as bare ``KEY VALUE`` pairs after ``--cfg X.yaml`` and after
``--opts`` (the upstream parser changed between the two forms and its docs disagree).
"""
import argparse
import os
from typing import List, Optional, Sequence

import yaml

from fvcore.common.config import CfgNode

from slowfast.config.defaults import get_cfg
from slowfast.utils.errors import ConfigError  # noqa: F401  (re-exported: tools import it from here)
from slowfast.utils.suggest import did_you_mean, nearest, nearest_config_file


def build_arg_parser(description: str = "Train, test or demo a video model.") -> argparse.ArgumentParser:
    """The argument parser of ``tools/run_net.py``; other tools extend it."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--cfg",
        dest="cfg_files",
        action="append",
        default=[],
        help="YAML config file; repeat to run several configs one after another.",
    )
    parser.add_argument("--init_method", default="tcp://localhost:9999",
                        help="torch.distributed init method for multi-machine runs (tcp://host:port or file://path).")
    parser.add_argument("--num_shards", type=int, default=None, help="Number of machines (overrides NUM_SHARDS).")
    parser.add_argument("--shard_id", type=int, default=None, help="Index of this machine (overrides SHARD_ID).")
    parser.add_argument("--opts", nargs=argparse.REMAINDER, default=[],
                        help="KEY VALUE pairs overriding the config (may also be given without --opts).")
    return parser


def parse_args(argv: Optional[Sequence[str]] = None, parser: Optional[argparse.ArgumentParser] = None):
    """Parse ``argv``; bare ``KEY VALUE`` tokens that argparse does not know become overrides."""
    parser = parser or build_arg_parser()
    args, unknown = parser.parse_known_args(argv)
    stray_flags = [tok for tok in unknown if tok.startswith("--")]
    if stray_flags:
        parser.error(f"unrecognised arguments: {' '.join(stray_flags)}")
    args.opts = list(unknown) + list(args.opts or [])
    if len(args.opts) % 2:
        parser.error(f"config overrides must come in KEY VALUE pairs, got: {' '.join(args.opts)}")
    return args


def load_config(args=None, path_to_config: Optional[str] = None, opts: Optional[List[str]] = None):
    """Default config, then ``path_to_config`` (with ``_BASE_`` inheritance), then the overrides.

    Args:
        args: parsed arguments (``opts``, ``num_shards``, ``shard_id`` are applied when present).
        path_to_config: YAML file to merge.
        opts: extra ``[KEY, VALUE, ...]`` overrides applied last.
    Raises:
        ConfigError naming the file or key (with the nearest names for a typo) and the value.
    """
    cfg = get_cfg()
    if path_to_config:
        if not os.path.isfile(path_to_config):
            near = nearest_config_file(path_to_config)
            raise ConfigError(f"config file not found: {path_to_config}",
                              f"did you mean {near}?" if near else "see configs/ and demo/ for the shipped configs")
        description = f"config file {path_to_config} (or a _BASE_ of it)"
        loaded = _explained(lambda: cfg.load_yaml_with_base(path_to_config, allow_unsafe=False), description)
        _check_tree(loaded, cfg, description)
        _explained(lambda: cfg.merge_from_other_cfg(type(cfg)(loaded)), description)
    overrides = list(getattr(args, "opts", None) or []) + list(opts or [])
    if overrides:
        checked = []
        for key, value in zip(overrides[0::2], overrides[1::2]):
            checked += [key, _checked_value(cfg, key, value, "command-line overrides")]
        _explained(lambda: cfg.merge_from_list(checked), "command-line overrides")
    if args is not None:
        if getattr(args, "num_shards", None) is not None:
            cfg.NUM_SHARDS = args.num_shards
        if getattr(args, "shard_id", None) is not None:
            cfg.SHARD_ID = args.shard_id
    return cfg


def flat_keys(node, prefix: str = "") -> List[str]:
    """Every leaf key of a config tree as ``A.B.C``."""
    keys = []
    for name, value in node.items():
        key = prefix + name
        keys += flat_keys(value, key + ".") if isinstance(value, CfgNode) else [key]
    return keys


def _default_of(cfg, key: str, source: str):
    """The default value of ``key``; an unknown key is a ConfigError with the nearest known keys."""
    node = cfg
    parts = key.split(".")
    for depth, part in enumerate(parts):
        if not isinstance(node, CfgNode) or part not in node:
            if isinstance(node, CfgNode) and node.is_new_allowed():
                return _ANY
            known = flat_keys(cfg)
            # Also offer keys with the same last name in another section (TRAIN.MAX_EPOCH -> SOLVER.MAX_EPOCH).
            same_leaf = [k for k in known if k.rsplit(".", 1)[-1] == parts[-1]]
            hint = did_you_mean(key, same_leaf + nearest(key, known)) or "see slowfast/config/defaults.py for the keys"
            raise ConfigError(f"{source}: unknown config key {key}", hint)
        node = node[part]
    return node


_ANY = object()  # marks a key under a node that accepts new keys: any value goes


def _checked_value(cfg, key: str, value, source: str):
    """``value`` for ``key`` decoded like yacs does, with an integer accepted for a float key;
    a value of the wrong type is a ConfigError naming the key and the value."""
    default = _default_of(cfg, key, source)
    decoded = CfgNode._decode_cfg_value(value)
    if default is _ANY or default is None or decoded is None or isinstance(default, CfgNode):
        return value
    if type(default) is float and type(decoded) is int:
        return float(decoded)  # 1 for a float key means 1.0 (yacs refuses it)
    if type(decoded) is type(default) or (isinstance(default, (list, tuple)) and isinstance(decoded, (list, tuple))):
        return value
    expected = {bool: "True or False", int: "an integer", float: "a number", str: "a string",
                list: "a list like [1, 2]", tuple: "a list like [1, 2]"}.get(type(default), type(default).__name__)
    raise ConfigError(f"{source}: {key}={value!r} is not {expected}", f"give {expected}, like {default!r}")


def _check_tree(loaded, cfg, source: str, prefix: str = "") -> None:
    """Check the keys and value types of a loaded YAML tree in place (integers for float keys
    become floats), so yacs's merge cannot fail on them."""
    for name in list(loaded):
        key = prefix + name
        value = loaded[name]
        if isinstance(value, dict):
            default = _default_of(cfg, key, source)
            if isinstance(default, CfgNode):
                _check_tree(value, cfg, source, key + ".")
            continue
        loaded[name] = _checked_value(cfg, key, value, source)


def _explained(action, description: str):
    """Run ``action()``; re-raise yacs/YAML failures (type mismatches not caught above, syntax,
    which yacs reports as KeyError/ValueError/AssertionError) as one ConfigError naming the source."""
    try:
        return action()
    except ConfigError:
        raise
    except (KeyError, ValueError, AssertionError, TypeError, yaml.YAMLError) as error:
        reason = error.args[0] if isinstance(error, KeyError) and error.args else str(error)
        raise ConfigError(f"{description}: {' '.join(str(reason).split())}") from error
