"""tools/plot_log.py: json_stats parsing (epoch-valued x, resumed runs, errors) and PNG curves."""
import json
import os

import pytest
from PIL import Image
from tests.tools.tool_loader import load_tool



def _tool():
    return load_tool("plot_log")


def _line(record, prefix="[11/24 02:00:00][INFO] slowfast.utils.logging:  120: "):
    return prefix + "json_stats: " + json.dumps(record, sort_keys=True) + "\n"


@pytest.fixture
def log_file(tmp_path):
    lines = [
        "[11/24 02:00:00][INFO] slowfast.engine.trainer: 80: start training\n",
        _line({"_type": "train_iter_", "epoch": "1/2", "iter": "10/20", "loss": 2.0, "lr": 0.1,
               "top1_err": 80.0, "top5_err": 40.0}),
        _line({"_type": "train_iter_", "epoch": "1/2", "iter": "20/20", "loss": 1.5, "lr": 0.1,
               "top1_err": 70.0, "top5_err": 30.0}),
        _line({"_type": "train_epoch", "epoch": "1/2", "loss": 1.75, "lr": 0.1, "top1_err": 75.0, "top5_err": 35.0}),
        _line({"_type": "val_epoch", "epoch": "1/2", "top1_err": 60.0, "top5_err": 20.0, "min_top1_err": 60.0}),
        # resumed after a crash: epoch 2 logged twice, the later record wins
        _line({"_type": "train_epoch", "epoch": "2/2", "loss": 9.9, "lr": 0.01, "top1_err": 99.0, "top5_err": 99.0}),
        _line({"_type": "train_epoch", "epoch": "2/2", "loss": 1.0, "lr": 0.01, "top1_err": 50.0, "top5_err": 25.0},
              prefix=""),
        _line({"_type": "val_epoch", "epoch": "2/2", "top1_err": 55.0, "top5_err": 15.0, "min_top1_err": 55.0}),
        _line({"split": "test_final", "top1_err": 50.0}),  # no _type: ignored
    ]
    path = tmp_path / "run" / "json_stats.log"
    path.parent.mkdir()
    path.write_text("".join(lines))
    return path


def test_parse_log_places_records_on_an_epoch_axis(log_file):
    series = _tool().parse_log(str(log_file))
    assert series[("train_iter_", "loss")] == {0.5: 2.0, 1.0: 1.5}
    assert series[("train_epoch", "loss")] == {1.0: 1.75, 2.0: 1.0}
    assert series[("val_epoch", "top1_err")] == {1.0: 60.0, 2.0: 55.0}
    assert series[("train_epoch", "lr")] == {1.0: 0.1, 2.0: 0.01}


def test_writes_one_png_per_metric(log_file, tmp_path):
    written = _tool().main([str(log_file.parent), "--output_dir", str(tmp_path / "plots"),
                            "--metrics", "loss", "lr", "top1_err", "dt"])
    assert [os.path.basename(p) for p in written] == ["loss.png", "lr.png", "top1_err.png"]  # no "dt" records
    image = Image.open(written[0])
    assert image.format == "PNG" and image.size == (840, 540)


def test_two_logs_share_one_figure(log_file, tmp_path):
    written = _tool().plot_logs([str(log_file), str(log_file)], str(tmp_path), ["top1_err"])
    assert written == [str(tmp_path / "top1_err.png")]


@pytest.mark.parametrize(
    "line, message",
    [
        ("json_stats: {not json}\n", r"json_stats.log:1: malformed json_stats record"),
        (_line({"_type": "train_epoch", "epoch": "three", "loss": 1.0}),
         r"json_stats.log:1: 'epoch' should look like '3/196'"),
        ("nothing here\n", "no json_stats records"),
    ],
)
def test_bad_logs_are_named(tmp_path, line, message):
    path = tmp_path / "json_stats.log"
    path.write_text(line)
    with pytest.raises(ValueError, match=message):
        _tool().parse_log(str(path))


def test_missing_log_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="json_stats.log"):
        _tool().main([str(tmp_path)])


def test_a_single_point_is_drawn_as_a_marker(tmp_path):
    """A one-iteration log: the iteration series has one point, which a plain line would not show."""
    path = tmp_path / "json_stats.log"
    path.write_text(_line({"_type": "train_iter_", "epoch": "1/1", "iter": "1/1", "loss": 2.0}))
    tool = _tool()
    figure = tool.plot_metric("loss", [("run", tool.parse_log(str(path)))])
    (line,) = figure.axes[0].get_lines()
    assert list(line.get_xdata()) == [1.0] and line.get_marker() == "o" and line.get_markersize() == 6
