"""Drawing on frames: prediction text boxes, heat-map colouring and blending, GIF encoding.

Frames are RGB ``uint8`` numpy arrays ``(H, W, 3)``; clips are ``(T, H, W, 3)``.
"""
import io
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np
from PIL import Image

_FONT = cv2.FONT_HERSHEY_SIMPLEX
_TEXT_COLOUR = (255, 255, 255)
_BOX_COLOUR = (0, 0, 0)


def text_box_size(lines: Sequence[str], frame_height: int) -> Tuple[int, int, float, int]:
    """Geometry of the text box for ``lines`` on a frame ``frame_height`` pixels high.

    Returns ``(box_width, box_height, font_scale, line_height)``; the scale follows the frame
    size so the text stays legible on 112-pixel and 1080-pixel frames alike.
    """
    font_scale = max(0.3, frame_height / 640.0)
    thickness = 1
    line_height = int(round(22 * font_scale)) + 4
    widths = [cv2.getTextSize(line, _FONT, font_scale, thickness)[0][0] for line in lines]
    box_width = (max(widths) if widths else 0) + 8
    return box_width, line_height * len(lines) + 6, font_scale, line_height


def draw_text_lines(frame: np.ndarray, lines: Sequence[str], alpha: float = 0.6) -> np.ndarray:
    """Draw ``lines`` top-left on a darkened box of ``frame`` (H, W, 3) uint8 and return it.

    A C-contiguous frame is drawn on in place; any other (a view) is copied first (OpenCV needs it).
    """
    frame = np.ascontiguousarray(frame)
    if not lines:
        return frame
    box_width, box_height, font_scale, line_height = text_box_size(lines, frame.shape[0])
    box_width, box_height = min(box_width, frame.shape[1]), min(box_height, frame.shape[0])
    region = frame[:box_height, :box_width]
    # Darken the box instead of painting it opaque so the scene stays visible under the text.
    region[:] = (region.astype(np.float32) * (1.0 - alpha)).astype(np.uint8)
    for row, line in enumerate(lines):
        baseline_y = 4 + line_height * (row + 1) - 6
        cv2.putText(frame, line, (4, baseline_y), _FONT, font_scale, _TEXT_COLOUR, 1, cv2.LINE_AA)
    return frame


def prediction_lines(
    labels: Sequence[str], scores: Sequence[float], fps: Optional[float] = None
) -> List[str]:
    """Text of a prediction overlay: one ``"label 0.87"`` line per label, then the FPS."""
    lines = [f"{label} {score:.2f}" for label, score in zip(labels, scores)]
    if fps is not None:
        lines.append(f"{fps:.1f} FPS")
    return lines


def colorize_heatmap(heatmap: np.ndarray, colormap: int = cv2.COLORMAP_JET) -> np.ndarray:
    """Map a heat map in [0, 1] of shape ``(..., H, W)`` to RGB uint8 ``(..., H, W, 3)``."""
    values = np.clip(np.asarray(heatmap, dtype=np.float32), 0.0, 1.0)
    flat = (values.reshape(-1, values.shape[-1]) * 255).astype(np.uint8)
    bgr = cv2.applyColorMap(flat, colormap)
    return bgr[..., ::-1].reshape(values.shape + (3,)).copy()


def blend_heatmap(frames: np.ndarray, heatmap: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """Blend colourised ``heatmap`` ``(T, H, W)`` in [0, 1] over ``frames`` ``(T, H, W, 3)`` uint8."""
    if frames.shape[:3] != heatmap.shape:
        raise ValueError(f"frames {frames.shape[:3]} and heat map {heatmap.shape} differ in T, H, W")
    colours = colorize_heatmap(heatmap).astype(np.float32)
    mixed = (1.0 - alpha) * frames.astype(np.float32) + alpha * colours
    return np.clip(mixed, 0, 255).astype(np.uint8)


def encode_gif(frames: np.ndarray, fps: float = 4.0) -> bytes:
    """Encode ``frames`` ``(T, H, W, 3)`` uint8 as a looping animated GIF.

    Each frame gets its own 256-colour palette by fast octree quantisation (Pillow's default
    median cut is ~40x slower on 340x256 frames).
    """
    images = [
        Image.fromarray(np.ascontiguousarray(frame)).quantize(256, method=Image.Quantize.FASTOCTREE)
        for frame in frames
    ]
    buffer = io.BytesIO()
    duration_ms = int(round(1000.0 / max(fps, 1e-3)))
    images[0].save(
        buffer, format="GIF", save_all=True, append_images=images[1:], duration=duration_ms, loop=0
    )
    return buffer.getvalue()


def clip_to_uint8(clip: np.ndarray) -> np.ndarray:
    """Clip values to uint8: floats in [0, 1] are scaled by 255, uint8 is returned unchanged."""
    clip = np.asarray(clip)
    if clip.dtype == np.uint8:
        return clip
    return (np.clip(clip.astype(np.float32), 0.0, 1.0) * 255 + 0.5).astype(np.uint8)
