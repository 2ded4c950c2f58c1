"""slowfast.utils.cli: user errors as one line and exit 2, bugs keep their traceback; missing checkpoints listed."""
import pickle

import pytest

from slowfast.engine.checkpoint import read_checkpoint
from slowfast.utils import cli
from slowfast.utils.errors import CheckpointError, ConfigError, DataError


def run(main, capsys, monkeypatch, traceback_env=None):
    if traceback_env is None:
        monkeypatch.delenv(cli.TRACEBACK_ENV, raising=False)
    else:
        monkeypatch.setenv(cli.TRACEBACK_ENV, traceback_env)
    with pytest.raises(SystemExit) as exit_info:
        cli.run_tool(main)
    captured = capsys.readouterr()
    return exit_info.value.code, captured.err


def test_user_error_is_one_line_with_exit_2(capsys, monkeypatch):
    def main():
        raise ConfigError("SOLVER.BASE_LR=-1: must be positive", "set a positive learning rate", ["a", "b"])

    code, err = run(main, capsys, monkeypatch)
    assert code == 2
    assert err == "error: SOLVER.BASE_LR=-1: must be positive; set a positive learning rate\n  a\n  b\n"


def test_details_are_capped_at_ten_lines_and_multiline_messages_split(capsys, monkeypatch):
    def main():
        raise DataError("first line\nsecond line", None, [f"d{i}" for i in range(20)])

    code, err = run(main, capsys, monkeypatch)
    lines = err.splitlines()
    assert code == 2 and lines[0] == "error: first line" and lines[1] == "  second line"
    assert len(lines) == 11 and lines[-1] == "  ... and 12 more"


def test_os_file_not_found_names_the_file(capsys, monkeypatch):
    code, err = run(lambda: open("/nonexistent/x.txt"), capsys, monkeypatch)
    assert (code, err) == (2, "error: file not found: /nonexistent/x.txt; check the path\n")


def test_traceback_on_request_and_for_bugs(capsys, monkeypatch):
    def user_error():
        raise ConfigError("bad key")

    code, err = run(user_error, capsys, monkeypatch, traceback_env="1")
    assert code == 2 and "Traceback" in err and err.endswith("error: bad key\n")
    monkeypatch.delenv(cli.TRACEBACK_ENV, raising=False)
    with pytest.raises(ZeroDivisionError):  # not a user error: propagates (Python prints the traceback)
        cli.run_tool(lambda: 1 / 0)


def test_exit_code_of_main(monkeypatch):
    for result, code in ((None, 0), (1, 1), (["a.png"], 0)):
        with pytest.raises(SystemExit) as exit_info:
            cli.run_tool(lambda: result)
        assert exit_info.value.code == code


def test_errors_survive_pickling_with_hint_and_details():
    error = pickle.loads(pickle.dumps(CheckpointError("m", "h", ["d"])))
    assert (type(error), error.message, error.hint, error.details) == (CheckpointError, "m", "h", ["d"])


def test_missing_checkpoint_lists_the_folder(tmp_path):
    for epoch in (4, 8):
        (tmp_path / f"checkpoint_epoch_{epoch:05d}.pyth").write_bytes(b"")
    with pytest.raises(CheckpointError) as error:
        read_checkpoint(str(tmp_path / "checkpoint_epoch_00009.pyth"))
    assert isinstance(error.value, FileNotFoundError)  # callers that test for a missing file still work
    assert error.value.message == f"checkpoint not found: {tmp_path}/checkpoint_epoch_00009.pyth"
    assert error.value.hint == f"2 checkpoint(s) in {tmp_path}; did you mean {tmp_path}/checkpoint_epoch_00008.pyth?"
    assert error.value.details == [f"{tmp_path}/checkpoint_epoch_00008.pyth", f"{tmp_path}/checkpoint_epoch_00004.pyth"]
    with pytest.raises(CheckpointError, match="no checkpoints in .*empty; training writes them"):
        read_checkpoint(str(tmp_path / "empty" / "x.pyth"))


def test_progress_shows_count_total_and_eta_on_stderr(capsys):
    bar = cli.progress(["a.yaml", "b.yaml", "c.yaml"])
    for name in bar:
        bar.set_postfix_str(name)
        bar.write(f"== {name}")
    captured = capsys.readouterr()
    assert captured.out == "== a.yaml\n== b.yaml\n== c.yaml\n"
    final = captured.err.replace("\r", "\n").strip().splitlines()[-1]
    assert final.startswith("3/3 configs [") and "<00:00]" in final


def test_every_committed_tool_runs_through_run_tool():
    """One mechanism for every tool: a tool added later must use run_tool too (checked on the files
    git tracks, so a tool still being written is not judged)."""
    import glob
    import os
    import subprocess

    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    try:
        listed = subprocess.run(["git", "ls-files", "tools/*.py"], cwd=repo, capture_output=True, text=True,
                                check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):  # not a git checkout
        listed = [os.path.relpath(p, repo) for p in glob.glob(os.path.join(repo, "tools", "*.py"))]
    assert "tools/run_net.py" in listed
    missing = [path for path in listed if "run_tool(main)" not in open(os.path.join(repo, path)).read()]
    assert missing == []
