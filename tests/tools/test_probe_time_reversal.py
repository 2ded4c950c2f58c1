"""tools/probe_time_reversal.py on a tiny generated synthetic dataset: the table for every class,
the dataset's own reversal pairs, --pairs, and one-line errors."""
import os

import pytest

from slowfast.utils.errors import CheckpointError, ConfigError
from tests.tools.tool_loader import REPO, load_tool

TINY = [
    "SYNTHETIC.CLIPS_PER_CLASS", "[1, 1, 1]", "SYNTHETIC.NUM_FRAMES", "20", "SYNTHETIC.FRAME_SIZE", "[48, 64]",
    "DATA.NUM_FRAMES", "8", "DATA.TRAIN_JITTER_SCALES", "[32, 40]", "DATA.TRAIN_CROP_SIZE", "32",
    "DATA.TEST_CROP_SIZE", "32", "DATA_LOADER.NUM_WORKERS", "0", "TRAIN.BATCH_SIZE", "5",
]


def _run(tmp_path, *extra):
    config = os.path.join(REPO, "configs", "Synthetic", "SLOWFAST_R50_tiny.yaml")
    return load_tool("probe_time_reversal").main(
        ["--cfg", config, "SYNTHETIC.CACHE_DIR", str(tmp_path / "data"), "OUTPUT_DIR", str(tmp_path / "out"), *TINY, *extra])


def test_prints_and_writes_a_row_per_class(tmp_path, capsys):
    counts = _run(tmp_path, "--output", str(tmp_path / "probe.md"), "TEST.ALLOW_RANDOM_INIT", "True")
    assert [c.total for c in counts] == [1] * 9  # one validation clip per class
    out = capsys.readouterr().out
    assert "weights random (TEST.ALLOW_RANDOM_INIT); split val" in out
    table = (tmp_path / "probe.md").read_text().splitlines()
    assert table[0] == "| class | reversed class | views | forward | reversed | order-free |"
    assert table[2].startswith("| moving left | moving right | 1 |")
    assert table[10].startswith("| no motion | no motion | 1 |") and table[10].endswith("| - |")
    assert table[11].startswith("| **top-1 %** | | 9 |")
    assert "\n".join(table) in out


def test_pairs_override_the_dataset(tmp_path, capsys):
    _run(tmp_path, "--pairs", "6:7", "TEST.ALLOW_RANDOM_INIT", "True")
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| moving left")]
    assert rows == [rows[0]] and rows[0].startswith("| moving left | - | 1 |") and rows[0].endswith("| - | - |")


def test_bad_pairs_and_missing_weights_are_user_errors(tmp_path):
    with pytest.raises(ConfigError, match="class 9 is outside"):
        _run(tmp_path, "--pairs", "0:9", "TEST.ALLOW_RANDOM_INIT", "True")
    with pytest.raises(CheckpointError, match="no checkpoint for the time-reversal probe"):
        _run(tmp_path)


def test_a_dataset_without_declared_pairs_needs_them_named():
    from slowfast.config import get_cfg

    with pytest.raises(ConfigError, match="dataset 'object' declares no reversed classes; name them with --pairs"):
        load_tool("probe_time_reversal").reversal_partners(get_cfg(), object(), "")
