"""flosslab's torch engine: the reference's mathematics on CPU or GPU, float32 or float64, for one
network, batched ensembles of networks, or any torch recurrent cell.

Mirrors the numpy/autograd reference function by function (same names, arguments and order of
steps): :mod:`.model`, :mod:`.lyapunov`, :mod:`.flossing`, :mod:`.training`; plus what only torch
needs: :mod:`.device` (CPU/CUDA switch), :mod:`.orthonormalize` (Householder QR, Cholesky-QR2, the
automatic QR interval), :mod:`.recursion` (the RNN's fused recursion with a hand-written backward),
:mod:`.ensemble`, :mod:`.cells` and :mod:`.diagnostics`; :mod:`.workspace` recycles the recursion's CPU buffers.
Nothing here imports autograd: the engine runs where only torch (and numpy) are installed.
"""
from .cells import cell_flossing_loss, cell_jacobians, cell_spectrum, floss_cell, rnn_step_function
from .device import describe_device, resolve_device, resolve_dtype
from .ensemble import (ensemble_spectrum, floss_ensemble, init_ensemble, stack_params,
                       train_ensemble, unstack_params)
from .flossing import floss, flossing_loss
from .lyapunov import accumulate_spectrum, lyapunov_spectrum, spectrum_from_jacobians
from .model import init_rnn, jacobian, jacobian_apply, readout, rnn_step, run_rnn, to_numpy, to_torch
from .orthonormalize import cholesky_qr2, householder_qr
from .training import train, train_members

__all__ = [
    "cell_flossing_loss", "cell_jacobians", "cell_spectrum", "floss_cell", "rnn_step_function",
    "describe_device", "resolve_device", "resolve_dtype",
    "ensemble_spectrum", "floss_ensemble", "init_ensemble", "stack_params", "train_ensemble",
    "unstack_params", "floss", "flossing_loss", "accumulate_spectrum", "lyapunov_spectrum",
    "spectrum_from_jacobians", "init_rnn", "jacobian", "jacobian_apply", "readout", "rnn_step",
    "run_rnn", "to_numpy", "to_torch", "cholesky_qr2", "householder_qr", "train",
    "train_members",
]
