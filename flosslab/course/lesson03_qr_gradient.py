"""Notebook 03 (differentiating through QR): its computations, figures, dashboards and checkers, in
that order."""
from __future__ import annotations

import html
from functools import lru_cache
from typing import NamedTuple

import autograd.numpy as anp
import ipywidgets as W
import numpy as np
from autograd import grad

from .. import reference
from ..core.conventions import random_frame
from ..core.errors import FlosslabError
from ..core.style import new_figure
from ..core.validate import check_int, check_n_exponents
from .checking import Answer, call, checker, close, run, to_array
from .dashboard_machinery import Dashboard, slider
from .display import legend_outside, rescale, set_line, skip_layout_pass

# --- computations ----------------------------------------------------------------------------------


# The QR's reverse-mode rule (VJP) against finite differences, the closed form of
# d(sum log|R_ii|)/dA against the VJP as A nears rank deficiency, and both through a whole QR
# algorithm (a linear network, where sum_i lambda_i = log|det W|). Each demo takes the student's
# function (``vjp``, ``closed_form``) or, by default, the reference.

class VJPCheck(NamedTuple):
    vjp: np.ndarray
    fd: np.ndarray
    eps_grid: np.ndarray
    errors: np.ndarray              # ||fd - vjp|| / ||vjp|| at each eps

    @property
    def best(self) -> tuple:
        """(smallest relative error, the eps where it occurs)."""
        i = int(np.argmin(self.errors))
        return float(self.errors[i]), float(self.eps_grid[i])


def qr_test_loss(a, weights):
    """sum_i log|R_ii| + sum(weights * Q): a scalar that depends on both QR factors."""
    q, r = reference.qr(a)
    return anp.sum(anp.log(anp.abs(anp.diagonal(r, axis1=-1, axis2=-2)))) + anp.sum(weights * q)


def qr_test_upstream(q, r, weights):
    """The upstream gradients of :func:`qr_test_loss`: dL/dQ = weights, dL/dR = diag(1/R_ii)."""
    return weights, np.diag(1.0 / np.diag(r))


def _check_shape(m, n):
    m = check_int("the number of rows n1", m, minimum=1, maximum=60)
    n = check_int("the number of columns n2", n, minimum=1, maximum=60)
    if n > m:
        raise FlosslabError(f"reduced QR needs n1 >= n2 (a tall or square matrix); got n1={m} "
                            f"rows and n2={n} columns: choose n2 <= n1")
    return m, n


DEFAULT_EPS_GRID = tuple(np.logspace(-12, -1, 23))


@lru_cache(maxsize=64)
def qr_vjp_check(n_rows: int = 6, n_cols: int = 4, seed: int = 0,
                 eps_grid: tuple = DEFAULT_EPS_GRID, vjp=None) -> VJPCheck:
    """Gradient of :func:`qr_test_loss` by a VJP of the QR and by central differences.

    ``vjp(Q, R, Qb, Rb)`` is the rule to test (e.g. the student's); None: autograd through the
    registered :func:`flosslab.reference.qr.qr`. Returns the VJP (m, n), the central-difference
    gradient at each eps (n_eps, m, n) and the relative error at each eps.
    """
    m, n = _check_shape(n_rows, n_cols)
    eps_grid = np.asarray(eps_grid, dtype=float)
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((m, n))
    weights = rng.standard_normal((m, n))
    if vjp is None:
        g = grad(qr_test_loss)(a, weights)
    else:
        q, r = reference.qr(a)          # the factors the loss sees (signs as in qr_test_loss)
        g = np.asarray(vjp(q, r, *qr_test_upstream(q, r, weights)), dtype=float)
    fds = []
    for eps in eps_grid:
        fd = np.zeros_like(a)
        for idx in np.ndindex(*a.shape):
            step = np.zeros_like(a)
            step[idx] = eps
            fd[idx] = (qr_test_loss(a + step, weights) - qr_test_loss(a - step, weights)) / (2 * eps)
        fds.append(fd)
    fds = np.asarray(fds)
    errors = np.linalg.norm((fds - g).reshape(len(eps_grid), -1), axis=1) / np.linalg.norm(g)
    return VJPCheck(g, fds, eps_grid, errors)


