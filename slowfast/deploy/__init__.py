"""Deployment: ONNX / TorchScript export and its verification against eager PyTorch.

Running exported or optimised models lives in ``slowfast.inference``.
"""
from slowfast.deploy.export import ExportMismatchError, export_and_verify, export_onnx, export_torchscript  # noqa: F401
