"""flosslab: gradient flossing, interactively.

Lyapunov spectra of recurrent networks by repeated QR, differentiated through the QR, and pushed
toward zero ("flossing") to keep gradients from exploding or vanishing (Engelken, NeurIPS 2023).

The numpy + autograd reference lives in the top-level modules; the torch engine (CPU/GPU, batched
ensembles, any torch cell) in :mod:`flosslab.engine`. The reference's names below load on first
use, so that ``import flosslab.engine`` works where autograd is not installed (a GPU machine).
"""
from importlib import import_module

from .config import FAST, FlosslabError, FrameCollapseWarning, NumericalError

__version__ = "0.1.0"

#: Public names and the module that defines them (loaded on first access).
_HOMES = {
    "common": ("DYNAMIC_PARAMS", "FlossHistory", "SpectrumHistory", "TrainHistory", "autonomous",
               "default_transient", "effective_rank", "init_rnn", "log10_condition_number",
               "random_bits", "random_frame"),
    "diagnostics": ("condition_number_curve", "log_singular_values",
                    "log_singular_values_from_jacobians", "state_gradient_norms",
                    "weight_gradient"),
    "flossing": ("floss", "flossing_loss"),
    "lyapunov": ("lyapunov_spectrum", "spectrum_from_jacobians"),
    "model": ("jacobian", "jacobian_apply", "readout", "rnn_step", "run_rnn"),
    "qr": ("qr",),
    "tasks": ("TASKS", "TaskBatch", "accuracy", "make_batch", "task_lags", "task_loss"),
    "trainconfig": ("SCHEDULES", "TrainConfig"),
    "training": ("train",),
}
_LAZY = {name: module for module, names in _HOMES.items() for name in names}

__all__ = ["FAST", "FlosslabError", "FrameCollapseWarning", "NumericalError", *sorted(_LAZY)]


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'flosslab' has no attribute {name!r}")
    try:
        value = getattr(import_module(f".{module}", __name__), name)
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] != "autograd":
            raise
        raise ImportError(f"flosslab.{name} belongs to the numpy/autograd reference, which needs "
                          "autograd (pip install -r requirements.txt); the torch engine, "
                          "flosslab.engine, works without it") from exc
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