def fd_best_over_shapes(shapes=((1, 1), (3, 2), (6, 4), (8, 8), (12, 5), (12, 12)), vjp=None):
    """For each (m, n): the smallest relative error of the central difference and its eps.
    Returns a list of (m, n, error, eps)."""
    return [(m, n) + qr_vjp_check(m, n, vjp=vjp).best for m, n in shapes]


class ConditioningCurve(NamedTuple):
    sigma_min: np.ndarray           # smallest singular value of A (the largest is 1)
    norm_vjp: np.ndarray            # ||VJP (autograd through qr)||_F, about 1/sigma_min
    err_vjp: np.ndarray             # ||VJP - U S^-1 V^T|| / ||U S^-1 V^T|| (A = U S V^T)
    err_closed: np.ndarray          # the same for closed_form(A) (NaN where it failed)
    failed: tuple                   # (sigma_min, error message) where closed_form raised


def vjp_logdet_gradient(a):
    """d(sum log|R_ii|)/dA by autograd through the registered qr (its VJP)."""

    return grad(lambda x: anp.sum(anp.log(anp.abs(anp.diagonal(reference.qr(x)[1], axis1=-1,
                                                                           axis2=-2)))))(a)


def closed_form_logdet_gradient(a):
    """A (A^T A)^{-1} (= A^{-T} for square A) through the normal equations: loses accuracy like
    the square of A's condition number."""
    a = np.asarray(a, dtype=float)
    return np.linalg.solve(a.T @ a, a.T).T


def stable_logdet_gradient(a):
    """The same closed form as Q R^{-T} (A = QR, so A (A^T A)^{-1} = Q R^{-T}): one triangular
    solve, accuracy like A's condition number."""
    from scipy.linalg import solve_triangular
    q, r = np.linalg.qr(np.asarray(a, dtype=float))
    return solve_triangular(r, q.T, lower=False).T


@lru_cache(maxsize=64)
def logdet_gradient_vs_conditioning(n_rows: int = 6, n_cols: int = 4,
                                    log10_sigma_min: tuple = tuple(np.arange(-12.0, 0.25, 0.5)),
                                    seed: int = 0, closed_form=None) -> ConditioningCurve:
    """d(sum log|R_ii|)/dA for A = U S V^T (m x n) with singular values spread geometrically from 1
    down to sigma_min, whose exact gradient is Phi S^{-1} Psi^T: relative errors of the VJP (autograd
    through qr) and of ``closed_form(A)`` (default: the normal equations,
    :func:`closed_form_logdet_gradient`). Where ``closed_form`` raises (A^T A singular to working
    precision) or returns NaN/inf its error is NaN and the reason is kept in ``failed``. The
    rounding of A alone changes its gradient by about 1e-16 / sigma_min (relative)."""
    m, n = _check_shape(n_rows, n_cols)
    closed_form = closed_form or closed_form_logdet_gradient
    sig = 10.0 ** np.asarray(log10_sigma_min, dtype=float)
    rng = np.random.default_rng(seed)
    u, _ = np.linalg.qr(rng.standard_normal((m, n)))
    v, _ = np.linalg.qr(rng.standard_normal((n, n)))
    rows, failed = [], []
    for s_min in sig:
        s = np.geomspace(1.0, s_min, n) if n > 1 else np.array([s_min])
        a = (u * s) @ v.T
        exact = (u / s) @ v.T
        scale = np.linalg.norm(exact)
        g = vjp_logdet_gradient(a)
        try:
            with np.errstate(all="ignore"):
                c = np.asarray(closed_form(a), dtype=float)
            err = np.linalg.norm(c - exact) / scale
            if not np.isfinite(err):
                raise FloatingPointError("NaN or inf in the result")
        except (np.linalg.LinAlgError, FloatingPointError, ValueError) as problem:
            err = np.nan
            failed.append((float(s_min), f"{type(problem).__name__}: {problem}"))
        rows.append((np.linalg.norm(g), np.linalg.norm(g - exact) / scale, err))
    nv, ev, ec = (np.asarray(x) for x in zip(*rows))
    return ConditioningCurve(sig, nv, ev, ec, tuple(failed))


