"""tools/gradcam_video.py on the real demo clip with a tiny SlowFast-ShuffleNetV2 checkpoint."""
import json
import os

import pytest
import torch
from PIL import Image

from slowfast.config.loader import load_config
from slowfast.models.build import build_model
from tests.tools.tool_loader import REPO, load_tool

CLIP_DIR = os.path.join(REPO, "tests", "data", "real_clips")  # demo.mp4: 340x256, 28 fps, 280 frames

TINY_CONFIG = """
MODEL:
  MODEL_NAME: SlowFastShuffleNetV2
  ARCH: slowfast
  NUM_CLASSES: 3
SLOWFAST:
  ALPHA: 4
  WIDTH_MULTI: 0.5
DATA:
  NUM_FRAMES: 8
  SAMPLING_RATE: 2
  TARGET_FPS: 28
  TEST_CROP_SIZE: 32
NUM_GPUS: 0
"""


def _load_tool():
    return load_tool("gradcam_video")


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gradcam_tool")
    config = folder / "tiny.yaml"
    config.write_text(TINY_CONFIG)
    cfg = load_config(None, str(config))
    torch.manual_seed(0)
    model = build_model(cfg)
    checkpoint = folder / "tiny.pyth"
    torch.save({"epoch": 0, "model_state": model.state_dict()}, checkpoint)
    return str(config), str(checkpoint)


def _args(config, checkpoint, output_dir, *extra):
    return ["--yaml_cfg", config, "--checkpoint_pth", checkpoint, "--root_path", CLIP_DIR,
            "--video_path", "demo.mp4", "--output_dir", str(output_dir), *extra]


def test_writes_overlays_per_layer_and_pathway_with_the_prediction(tiny_checkpoint, tmp_path):
    config, checkpoint = tiny_checkpoint
    names = tmp_path / "names.txt"
    names.write_text("arm wrestling\ncleaning pool\napplying makeup\n")
    out = tmp_path / "out"
    summary = _load_tool().main(_args(
        config, checkpoint, out, "--target_layer", "s3,s4_fuse", "--target_label", "2", "--label_file", str(names)
    ))
    assert sorted(summary["files"]) == ["s3/fast", "s3/slow", "s4_fuse/fast", "s4_fuse/slow"]
    for pathway, frames in (("slow", 2), ("fast", 8)):
        pngs = sorted((out / "s4_fuse" / pathway).iterdir())
        assert [p.name for p in pngs] == [f"frame_{i:03d}.png" for i in range(frames)]
        assert Image.open(pngs[0]).size == (340, 256)  # the video's own resolution
        gif = Image.open(out / f"s4_fuse_{pathway}.gif")
        assert gif.n_frames == frames and gif.size == (340, 256)
    saved = json.loads((out / "summary.json").read_text())
    assert saved["predicted_name"] == ["arm wrestling", "cleaning pool", "applying makeup"][saved["predicted_label"]]
    assert saved["explained_label"] == 2 and saved["predicted_label"] == summary["predicted_label"]
    assert 0.0 < saved["predicted_probability"] <= 1.0


def test_unknown_layer_lists_the_valid_names(tiny_checkpoint, tmp_path):
    config, checkpoint = tiny_checkpoint
    with pytest.raises(KeyError, match=r"'s6_fuse'.*s1, s1_fuse, s2, s2_fuse, s3, s3_fuse, s4, s4_fuse, head"):
        _load_tool().main(_args(config, checkpoint, tmp_path, "--target_layer", "s6_fuse"))


def test_missing_video_is_named(tiny_checkpoint, tmp_path):
    config, checkpoint = tiny_checkpoint
    args = _args(config, checkpoint, tmp_path)
    args[args.index("demo.mp4")] = "nope.mp4"
    with pytest.raises(FileNotFoundError, match="nope.mp4"):
        _load_tool().main(args)
