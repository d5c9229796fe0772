"""flosslab: gradient flossing, interactively.

Lyapunov spectra of recurrent networks by repeated QR, differentiated through the QR, and pushed
toward zero ("flossing") to keep gradients from exploding or vanishing (Engelken, NeurIPS 2023).

The package in layers, each importing only from those below it:

1. :mod:`flosslab.core`: what both implementations share (conventions, tasks, errors, settings);
2. :mod:`flosslab.reference` (numpy + autograd, written to be read) and :mod:`flosslab.engine`
   (torch: CPU/GPU, ensembles, any cell), module for module the same;
3. :mod:`flosslab.paper` (the reproduction of the paper's claims) and :mod:`flosslab.course` (what
   the notebooks import);
4. this module (the names below, as ``fl.*``) and the command line (:mod:`flosslab.cli`).

The reference's names load on first use, so that ``import flosslab.engine`` works where autograd
is not installed (a GPU machine).
"""
from importlib import import_module

from .core import __version__
from .core.errors import FlosslabError, FrameCollapseWarning, NumericalError
from .core.settings import FAST, set_threads

#: Public names and the module that defines them (loaded on first access).
_HOMES = {
    "core.conventions": ("DYNAMIC_PARAMS", "autonomous", "default_transient", "init_rnn",
                         "random_bits", "random_frame", "random_state"),
    "core.records": ("FlossHistory", "FlossState", "SpectrumHistory", "TrainHistory"),
    "core.measures": ("effective_rank", "log10_condition_number"),
    "core.tasks": ("TASKS", "TaskBatch", "accuracy", "make_batch", "task_lags"),
    "core.trainconfig": ("SCHEDULES", "TrainConfig"),
    "reference.diagnostics": ("condition_number_curve", "log_singular_values",
                              "log_singular_values_from_jacobians", "state_gradient_norms",
                              "weight_gradient"),
    "reference.flossing": ("floss", "flossing_loss"),
    "reference.lyapunov": ("log_det_average", "lyapunov_spectrum"),
    "reference.model": ("jacobian", "jacobian_apply", "readout", "rnn_step", "run_rnn",
                        "tanh_slope"),
    "reference.qr": ("qr",),
    "reference.training": ("task_loss", "train"),
}
_LAZY = {name: module for module, names in _HOMES.items() for name in names}

__all__ = ["__version__", "FAST", "FlosslabError", "FrameCollapseWarning", "NumericalError", "set_threads",
           "spectrum_from_jacobians", *sorted(_LAZY)]


def spectrum_from_jacobians(jacobians, n_exponents=None, reorth_every=1, transient: int = 0,
                            frame=None, seed: int = 0, return_history: bool = False):
    """First k Lyapunov exponents of the product ``D_T ... D_1`` of jacobians (T, N, N).

    A numpy (or autograd) array goes to the reference
    (:func:`flosslab.reference.lyapunov.spectrum_from_jacobians`) and gives a numpy array; a torch
    tensor goes to the engine (:func:`flosslab.engine.lyapunov.spectrum_from_jacobians`) and gives
    a differentiable torch tensor.
    """
    if type(jacobians).__module__.startswith("torch"):
        home = import_module(".engine.lyapunov", __name__)
    else:
        home = import_module(".reference.lyapunov", __name__)
    return home.spectrum_from_jacobians(jacobians, n_exponents=n_exponents,
                                        reorth_every=reorth_every, transient=transient, frame=frame,
                                        seed=seed, return_history=return_history)


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