class LinearNetworkGradient(NamedTuple):
    w: np.ndarray
    n_exponents: int
    value: float                    # sum_{i <= k} lambda_i
    log_det: float                  # log|det W|
    autograd: np.ndarray            # d value / dW through every QR of the algorithm (N x N)
    directions_autograd: np.ndarray  # <autograd, E_j> for random unit directions E_j
    directions_fd: np.ndarray       # (value(W + eps E_j) - value(W - eps E_j)) / 2 eps, eps 1e-6
    closed: np.ndarray | None       # closed_form(W) (= W^{-T}) when k = N, else None
    steps: np.ndarray               # running estimate of sum_{i <= k} lambda_i
    running: np.ndarray


@lru_cache(maxsize=64)
def linear_network_gradient(n_units: int = 6, n_exponents: int = 6, n_steps: int = 40,
                            seed: int = 0, closed_form=None,
                            n_directions: int = 8) -> LinearNetworkGradient:
    """The QR algorithm on a linear network h_t = W h_{t-1} (D_t = W at every step): the gradient
    of sum_{i <= k} lambda_i with respect to W by autograd through all its QRs, checked by
    central differences along random directions, and (k = N, where the sum is log|det W|
    exactly) against ``closed_form(W)`` (default :func:`stable_logdet_gradient`)."""

    n = check_int("the number of units N", n_units, minimum=1, maximum=16)
    k = check_n_exponents(n_exponents, n)
    n_steps = check_int("the number of steps T", n_steps, minimum=2, maximum=400)
    rng = np.random.default_rng(seed)
    w = rng.normal(0.0, 1.0 / np.sqrt(n), size=(n, n))
    frame = random_frame(n, k, seed)
    transient = n_steps // 10

    def total(w_):
        return anp.sum(reference.accumulate_spectrum(lambda t, q: w_ @ q, n_steps, frame, 1,
                                                     transient))

    g = grad(total)(w)
    directions = rng.standard_normal((n_directions, n, n))
    directions /= np.linalg.norm(directions, axis=(1, 2), keepdims=True)
    eps = 1e-6
    fd = np.asarray([(total(w + eps * e) - total(w - eps * e)) / (2 * eps) for e in directions])
    _, hist = reference.accumulate_spectrum(lambda t, q: w @ q, n_steps, frame, 1, transient,
                                            return_history=True)
    closed = np.asarray((closed_form or stable_logdet_gradient)(w), dtype=float) \
        if k == n else None
    return LinearNetworkGradient(w, k, float(total(w)), float(np.linalg.slogdet(w)[1]), g,
                                 np.einsum("ij,dij->d", g, directions), fd, closed, hist.steps,
                                 hist.estimates.sum(axis=1))


# --- figures ---------------------------------------------------------------------------------------


ROUND_OFF = float(np.finfo(float).eps)


def vjp_check_figure(vjp, fd, eps_grid, errors, eps):
    """Left: finite-difference against VJP entries at ``eps``. Right: error against eps (log-log),
    with the best point marked and the two regimes' slopes (eps^2 truncation, 1/eps round-off)."""
    fig, (ax_s, ax_e) = new_figure(ncols=2, width=10.0, height=3.6)
    (scatter,) = ax_s.plot([], [], "o", ms=4, color="tab:blue")
    (diag,) = ax_s.plot([], [], "-", lw=0.8, color="k")
    ax_s.set_xlabel("entry of the VJP")
    ax_s.set_ylabel("same entry by central difference")
    ax_s.set_title("Gradient entries (on the line: they agree)")
    (curve,) = ax_e.loglog([], [], "o-", ms=3, color="tab:gray", label="relative error")
    (marker,) = ax_e.loglog([], [], "o", color="tab:red", ms=9, label=r"the slider's $\epsilon$")
    (best,) = ax_e.loglog([], [], "*", color="k", ms=12, label="best")
    (trunc,) = ax_e.loglog([], [], ":", color="tab:green", lw=1.5, label=r"$\propto\epsilon^2$")
    (roundoff,) = ax_e.loglog([], [], ":", color="tab:purple", lw=1.5,
                              label=r"$\propto 10^{-16}/\epsilon$")
    ax_e.set_xlabel(r"finite-difference step $\epsilon$")
    ax_e.set_ylabel(r"$\|\mathrm{FD} - \mathrm{VJP}\| / \|\mathrm{VJP}\|$")
    ax_e.set_title("Truncation against round-off")
    ax_e.legend(loc="upper center", ncols=2, fontsize="small")
    artists = {"ax_scatter": ax_s, "ax_error": ax_e, "scatter": scatter, "diagonal": diag,
               "curve": curve, "marker": marker, "best": best, "trunc": trunc,
               "roundoff": roundoff, "fig": fig}
    update_vjp_check(artists, vjp, fd, eps_grid, errors, eps)
    return fig, artists


