"""Torch cells (autodiff Jacobians) against the analytic RNN path and finite differences; device
and dtype switches; the benchmark's rows."""
import numpy as np
import pytest
import torch

import flosslab as fl
from flosslab.core.errors import FlosslabError
from flosslab.engine import cells as C, lyapunov as L, model as M
from flosslab.engine.device import resolve_device, resolve_dtype


def _rnn_cell_like(pt):
    cell = torch.nn.RNNCell(1, pt["W"].shape[0]).double()
    with torch.no_grad():
        cell.weight_hh.copy_(pt["W"])
        cell.weight_ih.copy_(pt["U"])
        cell.bias_ih.copy_(pt["b"])
        cell.bias_hh.zero_()
    return cell


def test_autodiff_path_matches_analytic_rnn():
    pt = M.init_rnn(12, 1.5, seed=2)
    pt["W"].requires_grad_()
    x = fl.random_bits(60, 1, 1)
    analytic = L.lyapunov_spectrum(pt, x, n_exponents=6, reorth_every=2)
    cell = _rnn_cell_like(pt)
    via_cell = C.cell_spectrum(cell, x, n_exponents=6, reorth_every=2)
    via_step = C.cell_spectrum(C.rnn_step_function(pt), x, n_exponents=6, reorth_every=2,
                               state_dim=12)
    np.testing.assert_allclose(via_cell.detach().numpy(), analytic.detach().numpy(), atol=1e-10)
    np.testing.assert_allclose(via_step.detach().numpy(), analytic.detach().numpy(), atol=1e-10)
    g_analytic = torch.autograd.grad((analytic ** 2).mean(), pt["W"])[0]
    g_cell = torch.autograd.grad((via_cell ** 2).mean(), cell.weight_hh)[0]
    assert float((g_cell - g_analytic).abs().max()) <= 1e-8 * float(g_analytic.abs().max())


@pytest.mark.parametrize("cls", [torch.nn.GRUCell, torch.nn.LSTMCell])
def test_cell_jacobians_match_finite_differences(cls):
    torch.manual_seed(0)
    cell = cls(2, 5).double()
    step = C.cell_step_function(cell)
    d = C.state_size(cell)
    assert d == (10 if cls is torch.nn.LSTMCell else 5)
    x = torch.as_tensor(np.random.default_rng(0).integers(0, 2, (4, 2)), dtype=torch.float64)
    z0 = torch.linspace(-0.5, 0.5, d, dtype=torch.float64)
    jac = C.cell_jacobians(step, x, z0)
    with torch.no_grad():
        zs = C.cell_trajectory(step, x, z0)
        z = zs[1]                             # Jacobian at step 2 is taken at z_1
        eps = 1e-6
        fd = torch.stack([(step(z + eps * e, x[2]) - step(z - eps * e, x[2])) / (2 * eps)
                          for e in torch.eye(d, dtype=torch.float64)], dim=1)
    np.testing.assert_allclose(jac[2].detach().numpy(), fd.numpy(), atol=1e-8)


def test_lstm_spectrum_from_dense_jacobians_and_flossing_gradient():
    torch.manual_seed(1)
    cell = torch.nn.LSTMCell(1, 6).double()
    x = fl.random_bits(40, 1, 0)
    lam = C.cell_spectrum(cell, x, n_exponents=4, transient=5)
    z0 = torch.as_tensor(np.random.default_rng(1).uniform(-1, 1, 12))
    jac = C.cell_jacobians(C.cell_step_function(cell), torch.as_tensor(x), z0).detach()
    ref = fl.spectrum_from_jacobians(jac.numpy(), 4, transient=5)
    np.testing.assert_allclose(lam.detach().numpy(), ref, atol=1e-10)
    loss = C.cell_flossing_loss(cell, x, 4, transient=5)
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in cell.parameters())


def test_cell_errors():
    with pytest.raises(FlosslabError, match="RNNCell"):
        C.cell_spectrum(torch.nn.Linear(3, 3), seq_len=5)
    with pytest.raises(FlosslabError, match="state size"):
        C.cell_spectrum(lambda z, x: z, seq_len=5)


def test_device_and_dtype_switches():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device(None).type == "cpu"
    with pytest.raises(FlosslabError, match="cpu, cuda, auto"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(FlosslabError, match="no GPU"):
            resolve_device("cuda")
    assert resolve_dtype("float32") == torch.float32 and resolve_dtype(None) == torch.float64
    with pytest.raises(FlosslabError):
        resolve_dtype("float16")
    p = M.init_rnn(5, dtype="float32", device="auto")
    assert p["W"].dtype == torch.float32 and p["W"].device.type == expected


def test_benchmark_rows_small():
    from flosslab.engine.bench import ensemble_case, single_case
    row = single_case("tiny", 12, 6, 40, torch.device("cpu"), torch.float64, repeats=1)
    assert {"case", "baseline_ms", "engine_ms", "speedup", "max_abs_dlambda"} <= set(row)
    assert row["max_abs_dlambda"] < 1e-8 and row["engine_ms"] > 0
    if torch.get_num_threads() > 1:      # the baseline on one thread too, thread count restored
        before = torch.get_num_threads()
        row = single_case("tiny", 12, 6, 40, torch.device("cpu"), torch.float64, repeats=1)
        assert row["speedup_vs_1thread"] == row["baseline_1thread_ms"] / row["engine_ms"]
        assert torch.get_num_threads() == before
    erow = ensemble_case(3, 10.0, torch.device("cpu"), torch.float64, 1, n=10, k=5, t=30,
                         transient=5)
    assert erow["case"] == "ensemble_E3" and erow["max_abs_dlambda"] < 1e-8
    assert erow["baseline_ms"] == 30.0
