"""Command-line parsing and config loading shared by every tool.

Overrides are accepted both as bare ``KEY VALUE`` pairs after ``--cfg X.yaml`` and after
``--opts`` (the upstream parser changed between the two forms and its docs disagree).
"""
import argparse
import os
from typing import List, Optional, Sequence

import yaml

from slowfast.config.defaults import get_cfg
from slowfast.utils.errors import ConfigError  # noqa: F401  (re-exported: tools import it from here)


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
    """
    cfg = get_cfg()
    if path_to_config:
        if not os.path.isfile(path_to_config):
            raise FileNotFoundError(f"config file not found: {path_to_config}")
        _merge_or_explain(cfg.merge_from_file, path_to_config, f"config file {path_to_config} (or a _BASE_ of it)")
    overrides = list(getattr(args, "opts", None) or []) + list(opts or [])
    if overrides:
        _merge_or_explain(cfg.merge_from_list, overrides, "command-line overrides")
    if args is not None:
        if getattr(args, "num_shards", None) is not None:
            cfg.NUM_SHARDS = args.num_shards
        if getattr(args, "shard_id", None) is not None:
            cfg.SHARD_ID = args.shard_id
    return cfg


def _merge_or_explain(merge, source, description: str) -> None:
    """Run ``merge(source)``; re-raise yacs/YAML failures (unknown key, type mismatch, syntax, which
    yacs reports as KeyError/ValueError/AssertionError) as one ConfigError naming the source."""
    try:
        merge(source)
    except (KeyError, ValueError, AssertionError, TypeError, yaml.YAMLError) as error:
        reason = error.args[0] if isinstance(error, KeyError) and error.args else str(error)
        raise ConfigError(f"{description}: {reason}") from error