def update_vjp_check(artists, vjp, fd, eps_grid, errors, eps):
    skip_layout_pass(artists["fig"])
    vjp, fd = np.ravel(vjp), np.ravel(fd)
    set_line(artists["scatter"], vjp, fd)
    lo, hi = float(min(vjp.min(), fd.min())), float(max(vjp.max(), fd.max()))
    set_line(artists["diagonal"], [lo, hi], [lo, hi])
    eps_grid, errors = np.asarray(eps_grid), np.asarray(errors)
    set_line(artists["curve"], eps_grid, errors)
    err_at = np.interp(np.log(eps), np.log(eps_grid), np.log(errors))
    set_line(artists["marker"], [eps], [np.exp(err_at)])
    i = int(np.argmin(errors))
    set_line(artists["best"], [eps_grid[i]], [errors[i]])
    big = eps_grid >= 1e-3                      # truncation regime: anchored at the largest eps
    set_line(artists["trunc"], eps_grid[big], errors[-1] * (eps_grid[big] / eps_grid[-1]) ** 2)
    small = eps_grid <= 1e-8                    # round-off regime
    set_line(artists["roundoff"], eps_grid[small], errors[0] * eps_grid[0] / eps_grid[small])
    rescale(artists["ax_scatter"])
    rescale(artists["ax_error"])
    artists["ax_error"].set_ylim(top=max(errors.max(), 1e-2) * 1e3)


def conditioning_figure(curve, sigma: float):
    """Left: ||d(sum log|R_ii|)/dA|| against sigma_min, with 1/sigma_min. Right: relative errors
    of the VJP and of the closed form against sigma_min, with 1e-16/sigma and 1e-16/sigma^2."""
    fig, (ax_n, ax_e) = new_figure(ncols=2, width=10.0, height=3.6)
    art = {"axes": (ax_n, ax_e), "fig": fig}
    art["norm"], = ax_n.loglog([], [], "o-", ms=3, color="tab:blue", label="VJP")
    art["inverse"], = ax_n.loglog([], [], ":", color="k", label=r"$1/\sigma_{min}$")
    art["norm_marker"], = ax_n.loglog([], [], "o", ms=9, color="tab:red")
    ax_n.set(xlabel=r"smallest singular value $\sigma_{min}$ of $A$ (largest: 1)",
             ylabel=r"$\|\partial\, \Sigma_i \log|R_{ii}|\, / \partial A\|$", title="Size of the gradient")
    ax_n.legend(loc="upper right")
    art["err_vjp"], = ax_e.loglog([], [], "o-", ms=3, color="tab:blue", label="VJP (through qr)")
    art["err_closed"], = ax_e.loglog([], [], "s-", ms=3, color="tab:orange",
                                     label="your closed form")
    art["guide1"], = ax_e.loglog([], [], ":", color="tab:blue", label=r"$10^{-16}/\sigma_{min}$")
    art["guide2"], = ax_e.loglog([], [], ":", color="tab:orange",
                                 label=r"$10^{-16}/\sigma_{min}^2$")
    art["err_marker"], = ax_e.loglog([], [], "o", ms=9, color="tab:red")
    ax_e.set(xlabel=r"$\sigma_{min}$", ylabel=r"relative error against $\Phi S^{-1} \Psi^\top$",
             title="Accuracy of the two gradients")
    legend_outside(ax_e, "right")       # inside, n2 = 1 puts both errors (at round-off) under it
    update_conditioning(art, curve, sigma)
    return fig, art


