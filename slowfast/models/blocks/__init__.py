"""Building blocks of the backbones, one file per block family."""
