"""Datasets and loaders. Importing this package registers every dataset in DATASET_REGISTRY."""
from slowfast.datasets.build import DATASET_REGISTRY, build_dataset  # noqa: F401
from slowfast.datasets import ava, charades, frames, jester, kinetics, synthetic, ucf101  # noqa: F401  (register the datasets)
