"""Run by ``torchrun --standalone --nproc_per_node=2`` in tests: train the toy model in the
torchrun-provided process group. Usage: toy_torchrun.py OUTPUT_DIR"""
import sys

import torch

from slowfast.engine.distributed import launch_job
from tests.engine.toy import TRAIN_THEN_TEST, toy_cfg

if __name__ == "__main__":
    torch.set_num_threads(1)
    launch_job(toy_cfg(sys.argv[1]), init_method="unused-under-torchrun", func=TRAIN_THEN_TEST)
