"""Training, evaluation, checkpoints, optimisation, meters and distributed helpers."""
