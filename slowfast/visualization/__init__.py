"""Demo predictor, overlays, Grad-CAM and TensorBoard visualisation."""
