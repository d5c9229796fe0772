"""Bad input and numerical trouble at the API boundary, in both backends: a FlosslabError (bad
input) or NumericalError (numerical trouble) whose text says what was wrong and what is valid,
never numpy's, torch's or Python's own exception. The cases the issue quoted come first."""
import numpy as np
import pytest
import torch

import flosslab as fl
from flosslab import engine as E
from flosslab.core.errors import FlosslabError, NumericalError


def net(n=5, **kw):
    return fl.init_rnn(n, 1.2, seed=0, **kw)


def without(p, name):
    return {k: v for k, v in p.items() if k != name}


CALLS = {
    "reference spectrum": lambda p: fl.lyapunov_spectrum(p, seq_len=30),
    "engine spectrum": lambda p: E.lyapunov_spectrum(E.to_torch(p), seq_len=30),
    "engine generic": lambda p: E.lyapunov_spectrum(E.to_torch(p), seq_len=30, fused=False),
    "reference floss": lambda p: fl.floss(p, n_steps=1, seq_len=20, transient=4),
    "engine floss": lambda p: E.floss(E.to_torch(p), n_steps=1, seq_len=20, transient=4),
    "reference train": lambda p: fl.train(fl.TrainConfig(n_units=5, n_epochs=1, delay=2), p),
    "engine train": lambda p: E.train(fl.TrainConfig(n_units=5, n_epochs=1, delay=2), p),
}


@pytest.mark.parametrize("call", sorted(CALLS))
def test_params_without_u_name_the_missing_array(call):
    """Was KeyError: 'U'."""
    with pytest.raises(FlosslabError, match=r"missing 'U'.*U \(N, n_inputs\).*init_rnn"):
        CALLS[call](without(net(), "U"))


@pytest.mark.parametrize("engine", [False, True])
def test_zero_flossing_steps_return_the_network_unchanged(engine):
    """Was numpy's 'inhomogeneous shape' ValueError; 0 steps is a valid request."""
    p = net()
    if engine:
        new, history = E.floss(E.to_torch(p), n_steps=0, n_exponents=3)
        new = E.to_numpy(new)
    else:
        new, history = fl.floss(p, n_steps=0, n_exponents=3)
    assert all(np.array_equal(new[k], p[k]) for k in p)
    assert history.losses.shape == (0,) and history.spectra.shape == (0, 3)


@pytest.mark.parametrize("call", [
    lambda x: fl.lyapunov_spectrum(net(), x),
    lambda x: fl.run_rnn(net(), x),
    lambda x: E.lyapunov_spectrum(E.to_torch(net()), x),
    lambda x: E.lyapunov_spectrum(E.to_torch(net()), x, fused=False),
    lambda x: E.run_rnn(E.to_torch(net()), x),
])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_inputs_blame_the_inputs_not_the_weights(call, bad):
    """Was 'the network's state became NaN ...; check its weights'."""
    x = np.ones((30, 1))
    x[7, 0] = bad
    with pytest.raises(FlosslabError, match="the inputs contain NaN or inf") as exc:
        call(x)
    assert "weights" not in str(exc.value)


@pytest.mark.parametrize("call", sorted(CALLS))
def test_a_nan_weight_is_named(call):
    """A NaN anywhere in the network (here in the readout V, which the spectrum never touches) is
    numerical trouble named by its array."""
    p = net()
    p["V"] = p["V"].copy()
    p["V"][0, 1] = np.nan
    with pytest.raises(NumericalError, match=r"params\['V'\] contains NaN or inf"):
        CALLS[call](p)


