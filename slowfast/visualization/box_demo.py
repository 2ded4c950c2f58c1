"""Action-detection demo: precomputed person boxes in, each box drawn with its top actions out.

``DEMO.PREDS_BOXES`` is a CSV in the format of SlowFast's precomputed-box demo (AVA's predicted
boxes): ``video_id, timestamp, x1, y1, x2, y2, action_id, score`` with the corners normalised to
[0, 1], ``timestamp`` the second of the input video the boxes belong to (its keyframe), the action
id empty and boxes scoring below ``AVA.DETECTION_SCORE_THRESH`` dropped. Rows of every
``video_id`` are used (one CSV per input video).

For every second with boxes, the clip of ``NUM_FRAMES x SAMPLING_RATE`` frames (at
``DATA.TARGET_FPS``, scaled to the video's rate) centred on that second's frame is classified with
the boxes (``model(inputs, boxes)``, sigmoid scores); the frames from half a second before to half
a second after are drawn with the boxes and their ``DEMO.TOPK`` actions. The output video has the
input's size, rate and frame count.
"""
import logging
import os
from collections import defaultdict
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch

from slowfast.datasets.ava_annotations import parse_box_csv
from slowfast.utils.errors import ConfigError, DataError

logger = logging.getLogger(__name__)

# Box colours (RGB), one per box of a second, cycling.
_COLOURS = ((230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180))
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def read_preds_boxes(path: str, score_thresh: float) -> Dict[int, np.ndarray]:
    """``{second: (B, 4) normalised x1, y1, x2, y2}`` from a precomputed-box CSV (see module doc),
    read by the AVA box parser (bad lines named by ``file:line``)."""
    if not os.path.isfile(path):
        raise ConfigError(f"DEMO.PREDS_BOXES={path!r}: file not found",
                          "give a CSV of video_id,timestamp,x1,y1,x2,y2,action_id,score rows")
    boxes: Dict[int, List[Tuple[float, ...]]] = defaultdict(list)
    for row in parse_box_csv(path):
        if row.score >= score_thresh:
            boxes[row.timestamp].append(row.box)
    return {second: np.asarray(rows, dtype=np.float32) for second, rows in boxes.items()}


def draw_boxes(frame: np.ndarray, boxes: np.ndarray, labels: Sequence[Sequence[str]]) -> np.ndarray:
    """Draw ``boxes`` ``(B, 4)`` in pixels on ``frame`` (H, W, 3) RGB uint8, each with its label
    lines above (or inside, at the top edge); returns the frame (drawn in place when contiguous)."""
    frame = np.ascontiguousarray(frame)
    scale = max(0.3, frame.shape[0] / 720.0)
    line_height = int(round(20 * scale)) + 2
    for i, (box, lines) in enumerate(zip(boxes, labels)):
        colour = _COLOURS[i % len(_COLOURS)]
        x1, y1, x2, y2 = (int(round(v)) for v in box)
        cv2.rectangle(frame, (x1, y1), (x2, y2), colour, max(1, int(round(2 * scale))))
        top = max(line_height * len(lines), y1)
        for row, line in enumerate(lines):
            y = top - line_height * (len(lines) - 1 - row) - 3
            (width, _), _ = cv2.getTextSize(line, _FONT, scale, 1)
            cv2.rectangle(frame, (x1, y - line_height + 3), (x1 + width + 4, y + 3), colour, -1)
            cv2.putText(frame, line, (x1 + 2, y), _FONT, scale, (0, 0, 0), 1, cv2.LINE_AA)
    return frame


class BoxPredictor:
    """Sigmoid action scores ``(B, C)`` of boxes in a window of frames (the detection model)."""

    def __init__(self, cfg, model: Optional[torch.nn.Module] = None):
        from slowfast.inference.predictor import ClipPreprocessor, load_model_for_inference

        self.cfg = cfg
        self.model = load_model_for_inference(cfg, model)
        self.device = next(self.model.parameters()).device
        self.preprocess = ClipPreprocessor(cfg)

    @torch.inference_mode()
    def __call__(self, frames: List[np.ndarray], boxes: np.ndarray) -> torch.Tensor:
        inputs = self.preprocess(frames)
        # Normalised corners -> pixels of the clip the model sees (short side scaled, no crop).
        scale = np.array([inputs[0].shape[-1], inputs[0].shape[-2]] * 2, dtype=np.float32)
        pixel_boxes = torch.from_numpy(boxes * scale)
        rows = torch.cat([torch.zeros(len(boxes), 1), pixel_boxes], dim=1).to(self.device)
        logits = self.model([x.to(self.device) for x in inputs], rows)
        return torch.sigmoid(logits.float()).cpu()


