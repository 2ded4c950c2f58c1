"""The demo on a real clip: output geometry, overlay, clip count, errors; demo configs; run_net."""
import importlib.util
import os

import av
import numpy as np
import pytest

from slowfast.config.loader import load_config
from slowfast.config.validate import assert_and_infer_cfg
from slowfast.visualization.demo import run_demo
from slowfast.inference.labels import load_class_names
from slowfast.visualization.overlay import text_box_size
from slowfast.inference.predictor import PytorchPredictor
from slowfast.visualization.sources import ContainerSource, WindowDisplay

from .conftest import DEMO_CLIP

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _decode(path):
    with av.open(path) as container:
        stream = container.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
        return np.stack(frames), stream.average_rate


@pytest.fixture(scope="module")
def input_clip():
    return _decode(DEMO_CLIP)


def test_demo_writes_labelled_copy_of_the_input(toy_cfg, toy_model, tmp_path, input_clip):
    labels = tmp_path / "labels.csv"
    labels.write_text("0,arm wrestling\n1,cleaning pool\n2,applying makeup\n")
    toy_cfg.DEMO.LABEL_FILE_PATH = str(labels)
    toy_cfg.DEMO.INPUT_VIDEO = DEMO_CLIP
    toy_cfg.DEMO.OUTPUT_FILE = str(tmp_path / "out" / "demo.mp4")
    stats = run_demo(toy_cfg, predictor=PytorchPredictor(toy_cfg, toy_model))

    frames_in, rate_in = input_clip
    frames_out, rate_out = _decode(toy_cfg.DEMO.OUTPUT_FILE)
    assert frames_out.shape == frames_in.shape == (280, 256, 340, 3)
    assert rate_out == rate_in == 28
    # 16-frame windows every 16 frames: 17 full windows, then one for the last 8 frames.
    assert stats.num_frames == 280 and stats.num_clips == 18
    assert stats.end_to_end_fps > 0 and stats.model_clips_per_second > 0

    # The overlay (2 labels + FPS) darkens its box and writes text; the rest is the input, re-encoded.
    lines = ["applying makeup 0.00", "cleaning pool 0.00", "000.0 FPS"]
    box_w, box_h, _, _ = text_box_size(lines, frames_in.shape[1])
    diff = np.abs(frames_out.astype(np.int16) - frames_in.astype(np.int16))
    box = diff[:, : box_h - 4, : box_w // 2]
    outside = diff[:, box_h + 10 :, box_w + 10 :]
    assert box.mean() > 25
    assert outside.mean() < 4
    # Text pixels are white: every frame has near-white pixels in the box.
    assert np.all((frames_out[:, :box_h, :box_w] > 200).all(axis=-1).sum(axis=(1, 2)) > 20)


def test_demo_with_overlapping_windows_labels_every_frame(toy_cfg, toy_model, tmp_path):
    toy_cfg.DEMO.INPUT_VIDEO = DEMO_CLIP
    toy_cfg.DEMO.BUFFER_SIZE = 8  # a prediction every 8 frames over the last 16
    toy_cfg.DEMO.OUTPUT_FPS = 14
    toy_cfg.DEMO.OUTPUT_FILE = str(tmp_path / "demo.mp4")
    stats = run_demo(toy_cfg, predictor=PytorchPredictor(toy_cfg, toy_model, optimize=False))
    assert stats.num_clips == 34  # windows ending at 15, 23, ..., 279
    frames_out, rate_out = _decode(toy_cfg.DEMO.OUTPUT_FILE)
    assert len(frames_out) == 280 and rate_out == 14


def test_demo_errors_are_clear(toy_cfg, toy_model, tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="DEMO.INPUT_VIDEO"):
        run_demo(toy_cfg, predictor=PytorchPredictor(toy_cfg, toy_model))
    toy_cfg.DEMO.INPUT_VIDEO = str(tmp_path / "missing.mp4")
    with pytest.raises(FileNotFoundError, match="missing.mp4"):
        run_demo(toy_cfg, predictor=PytorchPredictor(toy_cfg, toy_model))
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(RuntimeError, match="DEMO.OUTPUT_FILE is empty.*no display"):
        WindowDisplay()
    monkeypatch.setenv("DISPLAY", ":0")  # a display, but this OpenCV build is headless
    with pytest.raises(RuntimeError, match="DEMO.OUTPUT_FILE is empty.*no GUI support"):
        WindowDisplay()


DEMO_CONFIGS = sorted(
    os.path.join(dataset, name)
    for dataset in ("Kinetics", "Jester")
    for name in os.listdir(os.path.join(REPO, "demo", dataset))
    if name.endswith(".yaml")
)


def test_every_efficient_and_dual_model_has_kinetics_and_jester_demo_configs():
    expected = [
        f"{dataset}/SLOWFAST_{model}_8x8_R50_stepwise_multigrid.yaml"
        for dataset in ("Jester", "Kinetics")
        for model in ("DUAL", "GHOSTNET", "MOBILENETV2", "SHUFFLENETV2", "SHUFFLENET")
    ]
    assert sorted(DEMO_CONFIGS) == sorted(expected)


@pytest.mark.parametrize("name", DEMO_CONFIGS)
def test_demo_configs_enable_only_the_demo(name):
    cfg = assert_and_infer_cfg(load_config(None, os.path.join(REPO, "demo", name)))
    assert cfg.DEMO.ENABLE and not cfg.TRAIN.ENABLE and not cfg.TEST.ENABLE
    model = name.split("_")[1]
    assert cfg.MODEL.MODEL_NAME == {
        "DUAL": "SlowFastDualAttention", "GHOSTNET": "SlowFastGhostNet", "MOBILENETV2": "SlowFastMobileNetV2",
        "SHUFFLENETV2": "SlowFastShuffleNetV2", "SHUFFLENET": "SlowFastShuffleNet",
    }[model]
    assert cfg.MODEL.NUM_CLASSES == (400 if name.startswith("Kinetics") else 27)
    if cfg.DEMO.LABEL_FILE_PATH:
        names = load_class_names(os.path.join(REPO, cfg.DEMO.LABEL_FILE_PATH), cfg.MODEL.NUM_CLASSES)
        assert names[6] == "arm wrestling"


def test_run_net_runs_the_demo_of_a_demo_config(tmp_path, monkeypatch):
    run_net = importlib.util.spec_from_file_location("run_net", os.path.join(REPO, "tools", "run_net.py"))
    module = importlib.util.module_from_spec(run_net)
    run_net.loader.exec_module(module)
    monkeypatch.chdir(REPO)  # DEMO.LABEL_FILE_PATH of the config is relative to the repository
    output = tmp_path / "result.mp4"
    module.main([
        "--cfg", "demo/Kinetics/SLOWFAST_SHUFFLENETV2_8x8_R50_stepwise_multigrid.yaml",
        # A tiny variant: 8 frames over 60 (5 predictions on the 280-frame clip), 32-pixel short side.
        "SLOWFAST.WIDTH_MULTI", "0.5", "DATA.NUM_FRAMES", "8", "DATA.SAMPLING_RATE", "8", "DATA.TEST_CROP_SIZE", "32",
        "DEMO.INPUT_VIDEO", DEMO_CLIP, "DEMO.OUTPUT_FILE", str(output), "OUTPUT_DIR", str(tmp_path),
        "TEST.ALLOW_RANDOM_INIT", "True",  # the pipeline is under test, not the labels
    ])
    frames_out, rate_out = _decode(str(output))
    assert frames_out.shape == (280, 256, 340, 3) and rate_out == 28


def test_demo_threads_leave_a_core_to_decoding_and_are_restored(toy_cfg, monkeypatch):
    import torch

    from slowfast.visualization.demo import demo_torch_threads, torch_threads

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert demo_torch_threads(toy_cfg) == 1
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    assert demo_torch_threads(toy_cfg) == 1
    toy_cfg.DEMO.NUM_THREADS = 3
    assert demo_torch_threads(toy_cfg) == 3
    before = torch.get_num_threads()
    with torch_threads(2):
        assert torch.get_num_threads() == 2
    assert torch.get_num_threads() == before
    toy_cfg.DEMO.NUM_THREADS = -1
    with pytest.raises(ValueError, match="DEMO.NUM_THREADS"):
        demo_torch_threads(toy_cfg)


def test_odd_sized_frames_from_any_iterable_keep_their_size(toy_cfg, toy_model, tmp_path):
    from slowfast.visualization.sources import IterableSource

    frames = [np.full((65, 97, 3), 10 * i, np.uint8) for i in range(20)]
    toy_cfg.DEMO.OUTPUT_FILE = str(tmp_path / "odd.mp4")
    stats = run_demo(toy_cfg, PytorchPredictor(toy_cfg, toy_model, optimize=False), IterableSource(frames, fps=10))
    # At 10 fps the 16-frame window (at 28 fps) lasts 6 frames: windows end at 5, 11, 17, then 19.
    assert stats.num_clips == 4
    frames_out, rate_out = _decode(toy_cfg.DEMO.OUTPUT_FILE)
    assert frames_out.shape == (20, 65, 97, 3) and rate_out == 10
    # Outside the text box the content survives 4:4:4 encoding: frame 19 is uniform grey 190.
    assert abs(float(frames_out[19, 45:, 70:].mean()) - 190) < 3


def test_missing_camera_is_a_clear_error(toy_cfg):
    from slowfast.visualization.sources import demo_source

    toy_cfg.DEMO.WEBCAM = 97
    with pytest.raises(RuntimeError, match="cannot open camera 97"):
        demo_source(toy_cfg)


def test_container_source_frames_equal_pyav_rgb_of_a_real_clip():
    """The demo's file source converts with one shared swscale context; pixels must not change."""
    path = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "real_clips", "part_0.mp4")
    with av.open(path) as container:
        expected = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    frames = list(ContainerSource(path))
    assert len(frames) == len(expected) == 32
    for got, want in zip(frames, expected):
        np.testing.assert_array_equal(got, want)
