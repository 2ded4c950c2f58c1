"""Inference: run a trained video model on clips, one home for every back end.

* ``predictor``: the ``Predictor`` interface (clips -> probabilities), the eager/optimised PyTorch
  back end, clip preprocessing and the sliding-window streaming API (demo, Grad-CAM, Python users);
* ``optimize``: the fast inference path (BatchNorm folding, memory layout) used by the test loop,
  the demo, export and the benchmark;
* ``onnx_backend``: the onnxruntime back end (``DEMO.BACKEND onnx``);
* ``labels``: class-name files;
* ``benchmark``: speed and memory of the back ends, side by side (``tools/benchmark.py``).

Dependencies point one way: ``engine``, ``visualization`` and ``tools`` import this package; it
imports ``models``, ``datasets`` and ``deploy.export`` (to write an ONNX file on the fly), never
the other way round.
"""