def update_conditioning(art, curve, sigma: float, closed_label: str = "your closed form"):
    skip_layout_pass(art["fig"])
    s = np.asarray(curve.sigma_min)
    set_line(art["norm"], s, curve.norm_vjp)
    set_line(art["inverse"], s, 1.0 / s)
    i = int(np.argmin(np.abs(np.log(s) - np.log(sigma))))
    set_line(art["norm_marker"], [s[i]], [curve.norm_vjp[i]])
    floor = ROUND_OFF / 10
    set_line(art["err_vjp"], s, np.maximum(curve.err_vjp, floor))
    ok = np.isfinite(curve.err_closed)
    set_line(art["err_closed"], s[ok], np.maximum(curve.err_closed[ok], floor))
    art["err_closed"].set_label(closed_label)
    set_line(art["guide1"], s, np.minimum(1e-16 / s, 1.0))
    set_line(art["guide2"], s, np.minimum(1e-16 / s ** 2, 1.0))
    y = curve.err_closed[i] if ok[i] else curve.err_vjp[i]
    set_line(art["err_marker"], [s[i]], [max(y, floor)])
    legend_outside(art["axes"][1], "right")
    for ax in art["axes"]:
        rescale(ax)
    art["axes"][1].set_ylim(floor / 2, 10.0)


def linear_network_figure(result):
    """Left: directional derivatives of sum_{i<=k} lambda_i, autograd through every QR against
    central differences (and, for k = N, entries of autograd against the closed form). Right: the
    running estimate of sum_{i<=k} lambda_i against the steps, and log|det W|."""
    fig, (ax_s, ax_r) = new_figure(ncols=2, width=10.0, height=3.6)
    art = {"axes": (ax_s, ax_r), "fig": fig}
    art["dirs"], = ax_s.plot([], [], "o", ms=6, color="tab:blue",
                             label="random directions: FD")
    art["closed"], = ax_s.plot([], [], "x", ms=5, color="tab:red",
                               label=r"entries: closed form $W^{-\top}$")
    art["diag"], = ax_s.plot([], [], "-", lw=0.8, color="k")
    ax_s.set(xlabel="autograd through all the QRs", ylabel="finite differences / closed form",
             title=r"Gradient of $\Sigma_{i \leq k}\,\lambda_i$ with respect to $W$")
    art["running"], = ax_r.plot([], [], "-", color="tab:blue",
                                label=r"running $\Sigma_{i \leq k}\,\lambda_i$")
    art["logdet"] = ax_r.axhline(0.0, color="tab:red", ls="--", label=r"$\log|\det W|$")
    ax_r.set(xlabel="steps accumulated", ylabel="per step", title="The QR algorithm on D_t = W")
    update_linear_network(art, result)
    return fig, art


def update_linear_network(art, result):
    skip_layout_pass(art["fig"])
    ax_s, ax_r = art["axes"]
    set_line(art["dirs"], result.directions_autograd, result.directions_fd)
    xs = [result.directions_autograd]
    if result.closed is not None:
        set_line(art["closed"], np.ravel(result.autograd), np.ravel(result.closed))
        xs.append(np.ravel(result.autograd))
    else:
        set_line(art["closed"], [], [])
    art["closed"].set_visible(result.closed is not None)
    allx = np.concatenate(xs)
    set_line(art["diag"], [allx.min(), allx.max()], [allx.min(), allx.max()])
    handles = [art["dirs"]] + ([art["closed"]] if result.closed is not None else [])
    ax_s.legend(handles=handles, loc="upper left", fontsize="small")
    set_line(art["running"], result.steps, result.running)
    art["logdet"].set_ydata([result.log_det] * 2)
    ax_r.legend(loc="lower right", fontsize="small")
    ax_r.set_title(fr"The QR algorithm on $D_t = W$, $k = {result.n_exponents}$ of "
                   fr"$N = {result.w.shape[0]}$")
    rescale(ax_s)
    rescale(ax_r)
    lo, hi = ax_r.get_ylim()
    ax_r.set_ylim(min(lo, result.log_det - 0.2), max(hi, result.log_det + 0.2))


