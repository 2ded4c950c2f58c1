"""Video models. Importing this package registers every model family in MODEL_REGISTRY."""
from slowfast.models.build import MODEL_REGISTRY, build_model  # noqa: F401
