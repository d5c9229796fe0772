"""flosslab's torch engine: the reference's mathematics on CPU or GPU, float32 or float64, for one
network, batched ensembles of networks, or any torch recurrent cell.

Mirrors the numpy/autograd reference module by module (same names, arguments and order of steps):
:mod:`.model`, :mod:`.lyapunov`, :mod:`.diagnostics`, :mod:`.flossing`, :mod:`.training`; plus what
only torch needs: :mod:`.device` (CPU/CUDA switch), :mod:`.orthonormalize` (Householder QR,
Cholesky-QR2), :mod:`.recursion` (the RNN's fused recursion with a hand-written backward),
:mod:`.workspace` (its recycled CPU buffers), :mod:`.ensemble` (stacked networks, chunks),
:mod:`.cells` (any torch cell) and :mod:`.bench` (the benchmark). Nothing here imports autograd: the
engine runs where only torch and numpy are installed.
"""
from .cells import (
                    cell_flossing_loss,
                    cell_jacobians,
                    cell_spectrum,
                    cell_step_function,
                    cell_trajectory,
                    floss_cell,
                    rnn_step_function,
                    state_size,
)
from .device import describe_device, resolve_device, resolve_dtype
from .diagnostics import condition_number_curve, log_singular_values, state_gradient_norms
from .ensemble import (
                    default_chunk,
                    ensemble_spectrum,
                    floss_in_chunks,
                    init_ensemble,
                    stack_params,
                    unstack_params,
)
from .flossing import exponent_loss, floss, flossing_loss
from .lyapunov import accumulate_spectrum, lyapunov_spectrum, spectrum_from_jacobians
from .model import init_rnn, readout, rnn_step, run_rnn, tanh_slope, to_numpy, to_torch
from .orthonormalize import cholesky_qr2, householder_qr
from .training import bce, task_loss, train, train_members

__all__ = [
    "cell_flossing_loss", "cell_jacobians", "cell_spectrum", "cell_step_function",
    "cell_trajectory", "floss_cell", "rnn_step_function", "state_size",
    "describe_device", "resolve_device", "resolve_dtype",
    "condition_number_curve", "log_singular_values", "state_gradient_norms",
    "default_chunk", "ensemble_spectrum", "floss_in_chunks", "init_ensemble", "stack_params",
    "unstack_params", "exponent_loss", "floss", "flossing_loss", "accumulate_spectrum",
    "lyapunov_spectrum", "spectrum_from_jacobians", "init_rnn", "readout", "rnn_step", "run_rnn",
    "tanh_slope", "to_numpy", "to_torch", "cholesky_qr2", "householder_qr", "bce", "task_loss",
    "train", "train_members",
]