# --- dashboards ------------------------------------------------------------------------------------


def qr_gradient_dashboard(n_rows=6, n_cols=4, log10_eps=-6.0, vjp=None):
    """Shape of A and the finite-difference step -> a VJP of the QR (``vjp(Q, R, Qb, Rb)``, e.g.
    the student's; default: autograd through the registered qr) against central differences."""
    controls = {
        "n_rows": slider(W.IntSlider, "rows n₁", n_rows, 1, 12),
        "n_cols": slider(W.IntSlider, "columns n₂", n_cols, 1, 12),
        "log10_eps": slider(W.FloatSlider, "log10 step eps", log10_eps, -12.0, -1.0, 0.5,
                            live=True),
    }

    def compute(n_rows, n_cols, log10_eps):
        check = qr_vjp_check(n_rows, n_cols, vjp=vjp)
        i = int(np.argmin(np.abs(np.log10(check.eps_grid) - log10_eps)))
        return check, i

    def draw(art, data, values):
        check, i = data
        update_vjp_check(art, check.vjp, check.fd[i], check.eps_grid, check.errors,
                               check.eps_grid[i])

    def make(data, values):
        check, i = data
        return vjp_check_figure(check.vjp, check.fd[i], check.eps_grid, check.errors,
                                      check.eps_grid[i])

    def note(data, values):
        check, i = data
        err, eps = check.best
        return (f"at eps = {check.eps_grid[i]:.1e}: relative error {check.errors[i]:.1e}; "
                f"best: {err:.1e} at eps = {eps:.1e}")

    return Dashboard(controls, compute, make, draw, height="380px", note=note)


def conditioning_dashboard(n_rows=6, n_cols=4, log10_sigma_min=-4.0, closed_form=None,
                           closed_label="your closed form"):
    """Shape of A and its smallest singular value -> the size of d(sum log|R_ii|)/dA and the
    accuracy of the VJP and of ``closed_form`` (default: the normal equations)."""
    controls = {
        "n_rows": slider(W.IntSlider, "rows n₁", n_rows, 1, 12),
        "n_cols": slider(W.IntSlider, "columns n₂", n_cols, 1, 12),
        "log10_sigma_min": slider(W.FloatSlider, "log10 smallest singular value",
                                  log10_sigma_min, -12.0, 0.0, 0.5, live=True),
    }

    def compute(n_rows, n_cols, log10_sigma_min):
        return logdet_gradient_vs_conditioning(n_rows, n_cols, closed_form=closed_form), \
            10.0 ** float(log10_sigma_min)

    def make(data, values):
        fig, art = conditioning_figure(data[0], data[1])
        update_conditioning(art, data[0], data[1], closed_label)
        return fig, art

    def note(data, values):
        curve, sigma = data
        i = int(np.argmin(np.abs(np.log(curve.sigma_min) - np.log(sigma))))
        closed = (f"{closed_label}: {curve.err_closed[i]:.1e}" if np.isfinite(curve.err_closed[i])
                  else f"{closed_label} failed here")
        failed = [s for s, _ in curve.failed]
        tail = (f"; {closed_label} failed ({html.escape(curve.failed[0][1])}) at {len(failed)} "
                f"of the {len(curve.sigma_min)} values of sigma_min, the largest "
                f"{max(failed):.1e}" if failed else "")
        return (f"sigma_min = {curve.sigma_min[i]:.1e}: gradient norm {curve.norm_vjp[i]:.2e}; "
                f"relative errors: VJP {curve.err_vjp[i]:.1e}, {closed}{tail}")

    return Dashboard(controls, compute, make,
                     lambda art, data, v: update_conditioning(art, data[0], data[1], closed_label),
                     height="380px", note=note)