def box_label_lines(scores: torch.Tensor, names: Optional[List[str]], topk: int) -> List[List[str]]:
    """Per box, ``"name 0.87"`` lines of its ``topk`` best actions."""
    from slowfast.inference.labels import class_name

    lines = []
    for row in scores:
        values, classes = row.topk(min(topk, row.numel()))
        lines.append([f"{class_name(names, int(c))} {float(v):.2f}" for v, c in zip(values, classes)])
    return lines


def run_box_demo(cfg, model: Optional[torch.nn.Module] = None, source=None) -> Dict[str, float]:
    """The detection demo (``DETECTION.ENABLE`` with ``DEMO.PREDS_BOXES``); returns counts."""
    from slowfast.inference.labels import class_names_of
    from slowfast.inference.predictor import window_length
    from slowfast.visualization.sources import Mp4Writer, demo_source

    if not cfg.DEMO.PREDS_BOXES:
        raise ConfigError("DEMO.PREDS_BOXES is empty: a detection model's demo needs person boxes",
                          "give a CSV of precomputed boxes (video_id,timestamp,x1,y1,x2,y2,action_id,score)")
    if not cfg.DEMO.OUTPUT_FILE:
        raise ConfigError("DEMO.OUTPUT_FILE is empty: the detection demo writes a video", "set DEMO.OUTPUT_FILE")
    boxes_by_second = read_preds_boxes(cfg.DEMO.PREDS_BOXES, cfg.AVA.DETECTION_SCORE_THRESH)
    source = source if source is not None else demo_source(cfg)
    fps = float(source.fps or 30)
    frames = list(source)  # the clip of a second reaches past it: keep the video in memory
    if not frames:
        raise DataError(f"{cfg.DEMO.INPUT_VIDEO or cfg.DEMO.DATA_SOURCE}: no frames decoded")
    predictor = BoxPredictor(cfg, model)
    names = class_names_of(cfg, cfg.DEMO.LABEL_FILE_PATH)
    length = window_length(cfg, fps)
    drawn: Dict[int, Tuple[np.ndarray, List[List[str]]]] = {}  # frame index -> boxes (pixels), lines
    height, width = frames[0].shape[:2]
    for second, boxes in sorted(boxes_by_second.items()):
        centre = int(round(second * fps))
        if not 0 <= centre < len(frames):
            continue
        indices = np.clip(np.arange(centre - length // 2, centre - length // 2 + length), 0, len(frames) - 1)
        scores = predictor([frames[i] for i in indices], boxes)
        lines = box_label_lines(scores, names, cfg.DEMO.TOPK)
        pixels = boxes * np.array([width, height, width, height], dtype=np.float32)
        for i in range(max(0, centre - int(fps // 2)), min(len(frames), centre + int(round(fps / 2)))):
            drawn[i] = (pixels, lines)
    writer = Mp4Writer(cfg.DEMO.OUTPUT_FILE, width, height, cfg.DEMO.OUTPUT_FPS if cfg.DEMO.OUTPUT_FPS > 0 else fps)
    try:
        for i, frame in enumerate(frames):
            if i in drawn:
                frame = draw_boxes(frame.copy(), *drawn[i])
            writer.write(frame)
    finally:
        writer.close()
    seconds = sum(1 for s in boxes_by_second if 0 <= int(round(s * fps)) < len(frames))
    print(f"demo: {len(frames)} frames, {seconds} seconds with boxes; wrote {os.path.abspath(cfg.DEMO.OUTPUT_FILE)}",
          flush=True)
    return {"num_frames": len(frames), "num_seconds": seconds, "num_drawn_frames": len(drawn)}
