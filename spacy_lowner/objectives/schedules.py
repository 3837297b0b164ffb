"""Weights that follow the training progress, for objectives that switch on or ramp up."""
import math


def linear_ramp(step: int, start: int = 0, warmup: int = 0) -> float:
    """0 before `start`, then rising linearly to 1 over `warmup` steps (at once if 0): the KL
    regularisers' schedule, supervised training first and the regulariser after."""
    if step < start:
        return 0.0
    if warmup <= 0:
        return 1.0
    return min(1.0, (step - start + 1) / warmup)


def sigmoid_ramp(step: int, length: int) -> float:
    """exp(-5 (1 - t)^2) for t = step / length in [0, 1]: the mean teacher's ramp-up
    (Laine & Aila 2017; Tarvainen & Valpola 2017); 1 from `length` on, and at once if 0."""
    if length <= 0 or step >= length:
        return 1.0
    return math.exp(-5.0 * (1.0 - step / length) ** 2)