def linear_network_dashboard(n_units=6, n_exponents=6, n_steps=40, closed_form=None):
    """N, k, T -> the gradient of sum_{i<=k} lambda_i of a linear network (D_t = W) by autograd
    through every QR, against central differences and, for k = N, ``closed_form(W)`` = W^{-T}."""
    controls = {
        "n_units": slider(W.IntSlider, "units N", n_units, 2, 10),
        "n_exponents": slider(W.IntSlider, "exponents k", n_exponents, 1, 10),
        "n_steps": slider(W.IntSlider, "steps T", n_steps, 10, 100, 10),
    }

    def compute(n_units, n_exponents, n_steps):
        return linear_network_gradient(n_units, n_exponents, n_steps, closed_form=closed_form)

    def note(r, values):
        scale = np.abs(r.directions_fd).max()
        fd = np.abs(r.directions_autograd - r.directions_fd).max() / scale
        text = (f"sum of the first {r.n_exponents} exponents {r.value:.6f} per step; "
                f"autograd against finite differences: {fd:.1e} (relative)")
        if r.closed is not None:
            rel = np.abs(r.autograd - r.closed).max() / np.abs(r.closed).max()
            text += (f"; k = N: log|det W| = {r.log_det:.6f}, and the gradient equals your "
                     f"closed form to {rel:.1e}")
        return text

    return Dashboard(controls, compute, lambda r, v: linear_network_figure(r),
                     lambda art, r, v: update_linear_network(art, r), height="380px", note=note)


# --- checkers --------------------------------------------------------------------------------------


def reference_logdet_gradient(a):
    """d/dA of sum_i log|R_ii| by autograd through :func:`flosslab.reference.qr.qr` (independent
    of the closed form)."""
    return grad(lambda x: anp.sum(anp.log(anp.abs(anp.diagonal(reference.qr(x)[1], axis1=-1,
                                                                           axis2=-2)))))(a)


def _square_or_tall(rng_seed: int, case: int, max_cols: int):
    """(rng, A): a Gaussian A with 2 <= n < max_cols columns, square on even cases, 1-3 rows
    taller on odd ones; the rng goes on for further draws."""
    rng = np.random.default_rng(rng_seed)
    n = int(rng.integers(2, max_cols))
    m = n if case % 2 == 0 else n + int(rng.integers(1, 4))
    return rng, rng.standard_normal((m, n))


@checker(closed_form_logdet_gradient)
def check_logdet_gradient(func, n_cases: int = 4) -> bool:
    """``func(A)`` -> d(sum log|R_ii|)/dA for square or tall A (m >= n)."""
    name = "logdet_gradient"

    def cases():
        for case in range(n_cases):
            _, a = _square_or_tall(400 + case, case, 6)
            m, n = a.shape
            want = reference_logdet_gradient(a)
            got = to_array(name, call(name, func, a), want.shape, "the gradient (shaped like A)")
            if close(got, want, rtol=1e-6, atol=1e-8):
                continue
            if m == n and close(got, np.linalg.inv(a)):
                raise Answer("close: it is the inverse TRANSPOSED, A^{-T}.")
            if close(got, -want):
                raise Answer("the sign is flipped.")
            shape = "square" if m == n else "tall"
            raise Answer(f"wrong on a {shape} {m}x{n} matrix. For square A it is A^{{-T}}; for "
                         "tall A think of A (A^T A)^{-1} (sum log|R_ii| = 1/2 log det(A^T A)).")
    return run(name, cases)


def reference_copyltu(m):
    """The lower triangle of M (with its diagonal) mirrored onto the upper triangle."""
    m = np.asarray(m, dtype=float)
    return np.tril(m) + np.tril(m, -1).T


