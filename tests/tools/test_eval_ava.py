"""tools/eval_ava.py: official files in, per-class AP and the mAP line out."""
import pytest

from slowfast.datasets.annotations import AnnotationError
from tests.tools.tool_loader import load_tool

LABEL_MAP = """item {
  name: "stand"
  id: 1
}
item {
  name: "sit"
  id: 3
}
"""


def write_files(tmp_path):
    (tmp_path / "map.pbtxt").write_text(LABEL_MAP)
    (tmp_path / "gt.csv").write_text(
        "vid,0902,0.1,0.1,0.4,0.6,1,0\n"
        "vid,0902,0.1,0.1,0.4,0.6,3,0\n"       # same person, second action
        "vid,0903,0.5,0.2,0.9,0.9,1,1\n"
        "vid,0904,0.5,0.2,0.9,0.9,1,1\n"       # excluded below
        "vid,0902,0.5,0.5,0.6,0.6,2,2\n")      # action 2 is not in the label map: ignored
    (tmp_path / "det.csv").write_text(
        "vid,0902,0.100,0.100,0.400,0.600,1,0.900000\n"
        "vid,0902,0.600,0.600,0.700,0.700,1,0.800000\n"
        "vid,0903,0.500,0.200,0.900,0.900,1,0.700000\n"
        "vid,0902,0.100,0.100,0.400,0.600,3,0.300000\n"
        "vid,0904,0.500,0.200,0.900,0.900,1,0.990000\n"
        "vid,0902,0.500,0.500,0.600,0.600,2,0.990000\n")
    (tmp_path / "excl.csv").write_text("vid,0904\n")


def test_prints_per_class_ap_then_the_map_line(tmp_path, capsys):
    write_files(tmp_path)
    args = ["--groundtruth", str(tmp_path / "gt.csv"), "--detections", str(tmp_path / "det.csv"),
            "--labelmap", str(tmp_path / "map.pbtxt"), "--exclusions", str(tmp_path / "excl.csv")]
    mean_ap = load_tool("eval_ava").main(args)
    lines = capsys.readouterr().out.rstrip().splitlines()
    # stand: TP .9, FP .8, TP .7 over 2 GT -> 5/6; sit: one TP -> 1.
    assert lines == ["   1 stand: 0.833333", "   3 sit: 1.000000", "mAP@0.5IOU: 0.916667"]
    assert mean_ap == pytest.approx((5 / 6 + 1) / 2)
    # Without the exclusions, 0904's GT is found by the top-scored detection: stand 3 TP of 3 GT
    # at ranks 1, 2, 4 -> (1 + 1 + 3/4) / 3.
    load_tool("eval_ava").main(args[:6])
    assert capsys.readouterr().out.splitlines()[0] == f"   1 stand: {(2 + 0.75) / 3:.6f}"


def test_a_bad_line_is_named_by_file_and_line(tmp_path):
    write_files(tmp_path)
    with open(tmp_path / "det.csv", "a") as f:
        f.write("vid,0905,0.1,0.1,0.4,0.6,1\n")  # no score
    with pytest.raises(AnnotationError, match=r"det\.csv:7: expected 8"):
        load_tool("eval_ava").main(["--groundtruth", str(tmp_path / "gt.csv"), "--detections",
                                    str(tmp_path / "det.csv"), "--labelmap", str(tmp_path / "map.pbtxt")])


def test_command_line_reports_user_errors_in_one_line(tmp_path, capsys):
    from slowfast.utils.cli import run_tool

    write_files(tmp_path)
    (tmp_path / "map.pbtxt").write_text('item {\n  name: "stand"\n  id: one\n}\n')
    with pytest.raises(SystemExit) as exit_info:
        run_tool(load_tool("eval_ava").main, ["--groundtruth", str(tmp_path / "gt.csv"), "--detections",
                                              str(tmp_path / "det.csv"), "--labelmap", str(tmp_path / "map.pbtxt")])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip() == f"error: {tmp_path / 'map.pbtxt'}:3: id 'one' is not an integer"
