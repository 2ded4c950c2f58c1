"""Video models. Importing this package registers every model family in MODEL_REGISTRY."""
from slowfast.models.build import MODEL_REGISTRY, build_model  # noqa: F401

# Model families: importing each module registers its models.
from slowfast.models import resnet_slowfast  # noqa: F401,E402
from slowfast.models import efficient_slowfast  # noqa: F401,E402
from slowfast.models import single_stream  # noqa: F401,E402