@pytest.mark.parametrize("case, call, message", [
    ("torch params to the reference", lambda: fl.lyapunov_spectrum(E.to_torch(net()), seq_len=9),
     r"numpy reference needs numpy arrays.*to_numpy"),
    ("numpy params to the engine", lambda: E.lyapunov_spectrum(net(), seq_len=9),
     r"torch engine needs tensors.*to_torch"),
    ("a list for W", lambda: fl.lyapunov_spectrum({**net(), "W": net()["W"].tolist()}, seq_len=9),
     r"params\['W'\] must be an array, got list"),
    ("integer W", lambda: fl.lyapunov_spectrum({**net(), "W": np.ones((5, 5), int)}, seq_len=9),
     r"float32 or float64.*int64"),
    ("mixed dtypes", lambda: E.lyapunov_spectrum(
        {**E.to_torch(net()), "U": torch.ones(5, 1, dtype=torch.float32)}, seq_len=9),
     "share one dtype and device"),
    ("h0 of the wrong size", lambda: fl.lyapunov_spectrum(net(), seq_len=9, h0=np.zeros(3)),
     r"h0 must have shape \(5,\), got \(3,\)"),
    ("h0 of the wrong size (engine)",
     lambda: E.lyapunov_spectrum(E.to_torch(net()), seq_len=9, h0=np.zeros(3)),
     r"h0 must have shape \(5,\), got \(3,\)"),
    ("NaN h0", lambda: fl.lyapunov_spectrum(net(), seq_len=9, h0=np.full(5, np.nan)),
     "h0 contains NaN"),
    ("text inputs", lambda: E.lyapunov_spectrum(E.to_torch(net()), "0101"),
     "inputs must be an array of real numbers"),
    ("complex Jacobians", lambda: fl.spectrum_from_jacobians(np.ones((3, 2, 2), complex)),
     "jacobians must be an array of real numbers"),
    ("integer Jacobians (engine)", lambda: fl.spectrum_from_jacobians(torch.ones(3, 2, 2).long()),
     "float32 or float64 tensor"),
    ("a frame of the wrong shape", lambda: E.lyapunov_spectrum(E.to_torch(net()), seq_len=9,
                                                               frame=np.eye(4)),
     r"frame must have shape \(5, 5\)"),
    ("negative seed", lambda: fl.lyapunov_spectrum(net(), seq_len=9, seed=-1), "seed must be >= 0"),
    ("inter_epochs not a sequence", lambda: fl.TrainConfig(inter_epochs=5),
     r"inter_epochs must be a sequence of epochs"),
    ("a dict for the configuration", lambda: fl.train({"task": "copy"}),
     "config must be a TrainConfig"),
    ("a network too large to allocate", lambda: fl.init_rnn(10 ** 6),
     r"N=1000000 units .* 7.45e\+03 GiB; choose a smaller N"),
    ("an ensemble missing W", lambda: E.stack_params([without(net(), "W")] * 2),
     "missing 'W'"),
    ("a task network with two outputs", lambda: fl.train(
        fl.TrainConfig(n_units=5, n_epochs=1, delay=2), net(5, n_outputs=2)),
     r"one input bit and one output.*V \(1, N\)"),
    ("V and c of different lengths", lambda: fl.lyapunov_spectrum(
        {**net(), "c": np.zeros(3)}, seq_len=9), "the same number of outputs"),
    ("mismatched networks trained together", lambda: E.train_members(
        [fl.TrainConfig(n_units=5, n_epochs=1, delay=2)] * 2, [net(5), net(4)]),
     "same sizes"),
])
def test_bad_input_says_what_is_valid(case, call, message):
    with pytest.raises(FlosslabError, match=message):
        call()


@pytest.mark.parametrize("engine", [False, True])
def test_flossing_where_the_gradient_overflows_is_numerical_trouble(engine):
    """W = 3e-309 (subnormal): the exponent log(W) ~ -710 is finite, its derivative 1/W is not.
    Was scipy's 'array must not contain infs or NaNs' (reference) or NaN weights (engine)."""
    p = fl.init_rnn(1, 1.0, n_inputs=0, seed=0)
    p["W"] = np.array([[3e-309]])
    with pytest.raises(NumericalError, match="gradient of the flossing loss became NaN or inf"):
        if engine:
            E.floss(E.to_torch(p), n_steps=1, seq_len=3, transient=0)
        else:
            fl.floss(p, n_steps=1, seq_len=3, transient=0)


@pytest.mark.parametrize("engine", [False, True])
def test_no_derivative_through_a_collapsed_frame(engine):
    """W = 0: exponents -inf (documented, with a warning); asking for their derivative is
    numerical trouble with a message, not NaN gradients or a LAPACK error."""
    p = net()
    p["W"] = np.zeros((5, 5))
    with pytest.warns(fl.FrameCollapseWarning):
        if engine:
            pt = E.to_torch(p, requires_grad=True)
            for fused in (True, False):
                lam = E.lyapunov_spectrum(pt, seq_len=20, n_exponents=2, fused=fused)
                with pytest.raises(NumericalError, match="collapsed.*no derivative"):
                    lam[0].backward()
        else:
            from autograd import grad
            with pytest.raises(NumericalError, match="collapsed.*no derivative"):
                grad(lambda w: fl.lyapunov_spectrum({**p, "W": w}, seq_len=20,
                                                    n_exponents=2)[0])(p["W"])
