"""The numpy + autograd reference: the method written to be read, every step in plain numpy.

model (the tanh RNN, its stable slope and Jacobian action), qr (reduced QR as an autograd primitive
with its derivative), lyapunov (spectra by repeated QR, the sum rule), diagnostics (gradient norms
through time, singular values and condition number of the long-term Jacobian), flossing (the
flossing loss and loop), training (BPTT with flossing schedules). The torch engine,
:mod:`flosslab.engine`, mirrors these modules name for name.
"""
from .diagnostics import (
                          condition_number_curve,
                          log_singular_values,
                          log_singular_values_from_jacobians,
                          state_gradient_norms,
                          weight_gradient,
)
from .flossing import floss, flossing_loss
from .lyapunov import accumulate_spectrum, log_det_average, lyapunov_spectrum, spectrum_from_jacobians
from .model import jacobian, jacobian_apply, readout, rnn_step, run_rnn, tanh_slope
from .qr import qr, qr_vjp
from .training import task_loss, train

__all__ = [
    "condition_number_curve", "log_singular_values", "log_singular_values_from_jacobians",
    "state_gradient_norms", "weight_gradient", "floss", "flossing_loss", "accumulate_spectrum",
    "log_det_average", "lyapunov_spectrum", "spectrum_from_jacobians", "jacobian",
    "jacobian_apply", "readout", "rnn_step", "run_rnn", "tanh_slope", "qr", "qr_vjp", "task_loss",
    "train",
]
