"""Sliding windows, preprocessing, the streaming API and label files."""
import numpy as np
import pytest
import torch

from slowfast.inference.labels import load_class_names
from slowfast.utils.errors import ConfigError
from slowfast.inference.predictor import (
    ClipPreprocessor,
    PytorchPredictor,
    StreamingPredictor,
    build_predictor,
    sliding_windows,
    window_length,
)


def _frames(count, height=24, width=40):
    """Frames whose pixels all equal their index (mod 256)."""
    return [np.full((height, width, 3), i % 256, np.uint8) for i in range(count)]


def _ids(frames):
    return [int(f[0, 0, 0]) for f in frames]


@pytest.mark.parametrize(
    "count, length, stride, ends, new_counts",
    [
        (10, 4, 4, [3, 7, 9], [4, 4, 2]),
        (10, 4, 2, [3, 5, 7, 9], [4, 2, 2, 2]),
        (10, 4, 6, [3, 9], [4, 6]),
        (3, 4, 4, [2], [3]),  # shorter than one window
        (0, 4, 4, [], []),
    ],
)
def test_sliding_windows(count, length, stride, ends, new_counts):
    windows = list(sliding_windows(_frames(count), length, stride))
    assert [w.end_index for w in windows] == ends
    assert [len(w.new_frames) for w in windows] == new_counts
    for window in windows:  # each window is the last `length` frames up to its end
        assert _ids(window.frames) == list(range(max(0, window.end_index - length + 1), window.end_index + 1))
    assert sum(new_counts) == count  # every frame is labelled once


def test_window_length_follows_the_frame_rate(toy_cfg):
    assert window_length(toy_cfg) == 16
    assert window_length(toy_cfg, fps=56) == 32
    toy_cfg.DATA.TARGET_FPS = 12  # a Jester model on a 30-fps camera sees the same 2.7 s
    assert window_length(toy_cfg, fps=30) == 40


def test_preprocessor_samples_scales_normalises_and_packs(toy_cfg):
    inputs = ClipPreprocessor(toy_cfg)(_frames(16, 48, 80))
    slow, fast = inputs
    assert fast.shape == (1, 3, 8, 32, 53) and slow.shape == (1, 3, 2, 32, 53)
    # Frames 0, 2, 4, ... 15 (linspace rounding) with pixel value = index, normalised.
    expected = [(i / 255 - 0.45) / 0.225 for i in (0, 2, 4, 6, 9, 11, 13, 15)]
    assert torch.allclose(fast[0, 0, :, 0, 0], torch.tensor(expected), atol=1e-5)
    assert torch.allclose(slow[0, 0, :, 0, 0], torch.tensor([expected[0], expected[-1]]), atol=1e-5)


def test_streaming_yields_one_result_per_window(toy_cfg, toy_model, tmp_path):
    names = tmp_path / "names.txt"
    names.write_text("left\nright\nstop\n")
    toy_cfg.DEMO.LABEL_FILE_PATH = str(names)
    toy_cfg.DEMO.BUFFER_SIZE = 8
    streaming = StreamingPredictor(toy_cfg, PytorchPredictor(toy_cfg, toy_model))
    results = list(streaming.predict(_frames(40)))
    assert [r.frame_index for r in results] == [15, 23, 31, 39]
    for frame_index, labels, scores in results:
        assert len(labels) == 2 and set(labels) <= {"left", "right", "stop"}
        assert scores[0] >= scores[1] and 0.0 < sum(scores) <= 1.0 + 1e-6
    # Same window contents give the same answer as the model itself.
    window = _frames(40)[24:40]
    with torch.no_grad():
        expected = torch.softmax(toy_model(ClipPreprocessor(toy_cfg)(window)), dim=1)[0]
    top = torch.topk(expected, 2)
    assert results[-1].scores == pytest.approx(top.values.tolist(), abs=1e-5)
    assert results[-1].labels == [["left", "right", "stop"][i] for i in top.indices]
    assert streaming.num_clips == 4 and streaming.model_clips_per_second > 0


def test_unknown_backend_is_a_clear_error(toy_cfg, toy_model):
    toy_cfg.DEMO.BACKEND = "tensorrt"
    with pytest.raises(ConfigError, match="DEMO.BACKEND='tensorrt' is not a registered predictor; use one of"):
        build_predictor(toy_cfg, toy_model)


def test_label_file_formats(tmp_path):
    per_line = tmp_path / "names.txt"
    per_line.write_text("abseiling\nair drumming\n\nanswering questions\n")
    assert load_class_names(str(per_line)) == ["abseiling", "air drumming", "answering questions"]
    csv = tmp_path / "names.csv"
    csv.write_text("1,Swiping Right\n0,Swiping Left\n2, No gesture\n")
    assert load_class_names(str(csv), num_classes=3) == ["Swiping Left", "Swiping Right", "No gesture"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("0,a\n0,b\n", r"names.csv:2: class id 0 appears twice"),
        ("0,a\nb\n", r"names.csv:2: expected 'id,name'"),
        ("0,a\n2,c\n", r"missing \[1\]"),
        ("\n\n", "empty"),
    ],
)
def test_label_file_errors_name_file_and_line(tmp_path, text, message):
    path = tmp_path / "names.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        load_class_names(str(path))


def test_label_count_must_match_the_model(tmp_path):
    path = tmp_path / "names.txt"
    path.write_text("a\nb\n")
    with pytest.raises(ValueError, match="names 2 classes but MODEL.NUM_CLASSES is 3"):
        load_class_names(str(path), num_classes=3)


def test_onnx_backend_is_registered_on_demand(toy_cfg, toy_model):
    toy_cfg.DEMO.BACKEND = "onnx"
    predictor = build_predictor(toy_cfg, toy_model)
    assert type(predictor).__name__ == "OnnxPredictor" and predictor.model is toy_model


def test_class_names_come_from_the_training_dataset_without_a_label_file(tmp_path):
    """The synthetic dataset names its classes in classes.txt: the demo shows those names, not ids."""
    from slowfast.config import get_cfg
    from slowfast.datasets.synthetic import CLASS_NAMES
    from slowfast.inference.labels import class_names_of

    cfg = get_cfg()
    cfg.TRAIN.DATASET, cfg.MODEL.NUM_CLASSES = "synthetic", 9
    cfg.SYNTHETIC.CACHE_DIR = str(tmp_path)
    assert class_names_of(cfg) == list(CLASS_NAMES)  # not generated yet: the generator's names
    (tmp_path / "classes.txt").write_text("".join(f"class {i}\n" for i in range(9)))
    assert class_names_of(cfg)[8] == "class 8"  # the generated directory's file
    cfg.MODEL.NUM_CLASSES = 4  # another head: the names would be wrong, ids are shown
    assert class_names_of(cfg) is None
    cfg.TRAIN.DATASET = "kinetics"  # no names of its own
    assert class_names_of(cfg) is None
    names = tmp_path / "names.txt"
    names.write_text("a\nb\nc\nd\n")
    assert class_names_of(cfg, str(names)) == ["a", "b", "c", "d"]
