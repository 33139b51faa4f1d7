"""Progressive-shrinking training of an elastic supernet (single process or ``torchrun`` DDP).

    from ofa.train import load_config, train, resume
    result = train(load_config(preset="smoke"), out="runs/smoke")   # -> runs/smoke/supernet
    resume("runs/smoke")                                              # continue an interrupted run
"""

from ofa.train.config import StageConfig, TrainConfig, list_presets, load_config
from ofa.train.loop import TrainResult, resume, train

__all__ = ["StageConfig", "TrainConfig", "TrainResult", "list_presets", "load_config", "resume", "train"]
