"""json_stats lines in SlowFast's format, log files on the main process only."""
import json
import logging

from slowfast.utils.logging import _HANDLER_TAG, format_json_stats, get_logger, log_json_stats, setup_logging


def test_format_is_sorted_prefixed_json():
    line = format_json_stats({"loss": 1.234567891, "_type": "train_iter_", "epoch": "3/196", "iter": "20/940", "lr": 1e-05})
    assert line == ('json_stats: {"_type": "train_iter_", "epoch": "3/196", "iter": "20/940", '
                    '"loss": 1.23457, "lr": 0.00001}')
    assert json.loads(line[len("json_stats: "):])["lr"] == 1e-05


def test_master_writes_json_stats_and_stdout_log(tmp_path, capsys):
    setup_logging(str(tmp_path), is_master=True)
    get_logger("slowfast.test").info("hello")
    log_json_stats({"_type": "val_epoch", "top1_err": 12.5}, str(tmp_path))
    assert (tmp_path / "json_stats.log").read_text() == 'json_stats: {"_type": "val_epoch", "top1_err": 12.5}\n'
    stdout_log = (tmp_path / "stdout.log").read_text()
    assert "hello" in stdout_log and 'json_stats: {"_type": "val_epoch"' in stdout_log
    assert "hello" in capsys.readouterr().out


def test_other_ranks_write_nothing_and_setup_does_not_duplicate(tmp_path, capsys):
    setup_logging(str(tmp_path / "rank1"), is_master=False)
    log_json_stats({"_type": "val_epoch"}, str(tmp_path / "rank1"), is_master=False)
    get_logger("slowfast.test").warning("careful")
    assert not (tmp_path / "rank1").exists()
    assert "careful" in capsys.readouterr().err
    setup_logging(str(tmp_path), is_master=True)
    setup_logging(str(tmp_path), is_master=True)
    get_logger("slowfast.test").info("once")
    assert capsys.readouterr().out.count("once") == 1
    # Only our handlers count: pytest 9.2 attaches its LogCaptureHandlers to the non-propagating
    # "slowfast" logger as well (with it, this logger held 4 handlers).
    ours = [h for h in logging.getLogger("slowfast").handlers if getattr(h, _HANDLER_TAG, False)]
    assert sorted(type(h).__name__ for h in ours) == ["FileHandler", "StreamHandler"]  # stdout + file
    assert [h.baseFilename for h in ours if isinstance(h, logging.FileHandler)] == [str(tmp_path / "stdout.log")]
