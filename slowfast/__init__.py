"""slowfast: two-pathway video networks (SlowFast, dual-attention CMDA, efficient backbones)."""
__version__ = "0.1.0"
