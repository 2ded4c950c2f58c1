from slowfast.config.defaults import get_cfg

__all__ = ["get_cfg"]
