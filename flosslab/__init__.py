"""flosslab: gradient flossing, interactively.

Lyapunov spectra of recurrent networks by repeated QR, differentiated through the QR, and pushed
toward zero ("flossing") to keep gradients from exploding or vanishing (Engelken, NeurIPS 2023).

The numpy + autograd reference lives in the top-level modules; the torch engine (CPU/GPU, batched
ensembles, any torch cell) in :mod:`flosslab.engine`.
"""
from .config import FAST, FlosslabError, FrameCollapseWarning, NumericalError
from .diagnostics import (condition_number_curve, effective_rank, log10_condition_number,
                          log_singular_values, log_singular_values_from_jacobians,
                          state_gradient_norms, weight_gradient)
from .flossing import FlossHistory, floss, flossing_loss, random_bits
from .lyapunov import SpectrumHistory, default_transient, lyapunov_spectrum, spectrum_from_jacobians
from .model import autonomous, init_rnn, jacobian, jacobian_apply, readout, rnn_step, run_rnn
from .qr import qr
from .tasks import TASKS, TaskBatch, accuracy, make_batch, task_lags, task_loss
from .trainconfig import SCHEDULES, TrainConfig
from .training import TrainHistory, train

__version__ = "0.1.0"

__all__ = [
    "FAST", "FlosslabError", "FrameCollapseWarning", "NumericalError",
    "condition_number_curve", "effective_rank", "log10_condition_number", "log_singular_values",
    "log_singular_values_from_jacobians", "state_gradient_norms", "weight_gradient",
    "FlossHistory", "floss", "flossing_loss", "random_bits",
    "SpectrumHistory", "default_transient", "lyapunov_spectrum", "spectrum_from_jacobians",
    "autonomous", "init_rnn", "jacobian", "jacobian_apply", "readout", "rnn_step", "run_rnn",
    "qr", "TASKS", "TaskBatch", "accuracy", "make_batch", "task_lags", "task_loss",
    "SCHEDULES", "TrainConfig", "TrainHistory", "train",
]