@checker(reference_copyltu)
def check_copyltu(func, n_cases: int = 4) -> bool:
    """``func(M)`` -> copyltu(M): M's lower triangle and diagonal, mirrored to the upper triangle."""
    name = "copyltu"

    def cases():
        for case in range(n_cases):
            rng = np.random.default_rng(420 + case)
            n = [1, 2, 4, 5][case % 4]
            m = rng.standard_normal((n, n))
            want = reference_copyltu(m)
            got = to_array(name, call(name, func, m.copy()), want.shape,
                           "copyltu(M) (shaped like M)")
            if close(got, want):
                continue
            if close(got, np.triu(m) + np.triu(m, 1).T):
                raise Answer("that mirrors the UPPER triangle onto the lower one; copyltu keeps the "
                             "lower triangle: np.tril(M) + np.tril(M, -1).T.")
            if close(got, np.tril(m) + np.tril(m).T):
                raise Answer("the diagonal is counted twice: mirror the STRICT lower triangle "
                             "(np.tril(M, -1)).")
            if close(got, np.tril(m)):
                raise Answer("keep the lower triangle AND copy it onto the upper one (the result "
                             "is symmetric).")
            if close(got, (m + m.T) / 2):
                raise Answer("that is the symmetric part of M; copyltu takes the lower triangle "
                             "only.")
            raise Answer("copyltu(M) = np.tril(M) + np.tril(M, -1).T: symmetric, equal to M on "
                         "and below the diagonal.")
    return run(name, cases)


def reference_qr_vjp(q, r, qb, rb):
    """The registered rule of :mod:`flosslab.reference.qr` applied to (Qb, Rb)."""
    return reference.qr_vjp((q, r), q @ r)((qb, rb))


@checker(reference_qr_vjp)
def check_qr_vjp(func, n_cases: int = 4) -> bool:
    """``func(Q, R, Qb, Rb)`` -> Ab = (Qb + Q copyltu(M)) R^{-T}, M = R Rb^T - Qb^T Q, for the
    reduced QR of a square or tall A; compared with the registered rule (itself tested against
    central differences in the tests)."""
    name = "qr_vjp"

    def cases():
        for case in range(n_cases + 2):
            rng, a = _square_or_tall(440 + case, case, 5)
            if case >= n_cases:             # the demos' extremes: A 1 x 1 and 12 x 5
                a = rng.standard_normal([(1, 1), (12, 5)][case - n_cases])
            m, n = a.shape
            q, r = np.linalg.qr(a)
            qb, rb = rng.standard_normal((m, n)), np.triu(rng.standard_normal((n, n)))
            want = reference_qr_vjp(q, r, qb, rb)
            got = to_array(name, call(name, func, q.copy(), r.copy(), qb.copy(), rb.copy()),
                           a.shape, "Ab (shaped like A)")
            if close(got, want, rtol=1e-6, atol=1e-9):
                continue
            mm = r @ rb.T - qb.T @ q
            solve = lambda b, rr: np.linalg.solve(rr, b.T).T           # noqa: E731  b rr^{-T}
            wrong = {
                "apply R^{-T} (solve with R transposed: Ab R^T = B), not R^{-1}":
                    (qb + q @ reference_copyltu(mm)) @ np.linalg.inv(r),
                "M = R Rb^T - Qb^T Q: the two terms have opposite signs to yours":
                    solve(qb + q @ reference_copyltu(-mm), r),
                "copyltu mirrors the LOWER triangle of M (yours mirrors the upper one)":
                    solve(qb + q @ (np.triu(mm) + np.triu(mm, 1).T), r),
                "the term Qb itself is missing: Ab = (Qb + Q copyltu(M)) R^{-T}":
                    solve(q @ reference_copyltu(mm), r),
                "M = R Rb^T - Qb^T Q (R times Rb transposed, then Qb transposed times Q)":
                    solve(qb + q @ reference_copyltu(rb @ r.T - q.T @ qb), r),
            }
            for hint, value in wrong.items():
                if close(got, value, rtol=1e-6, atol=1e-9):
                    raise Answer(hint + ".")
            raise Answer("M = R Rb^T - Qb^T Q; Ab = (Qb + Q copyltu(M)) R^{-T}, with R^{-T} "
                         "applied by a solve (np.linalg.solve(R, B.T).T or "
                         "scipy.linalg.solve_triangular).")
    return run(name, cases)
