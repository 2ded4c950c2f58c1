"""Dataset registry.

Contract of every registered dataset:
    ``Dataset(cfg, split)`` with split in {"train", "val", "test"}.
    ``__getitem__(i)`` returns ``(inputs, label, video_index, meta)``:
        inputs: list of per-pathway float tensors ``(C, T, H, W)``, normalised, packed by
            ``pack_pathway_output`` (two pathways for MODEL.ARCH in MULTI_PATHWAY_ARCH, else one);
        label: int class id in [0, NUM_CLASSES);
        video_index: int index of the video in the annotation list (test views share it);
        meta: dict, at least {"view_index": int} (temporal clip * NUM_SPATIAL_CROPS + crop).
    ``num_videos`` is the number of distinct videos; ``len()`` the number of items (train/val:
    one per video; test: videos x NUM_ENSEMBLE_VIEWS x NUM_SPATIAL_CROPS).
"""
from fvcore.common.registry import Registry

DATASET_REGISTRY = Registry("DATASET")
DATASET_REGISTRY.__doc__ = "Registry of datasets, selected by TRAIN.DATASET / TEST.DATASET."


def get_dataset_class(name: str):
    """The dataset class registered as ``name`` (case-insensitive); a KeyError lists the known ones."""
    import slowfast.datasets  # noqa: F401  (registers every dataset)

    by_lower_name = {registered.lower(): cls for registered, cls in DATASET_REGISTRY}
    if name.lower() not in by_lower_name:
        known = ", ".join(sorted(k for k, _ in DATASET_REGISTRY))
        raise KeyError(f"dataset '{name}' is not registered; known: {known}")
    return by_lower_name[name.lower()]


def build_dataset(name: str, cfg, split: str):
    """Construct the dataset registered as ``name`` (case-insensitive) for ``split``."""
    return get_dataset_class(name)(cfg, split)
