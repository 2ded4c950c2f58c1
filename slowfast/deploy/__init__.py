"""Deployment: ONNX / TorchScript export, the optimised inference path and the model benchmark.

Importing the package registers the ``onnx`` back end of ``DEMO.BACKEND``
(``slowfast.deploy.onnx_predictor.OnnxPredictor``).
"""
from slowfast.deploy import onnx_predictor  # noqa: F401  (registers OnnxPredictor)
from slowfast.deploy.export import ExportMismatchError, export_and_verify, export_onnx, export_torchscript  # noqa: F401
from slowfast.deploy.inference import fold_batchnorm, optimize_for_inference, prepare_inputs  # noqa: F401
