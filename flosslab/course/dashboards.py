"""The course's dashboards, one function per dashboard (the machinery is
:mod:`flosslab.course.dashboard`: controls, a status line, a PNG figure recomputed off the kernel's
main thread, stale requests dropped).

No mathematics here: numbers come from :mod:`flosslab.course.demos`, figures from
:mod:`flosslab.course.figures`. Sliders that recompute update on release; computations are cached;
training runs sit behind a button with a progress bar. Errors a student can cause (k > N, m < n, a
delay shorter than the parity order, ...) are shown as a message in the status line.
"""
from __future__ import annotations

import html
import threading

import ipywidgets as W
import numpy as np

from . import demos as ex
from . import figures as plots
from .dashboard import USER_ERRORS, Dashboard, in_live_kernel, show_bug, slider


# --- 01 ---------------------------------------------------------------------------------------------

from ..core.errors import FlosslabError  # noqa: E402 (this section's import)


def _underflow_note(data) -> str:
    """Where plain float64 backpropagation reads 0, per gain (HTML)."""
    parts = []
    for g, t_norm, t_vec in zip(data.gains, data.norm_reads_zero, data.vector_is_zero):
        if t_norm:
            where = f"g = {g:.2f}: plain float64 gives ||&delta;<sub>t</sub>|| = 0 for t &le; {t_norm}"
            if t_vec:
                where += f" (and &delta;<sub>t</sub> = 0 exactly for t &le; {t_vec})"
            parts.append(where)
    if not parts:
        return ("No curve reaches the float64 limits: plain backpropagation would show these "
                "values too.")
    return ("Exact logarithms (rescaled recursion); " + "; ".join(parts)
            + ". A log plot of the plain norms would silently stop there.")


def gradient_norm_dashboard(gains=None, n_units=None, seq_len=None, n_curves: int = 5):
    """Gain range, N, T -> log10 ||delta_t|| against t for ``n_curves`` gains spread over the
    range, with where plain float64 backpropagation underflows."""
    d = ex.GRADIENT_DEFAULTS
    controls = {
        "gains": slider(W.FloatRangeSlider, "gain range g", gains or d["gains"], 0.1, 4.0, 0.05),
        "n_units": slider(W.IntSlider, "units N", n_units or d["n_units"], 4, 128, 4),
        "seq_len": slider(W.IntSlider, "length T", seq_len or d["seq_len"], 10, 300, 10),
    }

    def compute(gains, n_units, seq_len):
        gs = tuple(float(g) for g in np.round(np.linspace(gains[0], gains[1], n_curves), 4))
        return ex.gradient_norms_vs_gain(gs, n_units, seq_len)

    return Dashboard(controls, compute,
                     lambda art, data, v: plots.update_gradient_norms(art, data),
                     lambda data, v: plots.gradient_norm_figure(data),
                     note=lambda data, v: _underflow_note(data), height="420px")


def growth_rate_dashboard(backprop_norms, growth_rate, gain=1.0, seq_len=None, skip=None,
                          background_result=None):
    """Gain, T, steps skipped -> ln||delta_t|| of every seed with the student's ``backprop_norms``,
    the fits of the student's ``growth_rate``, and rate against lambda_1 (grey: every gain of
    ``background_result``, a :class:`demos.RateVsExponent`)."""
    from ..core.conventions import default_transient
    n = ex.GRADIENT_DEFAULTS["n_units"]
    t_default = seq_len or ex.GRADIENT_DEFAULTS["seq_len"]
    controls = {
        "gain": slider(W.FloatSlider, "gain g", gain, 0.5, 3.0, 0.25),
        "seq_len": slider(W.IntSlider, "length T", t_default, 50, 300, 25),
        "skip": slider(W.IntSlider, "steps not fitted", default_transient(t_default)
                       if skip is None else skip, 0, 100, 5),
    }

    def compute(gain, seq_len, skip):
        if skip > seq_len - 10:
            raise FlosslabError(f"skipping {skip} of T = {seq_len} steps leaves fewer than 10 "
                                   "to fit; skip fewer or lengthen T")
        return ex.rate_vs_exponent(backprop_norms, growth_rate, (round(float(gain), 4),), n,
                                   seq_len, skip=skip)

    def merged(result):
        if background_result is None:
            return result
        b = background_result
        return result._replace(rates=np.vstack([result.rates, b.rates]),
                               exponents=np.vstack([result.exponents, b.exponents]))

    def note(result, values):
        gap = np.abs(result.rates[0] - result.exponents[0])
        return (f"g = {values['gain']:.2f}, N = {n}: fitted rate - &lambda;<sub>1</sub> over the "
                f"{len(result.seeds)} seeds: median |difference| {np.median(gap):.3f}, largest "
                f"{gap.max():.3f} per step")

    return Dashboard(controls, compute,
                     lambda art, r, v: plots.update_rate(art, merged(r), 0),
                     lambda r, v: plots.rate_figure(merged(r), 0), note=note, height="420px")


def _crossing_text(result) -> str:
    c = result.crossing
    ok = np.isfinite(c)
    if not ok.any():
        return f"&lambda;<sub>1</sub> stays below 0 up to g = {result.gains[-1]:.1f} for every seed"
    text = (f"g = {np.median(c[ok]):.2f} (median of {ok.sum()} seeds, range "
            f"{c[ok].min():.2f}-{c[ok].max():.2f})")
    if not ok.all():
        text += f"; {np.sum(~ok)} seed(s) never reach 0 up to g = {result.gains[-1]:.1f}"
    return text


def driven_dashboard(input_scale=1.0, bias_scale=0.1, n_units=None):
    """Input scale, bias scale, N -> lambda_1 against g (median and range over seeds 0-4) and the
    mean slope tanh'(a), for the driven network and the autonomous one (no input, no bias)."""
    controls = {
        "input_scale": slider(W.FloatSlider, "input weights x", input_scale, 0.0, 2.0, 0.25),
        "bias_scale": slider(W.FloatSlider, "bias scale", bias_scale, 0.0, 1.0, 0.1),
        "n_units": slider(W.IntSlider, "units N", n_units or ex.GRADIENT_DEFAULTS["n_units"], 16,
                          80, 16),
    }

    def compute(input_scale, bias_scale, n_units):
        driven = ex.driven_vs_autonomous(round(float(input_scale), 4), round(float(bias_scale), 4),
                                         n_units)
        return driven, ex.driven_vs_autonomous(0.0, 0.0, n_units)

    def labels(values):
        if values["input_scale"] == 0 and values["bias_scale"] == 0:
            return ("this setting (= autonomous)", "autonomous")
        return (f"U x {values['input_scale']:.2f}, b ~ U[0, {values['bias_scale']:.1f})",
                "autonomous")

    def note(data, values):
        driven, auto = data
        return (f"N = {values['n_units']}, T = 300: &lambda;<sub>1</sub> &ge; "
                f"{driven.level:g} (our reading of 'reaches 0') from {_crossing_text(driven)} "
                f"with this drive; autonomous: from {_crossing_text(auto)}.")

    return Dashboard(controls, compute,
                     lambda art, d, v: plots.update_driven(art, d[0], d[1], labels(v)),
                     lambda d, v: plots.driven_figure(d[0], d[1], labels(v)), note=note,
                     height="420px")


# --- 02 ---------------------------------------------------------------------------------------------

#: Rule of thumb for the QR interval in float64: keep m (lambda_1 - lambda_k) below this.
ROUND_OFF_RULE = 15.0


def _sum_rule_note(result):
    if result.sum_rule is None:
        return "sum rule: needs k = N"
    lhs, rhs = result.sum_rule
    return f"sum rule: $\\Sigma\\lambda_i$ = {lhs:.4f}\n$\\langle\\log|\\det D_t|\\rangle$ = {rhs:.4f}"


def _spectrum_status(result, values) -> str:
    lam = result.exponents
    m, k = values["reorth_every"], lam.size
    head = (f"&lambda;<sub>1</sub> = {lam[0]:+.3f} per step "
            f"({'chaotic' if lam[0] > 0.01 else 'not chaotic'} at g = {values['gain']:.2f})")
    if k < 2:
        return head + "; with k = 1 there is no spread &lambda;<sub>1</sub> - &lambda;<sub>k</sub>"
    exposure = m * (lam[0] - lam[-1])
    if m > 1 and exposure > ROUND_OFF_RULE:
        return (head + f". <span style='color:#a00'>m(&lambda;<sub>1</sub> - &lambda;<sub>k</sub>)"
                f" = {exposure:.0f} &gt; {ROUND_OFF_RULE:g}: the last exponents are likely wrong by "
                "round-off (compare with m = 1, or lower m or k)</span>")
    return head + f"; m(&lambda;<sub>1</sub> - &lambda;<sub>k</sub>) = {exposure:.1f}"


def spectrum_dashboard(gain=2.0, n_units=None, n_exponents=None, reorth_every=1, n_steps=None):
    """Gain, N, k, QR interval m -> Lyapunov spectrum and its convergence (autonomous network);
    the status line warns when m (lambda_1 - lambda_k) exceeds the round-off rule of thumb."""
    d = ex.defaults()
    n = n_units or d["spec_units"]
    controls = {
        "gain": slider(W.FloatSlider, "gain g", gain, 0.1, 4.0, 0.05),
        "n_units": slider(W.IntSlider, "units N", n, 2, 100),
        "n_exponents": slider(W.IntSlider, "exponents k", n_exponents or n, 1, 100),
        "reorth_every": slider(W.IntSlider, "QR every m steps", reorth_every, 1, 40),
    }
    steps = n_steps or d["spec_steps"]

    def compute(gain, n_units, n_exponents, reorth_every):
        return ex.autonomous_spectrum(round(float(gain), 4), n_units, n_exponents, reorth_every,
                                      steps)

    def draw(art, r, values):
        plots.update_spectrum(art, r.exponents, r.history.steps, r.history.estimates,
                              _sum_rule_note(r))

    def make(r, values):
        fig, art = plots.spectrum_figure(r.exponents, r.history.steps, r.history.estimates)
        draw(art, r, values)
        return fig, art

    return Dashboard(controls, compute, draw, make, note=_spectrum_status, height="400px")


#: Gains of the spectrum-against-gain demo.
GAIN_GRID = tuple(np.round(np.arange(0.25, 3.01, 0.25), 2))


def spectrum_vs_gain_dashboard(n_units=None, n_shown=3, n_steps=300):
    """N, number of exponents shown, T -> lambda_1..lambda_n of the autonomous network against g,
    median and range over seeds 0-4 (torch engine, one ensemble per setting, cached)."""
    d = ex.defaults()
    controls = {
        "n_units": slider(W.IntSlider, "units N", n_units or d["spec_units"], 10, 80, 10),
        "n_shown": slider(W.IntSlider, "exponents shown", n_shown, 1, 5),
        "n_steps": slider(W.IntSlider, "steps T", n_steps, 100, 500, 100),
    }

    def compute(n_units, n_shown, n_steps):
        return ex.spectrum_vs_gain_seeds(GAIN_GRID, n_units, 5, n_steps)

    def note(spectra, values):
        med = np.median(spectra[:, :, 0], axis=1)
        gains = np.asarray(GAIN_GRID)
        below = gains < 1.0
        return (f"N = {values['n_units']}, T = {values['n_steps']}, seeds 0-4: median "
                f"&lambda;<sub>1</sub> &lt; 0 for every g &lt; 1 on the grid: "
                f"{bool(np.all(med[below] < 0))}; median &lambda;<sub>1</sub> at g = 1: "
                f"{med[gains == 1.0][0]:+.3f}; at g = 3: {med[-1]:+.3f}")

    return Dashboard(controls, compute,
                     lambda art, s, v: plots.update_spectrum_vs_gain_seeds(art, GAIN_GRID, s,
                                                                           v["n_shown"]),
                     lambda s, v: plots.spectrum_vs_gain_seeds_figure(GAIN_GRID, s, v["n_shown"]),
                     note=note, height="420px")


def qr_interval_dashboard(gain=2.0, n_units=None, interval=10):
    """Gain, N, QR interval m -> the spectrum (k = N) with a QR every m steps against every step,
    and every exponent's error against m (lambda_1 - lambda_i) (torch engine, float64)."""
    d = ex.defaults()
    options = [(str(m), i) for i, m in enumerate(ex.INTERVALS)]
    controls = {
        "gain": slider(W.FloatSlider, "gain g", gain, 0.5, 4.0, 0.25),
        "n_units": slider(W.IntSlider, "units N = k", n_units or d["spec_units"], 10, 80, 10),
        "selected": W.SelectionSlider(options=options, value=ex.INTERVALS.index(interval),
                                      description="QR every m steps", continuous_update=False,
                                      style={"description_width": "initial"},
                                      layout=W.Layout(width="auto", min_width="260px")),
    }

    def compute(gain, n_units, selected):
        return ex.qr_interval_errors(round(float(gain), 4), n_units, None, ex.INTERVALS,
                                     d["spec_steps"]), selected

    def note(data, values):
        r, i = data
        m = int(r.intervals[i])
        bad = r.errors[i] > 1e-8
        if not bad.any():
            return (f"m = {m}: every exponent within 1e-8 of m = 1; largest m(&lambda;<sub>1</sub>"
                    f" - &lambda;<sub>i</sub>) = {r.exposure[i].max():.1f}")
        first = int(np.argmax(bad))
        return (f"m = {m}: exponents from i = {first + 1} on are off by more than 1e-8 (largest "
                f"error {r.errors[i].max():.2g}); there m(&lambda;<sub>1</sub> - "
                f"&lambda;<sub>i</sub>) = {r.exposure[i][first]:.1f}")

    return Dashboard(controls, compute,
                     lambda art, data, v: plots.update_interval_errors(art, data[0], data[1]),
                     lambda data, v: plots.interval_errors_figure(data[0], data[1],
                                                                  ROUND_OFF_RULE),
                     note=note, height="420px")


# --- 03 ---------------------------------------------------------------------------------------------

def qr_gradient_dashboard(n_rows=6, n_cols=4, log10_eps=-6.0, vjp=None):
    """Shape of A and the finite-difference step -> a VJP of the QR (``vjp(Q, R, Qb, Rb)``, e.g.
    the student's; default: autograd through the registered qr) against central differences."""
    controls = {
        "n_rows": slider(W.IntSlider, "rows m", n_rows, 1, 12),
        "n_cols": slider(W.IntSlider, "columns n", n_cols, 1, 12),
        "log10_eps": slider(W.FloatSlider, "log10 step eps", log10_eps, -12.0, -1.0, 0.5,
                            live=True),
    }

    def compute(n_rows, n_cols, log10_eps):
        check = ex.qr_vjp_check(n_rows, n_cols, vjp=vjp)
        i = int(np.argmin(np.abs(np.log10(check.eps_grid) - log10_eps)))
        return check, i

    def draw(art, data, values):
        check, i = data
        plots.update_vjp_check(art, check.vjp, check.fd[i], check.eps_grid, check.errors,
                               check.eps_grid[i])

    def make(data, values):
        check, i = data
        return plots.vjp_check_figure(check.vjp, check.fd[i], check.eps_grid, check.errors,
                                      check.eps_grid[i])

    def note(data, values):
        check, i = data
        err, eps = check.best
        return (f"at eps = {check.eps_grid[i]:.1e}: relative error {check.errors[i]:.1e}; "
                f"best: {err:.1e} at eps = {eps:.1e}")

    return Dashboard(controls, compute, draw, make, height="380px", note=note)


def conditioning_dashboard(n_rows=6, n_cols=4, log10_sigma_min=-4.0, closed_form=None,
                           closed_label="your closed form"):
    """Shape of A and its smallest singular value -> the size of d(sum log|R_ii|)/dA and the
    accuracy of the VJP and of ``closed_form`` (default: the normal equations)."""
    controls = {
        "n_rows": slider(W.IntSlider, "rows m", n_rows, 1, 12),
        "n_cols": slider(W.IntSlider, "columns n", n_cols, 1, 12),
        "log10_sigma_min": slider(W.FloatSlider, "log10 smallest singular value",
                                  log10_sigma_min, -12.0, 0.0, 0.5, live=True),
    }

    def compute(n_rows, n_cols, log10_sigma_min):
        return ex.logdet_gradient_vs_conditioning(n_rows, n_cols, closed_form=closed_form), \
            10.0 ** float(log10_sigma_min)

    def make(data, values):
        fig, art = plots.conditioning_figure(data[0], data[1])
        plots.update_conditioning(art, data[0], data[1], closed_label)
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

    return Dashboard(controls, compute,
                     lambda art, data, v: plots.update_conditioning(art, data[0], data[1],
                                                                    closed_label),
                     make, height="380px", note=note)


def linear_network_dashboard(n_units=6, n_exponents=6, n_steps=40, closed_form=None):
    """N, k, T -> the gradient of sum_{i<=k} lambda_i of a linear network (D_t = W) by autograd
    through every QR, against central differences and, for k = N, ``closed_form(W)`` = W^{-T}."""
    controls = {
        "n_units": slider(W.IntSlider, "units N", n_units, 2, 10),
        "n_exponents": slider(W.IntSlider, "exponents k", n_exponents, 1, 10),
        "n_steps": slider(W.IntSlider, "steps T", n_steps, 10, 100, 10),
    }

    def compute(n_units, n_exponents, n_steps):
        return ex.linear_network_gradient(n_units, n_exponents, n_steps, closed_form=closed_form)

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

    return Dashboard(controls, compute, lambda art, r, v: plots.update_linear_network(art, r),
                     lambda r, v: plots.linear_network_figure(r), height="380px", note=note)


# --- 04 ---------------------------------------------------------------------------------------------

def _flossing_note(result, still_falling=None) -> str:
    """The status line: converged or not (and why), and what happened to kappa."""
    kw = {} if still_falling is None else {"still_falling": still_falling}
    d = ex.diagnose_flossing(result, **kw)
    colour = "#070" if d.converged else "#a50"
    k = result.n_exponents
    if k == 1:
        kappa = "κ = σ₁/σₖ needs k ≥ 2 singular values: its panel is empty at k = 1"
    else:
        sb, sa = result.spectrum_before, result.spectrum_after
        kappa = (f"spread {ex.lam(1)} − {ex.lam(k)}: {sb[0] - sb[k - 1]:.3f} → "
                 f"{sa[0] - sa[k - 1]:.3f} per step; log10 κ(J_{result.cond_times[-1]}): "
                 f"{result.cond_before[-1]:.1f} → {result.cond_after[-1]:.1f}")
    return (f"<span style='color:{colour}'><b>{html.escape(d.message)}</b></span><br>"
            f"{html.escape(kappa)}")


def flossing_dashboard(n_exponents=None, target=0.0, gain=1.0, n_units=None, n_steps=None,
                       still_falling=None):
    """k, target, gain, flossing steps and network size -> spectrum, loss, gradient norms and
    condition number before/after flossing (torch engine); the status line says whether flossing
    converged and, if not, why (:func:`flosslab.course.demos.diagnose_flossing`, which uses
    ``still_falling``, e.g. the student's function)."""
    d = ex.flossing_defaults()
    small = n_units or d["n_units"]
    sizes = [(f"N = {small}", small), (f"larger: N = {d['larger_units']}", d["larger_units"])]
    steps = n_steps or d["n_steps"]
    choices = sorted(set(d["step_choices"]) | {steps})
    controls = {
        "n_exponents": slider(W.IntSlider, "flossed k", n_exponents or d["n_exponents"], 1,
                              d["larger_units"]),
        "target": slider(W.FloatSlider, "target", target, -0.5, 0.2, 0.05),
        "gain": slider(W.FloatSlider, "gain g", gain, 0.5, 3.0, 0.1),
        "n_steps": W.SelectionSlider(options=choices, value=steps, description="flossing steps",
                                     continuous_update=False,
                                     style={"description_width": "initial"}),
        "n_units": W.ToggleButtons(options=sizes, value=small, description="network",
                                   style={"description_width": "initial"}),
    }
    note = W.HTML(f"Adam, learning rate {d['lr']}; each flossing step uses its own 55 random bits. "
                  "A new setting flosses a fresh network; more steps continue the run already "
                  "made.")

    def compute(n_exponents, target, gain, n_steps, n_units):
        return ex.flossing_run(round(float(gain), 4), n_exponents, round(float(target), 4),
                               n_units, n_steps, d["lr"])

    return Dashboard(controls, compute, lambda art, r, v: plots.update_flossing(art, r),
                     lambda r, v: plots.flossing_figure(r), height="640px", extra=[note],
                     note=lambda r, v: _flossing_note(r, still_falling))


def learning_rate_dashboard(log10_lr=-2.0, n_exponents=None, gain=1.0, n_units=None,
                            n_steps=None):
    """The Adam learning rate -> the loss and the exponents step by step (against lr 0.01),
    and whether flossing converged."""
    d = ex.flossing_defaults()
    n = n_units or d["n_units"]
    k = n_exponents or d["n_exponents"]
    steps = n_steps or d["n_steps"]
    controls = {"log10_lr": slider(W.FloatSlider, "log10 learning rate", log10_lr, -3.0, -1.0,
                                   0.25)}

    def compute(log10_lr):
        return ex.flossing_run(gain, k, 0.0, n, steps, round(10 ** float(log10_lr), 6))

    def make(r, v):
        ref = ex.flossing_run(gain, k, 0.0, n, steps, d["lr"])
        fig, art = plots.flossing_history_figure(r.losses, r.window_exponents, 0.0,
                                                 fr"$\eta$ = {r.lr:.3g}", ref.losses,
                                                 fr"$\eta$ = {d['lr']} (for comparison)")
        return fig, art

    def draw(art, r, v):
        plots.update_flossing_history(art, r.losses, r.window_exponents, fr"$\eta$ = {r.lr:.3g}")

    return Dashboard(controls, compute, draw, make, height="360px",
                     note=lambda r, v: _flossing_note(r),
                     extra=[W.HTML(f"N = {n}, k = {k}, gain {gain}, {steps} steps, target 0.")])


def condition_collapse_dashboard(seed=0, n_exponents=None, n_units=None, n_steps=None):
    """Seed and k -> log10 kappa(J_t) over 300 steps before/after flossing (live, small), beside
    the reproduction's N = 80, k = 75 curves (shipped)."""
    d = ex.flossing_defaults()
    n = n_units or d["n_units"]
    steps = n_steps or d["n_steps"]
    shipped = ex.shipped_condition_numbers()
    controls = {"seed": slider(W.IntSlider, "seed", seed, 0, 9),
                "n_exponents": slider(W.IntSlider, "flossed k", n_exponents or d["n_exponents"],
                                      2, n)}

    def compute(seed, n_exponents):
        return ex.condition_collapse(1.0, n_exponents, n, steps, d["lr"], 300, seed)

    def label(v):
        return f"live: N = {n}, k = {v['n_exponents']}, {steps} steps, seed {v['seed']}"

    return Dashboard(controls, compute,
                     lambda art, data, v: plots.update_condition_collapse(art, data, label(v)),
                     lambda data, v: plots.condition_collapse_figure(shipped, data, label(v)),
                     height="380px",
                     note=lambda data, v: (f"log10 κ(J_t) before → after flossing: live, t = "
                                           f"{data[0][-1]}: {data[1][-1]:.1f} → "
                                           f"{data[2][-1]:.1f}; shipped, t = "
                                           f"{shipped['times'][-1]}: "
                                           f"{shipped['before'][-1]:.0f} → "
                                           f"{shipped['after'][-1]:.1f}"))


# --- 05 ---------------------------------------------------------------------------------------------

def task_dashboard(task="xor", delay=6, order=3, t_selected=14, seq_len=24):
    """Task, delay d, parity order p and a time step t -> one sequence's inputs and targets, with
    the inputs the target at t depends on (cheap: updates live)."""
    controls = {
        "task": W.Dropdown(options=["copy", "xor", "parity"], value=task, description="task"),
        "delay": slider(W.IntSlider, "delay d", delay, 1, seq_len - 2, live=True),
        "order": slider(W.IntSlider, "parity order p", order, 1, 6, live=True,
                        disabled=task != "parity"),
        "t_selected": slider(W.IntSlider, "time step t", t_selected, 0, seq_len - 1, live=True),
    }
    controls["task"].observe(lambda ch: setattr(controls["order"], "disabled", ch["new"] != "parity"),
                             names="value")

    def compute(task, delay, order, t_selected):
        return ex.task_example(task, delay, order if task == "parity" else None, seq_len), t_selected

    def title(data, values):
        example, t = data
        return (f"{values['task']}, d = {values['delay']}: lags " + ", ".join(map(str, example.lags)))

    def draw(art, data, values):
        example, t = data
        plots.update_task(art, example.bits, example.targets, example.scored, example.lags, t,
                          title(data, values))

    def make(data, values):
        example, t = data
        return plots.task_figure(example.bits, example.targets, example.scored, example.lags, t,
                                 title(data, values))

    def note(data, values):
        example, t = data
        if not example.scored[t]:
            return (f"t = {t} &lt; d = {values['delay']}: not scored (an input the target needs "
                    "has not arrived yet)")
        terms = " &oplus; ".join(f"x<sub>{t - lag}</sub>" for lag in example.lags)
        bits = " &oplus; ".join(str(example.bits[t - lag]) for lag in example.lags)
        return f"z<sub>{t}</sub> = {terms} = {bits} = <b>{example.targets[t]}</b>"

    return Dashboard(controls, compute, draw, make, height="230px", note=note)


def delay_gradient_dashboard(delay=20, n_exponents=24, ks=(1, 8, 24), n_units=32,
                             floss_steps=60, seq_len=80):
    """Delay d and flossed k -> how much of the error signal reaches d steps back, before and after
    preflossing (the flossing for every k of ``ks`` runs once, as one ensemble)."""
    from ..core.errors import FlosslabError
    if n_exponents not in ks:
        raise FlosslabError(f"k={n_exponents} is not among the precomputed choices {ks}")
    results = ex.delay_gradients(tuple(ks), n_units, floss_steps, 0.01, seq_len)
    lags = next(iter(results.values())).lags
    controls = {
        "delay": slider(W.IntSlider, "delay d", delay, 1, int(lags[-1]), live=True),
        "n_exponents": W.ToggleButtons(options=list(ks), value=n_exponents,
                                       description="flossed k", style={"button_width": "50px"}),
    }

    def compute(delay, n_exponents):
        return results[n_exponents], delay

    def note(data, values):
        r, d = data
        return (f"at d = {d}: before flossing {r.before[d]:.1e} of the signal at the loss "
                f"(&lambda;<sub>1</sub> = {r.lam1_before:.3f}, e<sup>&lambda;<sub>1</sub>d</sup> = "
                f"{np.exp(r.lam1_before * d):.1e}); after preflossing k = {r.n_exponents}: "
                f"{r.after[d]:.2f} (&lambda;<sub>1</sub> = {r.lam1_after:.3f})")

    return Dashboard(controls, compute,
                     lambda art, data, v: plots.update_delay_gradient(art, *data),
                     lambda data, v: plots.delay_gradient_figure(*data), height="360px", note=note)


class RunDashboard:
    """Controls, a button, a progress bar, a status line and a figure, for computations that take
    seconds (training): a click runs ``run(values, progress)`` in a worker thread in a live kernel
    (synchronously elsewhere) while the bar moves, then ``draw(art, data, values)`` updates the
    figure and ``note(data, values)`` the status line. ``validate(values)`` raising one of
    :data:`USER_ERRORS` disables the button and says why. ``seconds`` keeps each run's time."""

    def __init__(self, controls: dict, run, make_figure, draw, note=None, validate=None,
                 ready=None, label: str = "Run", height: str = "380px", extra_buttons=(),
                 background: bool | None = None):
        self.controls = controls
        self._run, self._draw, self._note = run, draw, note
        self._validate_values, self._ready = validate, ready
        self.background = in_live_kernel() if background is None else background
        self.button = W.Button(description=label, button_style="primary", icon="play")
        self.bar = W.IntProgress(value=0, min=0, max=1, layout=W.Layout(width="260px"))
        self.bar_text = W.HTML()
        self.status = W.HTML(layout=W.Layout(min_height="1.6em"))
        self.image = W.Image(format="png", layout=W.Layout(height=height, width="auto",
                                                           object_fit="contain"))
        self.message, self.data, self.n_draws = None, None, 0
        self.seconds: list[float] = []
        self._thread = None
        self.button.on_click(lambda _: self.run())
        for control in controls.values():
            control.observe(lambda change: self.validate(), names="value")
        items = list(controls.values())
        rows = [W.HBox(items[i:i + 3]) for i in range(0, len(items), 3)]
        rows.append(W.HBox([self.button, *extra_buttons, self.bar, self.bar_text]))
        self.widget = W.VBox(rows + [self.status, self.image])
        self.fig, self.artists = make_figure()
        self.validate()
        self._redraw()

    def values(self) -> dict:
        return {name: control.value for name, control in self.controls.items()}

    def validate(self) -> bool:
        values = self.values()
        try:
            if self._validate_values is not None:
                self._validate_values(values)
        except USER_ERRORS as err:
            self.button.disabled, self.message = True, str(err)
            self.status.value = (f"<span style='color:#a00'>Cannot run this combination: "
                                 f"{html.escape(str(err))}</span>")
            return False
        self.button.disabled, self.message = False, None
        self.status.value = self._ready(values) if self._ready else "ready: press the button"
        return True

    def _report(self, done, total, desc, postfix):
        self.bar.max, self.bar.value = max(total, 1), min(done, max(total, 1))
        what = "flossing" if desc.startswith("floss") else "training"
        self.bar_text.value = f"{what} {done}/{total}"

    def run(self):
        """Run with the current settings (as the button does): in a live kernel in a worker thread
        (returns at once), else synchronously (returns the data)."""
        if not self.validate():
            return None
        values = self.values()
        if self.background:
            if self._thread is not None and self._thread.is_alive():
                return None
            self.button.disabled = True
            self._thread = threading.Thread(target=self._work, args=(values,), daemon=True)
            self._thread.start()
            return None
        return self._work(values)

    def _work(self, values):
        import time
        start = time.perf_counter()
        try:
            self.status.value = "<i>running ...</i>"
            data = self._run(values, self._report)
            self.seconds.append(time.perf_counter() - start)
            self.data = data
            self._draw(self.artists, data, values)
            self.n_draws += 1
            self._redraw()
            self.status.value = (f"done in {self.seconds[-1]:.1f} s. "
                                 + (self._note(data, values) if self._note else ""))
            return data
        except USER_ERRORS as err:
            self.message = str(err)
            self.status.value = (f"<span style='color:#a00'>Stopped: {html.escape(str(err))}"
                                 "</span>")
            return None
        except Exception as err:            # a bug: show it, never swallow it
            self.message = show_bug(self.status, err)
            if not self.background:
                raise
            return None
        finally:
            self.button.disabled = self.message is not None

    def wait(self, timeout: float = 600.0):
        if self._thread is not None:
            self._thread.join(timeout)
        return self

    def show(self, data, values: dict | None = None):
        """Draw data computed elsewhere (e.g. with a progress bar in a notebook cell) as if the
        button had computed it for ``values`` (default: the current controls)."""
        values = self.values() if values is None else values
        self.data = data
        self._draw(self.artists, data, values)
        self.n_draws += 1
        self._redraw()
        self.status.value = self._note(data, values) if self._note else ""
        return self

    def static_figure(self):
        """The current figure (for pages without a live kernel)."""
        return self.fig

    def set(self, **values):
        """Set several controls at once (without running)."""
        for name, value in values.items():
            self.controls[name].value = value
        return self

    def _redraw(self):
        from ..core.style import render_png
        self.image.value = render_png(self.fig)

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


class TrainingDashboard(RunDashboard):
    """Task, delay d, parity order p, k, schedule and size -> learning curves over several seeds;
    training starts with the button (all seeds as one ensemble on the torch engine, in a worker
    thread with a progress bar). Runs accumulate so that schedules can be compared; "Clear curves"
    empties the figure. The status line says how the run went in words (at chance, loss still
    falling, flossing that did not converge)."""

    def __init__(self, task="copy", delay=20, order=3, n_exponents=None, schedule="pre",
                 size="small", background: bool | None = None):
        d = ex.TRAIN_SIZES["small"]
        controls = {
            "task": W.Dropdown(options=["copy", "xor", "parity"], value=task, description="task"),
            "delay": slider(W.IntSlider, "delay d", delay, 1, 60),
            "order": slider(W.IntSlider, "parity order p", order, 1, 6, disabled=task != "parity"),
            "n_exponents": slider(W.IntSlider, "flossed k", n_exponents or d["n_exponents"], 1, 64),
            "schedule": W.Dropdown(options=[(plots.SCHEDULE_LABELS[s], s) for s in
                                            ("none", "pre", "inter", "penalty")],
                                   value=schedule, description="flossing"),
            "size": W.ToggleButtons(options=["small", "larger"], value=size, description="size",
                                    tooltips=["N = 32, 3 seeds: a few seconds",
                                              "N = 64, 5 seeds: tens of seconds"]),
        }
        controls["task"].observe(
            lambda ch: setattr(controls["order"], "disabled", ch["new"] != "parity"), names="value")
        self.clear_button = W.Button(description="Clear curves")
        self.clear_button.on_click(lambda _: self.clear())
        self.runs = []
        super().__init__(controls, self._train, plots.seed_curves_figure, self._add, self._verdict,
                         self._check, self._ready_line, label="Train", height="390px",
                         extra_buttons=[self.clear_button], background=background)

    @staticmethod
    def _args(values) -> dict:
        return dict(task=values["task"], delay=int(values["delay"]),
                    order=int(values["order"]) if values["task"] == "parity" else None,
                    n_exponents=int(values["n_exponents"]), schedules=(values["schedule"],),
                    size=values["size"])

    def _check(self, values):
        a = self._args(values)
        ex.training_configs(a["task"], a["delay"], a["schedules"][0], a["n_exponents"], a["size"],
                            a["order"], seeds=[0])

    def _ready_line(self, values):
        s = ex.TRAIN_SIZES[values["size"]]
        what = "a few seconds" if values["size"] == "small" else "tens of seconds"
        if values["schedule"] == "penalty":
            what += "; the penalty computes a spectrum every epoch, so it takes ~3x longer"
        task = values["task"] + (f" of order p = {values['order']}" if values["task"] == "parity"
                                 else "")
        return (f"ready: {task}, d = {values['delay']}, {values['schedule']} flossing; "
                f"{s['n_seeds']} seeds at once, N = {s['n_units']}, {s['n_epochs']} epochs "
                f"({what})")

    def _train(self, values, progress):
        a = self._args(values)
        return ex.train_seeds(**a, progress=progress)[values["schedule"]]

    def _add(self, art, runs, values):
        a = self._args(values)
        s = values["schedule"]
        label = (f"{a['task']}{'' if a['order'] is None else ' p=' + str(a['order'])} "
                 f"d={a['delay']} {s}" + (f" k={a['n_exponents']}" if s != "none" else "")
                 + ("" if values["size"] == "small" else " (larger)"))
        colour = None if any(r[0]["schedule"] == s for r in self.runs) \
            else plots.SCHEDULE_COLOURS.get(s)
        plots.add_seed_runs(art, runs, label, colour)
        self.runs.append(({**values}, runs))

    def _verdict(self, runs, values):
        return training_verdict(runs, values["schedule"])

    def add(self, runs, values):
        """Add finished runs (e.g. from :func:`flosslab.course.demos.train_seeds`) to the figure."""
        self._add(self.artists, runs, values)
        self.n_draws += 1
        self._redraw()

    def clear(self):
        plots.clear_seed_runs(self.artists)
        self.runs.clear()
        self._redraw()

    def static_figure(self):
        fig, art = plots.seed_curves_figure()
        for values, runs in self.runs:
            plots.add_seed_runs(art, runs, f"{values['task']} d={values['delay']} "
                                f"{values['schedule']}", plots.SCHEDULE_COLOURS.get(values["schedule"]))
        return fig


def training_verdict(runs, schedule: str) -> str:
    """How a run on several seeds went, in words: the final accuracy (median, quartiles, each
    seed) and what went wrong, if anything."""
    final = runs.final
    parts = [f"final accuracy {ex.describe_spread(final)}"]
    med = float(np.median(final))
    if med < 0.6:
        parts.append("<b>at chance on most seeds</b>: not learned in this many epochs")
    elif med < 0.9:
        parts.append("partly learned")
    loss = np.median(np.asarray(runs.loss), axis=0)
    tail = max(loss.size // 10, 1)
    if loss.size >= 4 * tail and loss[-tail:].mean() < 0.95 * loss[-2 * tail:-tail].mean():
        parts.append("the loss is still falling: more epochs (size 'larger') may help")
    if schedule != "none" and np.isfinite(runs.floss_end).all():
        start, end = float(np.median(runs.floss_start)), float(np.median(runs.floss_end))
        if end > 0.01:
            parts.append(f"flossing did not converge: L<sub>floss</sub> {start:.3f} &rarr; "
                         f"{end:.3f} (median) in its episode; try more flossing steps or a smaller k")
    lam1 = np.median(runs.lam1, axis=0)
    if lam1[0] > 0.05:
        parts.append(f"&lambda;<sub>1</sub> = {lam1[0]:+.2f} &gt; 0 at the first evaluation: "
                     "chaotic, gradients may explode")
    return "; ".join(parts)


def training_dashboard(**kwargs) -> TrainingDashboard:
    """See :class:`TrainingDashboard`."""
    return TrainingDashboard(**kwargs)


# --- 06 ---------------------------------------------------------------------------------------------

def condition_dashboard(gain=1.0, n_exponents=16, n_units=32, max_window=120):
    """Gain g and k -> log10 kappa(J_t) against the window t, measured and predicted from the
    exponents (one network, torch engine; each setting computed once, then cached)."""
    controls = {
        "gain": slider(W.FloatSlider, "gain g", gain, 0.5, 2.0, 0.1),
        "n_exponents": slider(W.IntSlider, "k (singular values compared)", n_exponents, 1,
                              n_units),
    }

    def compute(gain, n_exponents):
        return (ex.condition_vs_window(round(float(gain), 2), n_exponents, n_units, max_window),
                round(gain, 2))

    def note(data, values):
        c, g = data
        slope = np.polyfit(c.times, c.measured, 1)[0]
        spread = c.exponents[0] - c.exponents[-1]
        return (f"measured slope {slope:.3f} decades per step; (&lambda;<sub>1</sub> - "
                f"&lambda;<sub>k</sub>) / ln 10 = {spread / np.log(10):.3f}")

    return Dashboard(controls, compute, lambda art, d, v: plots.update_condition_window(art, *d),
                     lambda d, v: plots.condition_window_figure(*d), height="350px", note=note)


def checkpoint_note(c, i: int) -> str:
    """The status line of the flossing-checkpoint dashboard: medians over seeds, and how steady."""
    cond, rank = np.median(c.cond, axis=0), np.median(c.eff_rank, axis=0)
    ups = int(np.sum(np.diff(rank) > 0))
    downs = int(np.sum(np.diff(cond) < 0))
    return (f"median over {len(c.seeds)} seeds after {c.steps[i]} steps: log<sub>10</sub>&kappa; "
            f"{cond[0]:.1f} &rarr; {cond[i]:.1f}, effective rank {rank[0]:.1f} &rarr; "
            f"{rank[i]:.1f}. Between checkpoints the median &kappa; fell {downs} of "
            f"{len(cond) - 1} times and the rank rose {ups} of {len(rank) - 1} times"
            + (": not monotone, the single steps are noisy" if min(ups, downs) < len(cond) - 1
               else ""))


def why_dashboard(n_exponents=16, checkpoints: dict | None = None):
    """k and the number of flossing steps -> condition number, gradient effective rank and
    singular values over several seeds. Everything is precomputed (one ensemble for all k and
    seeds, :func:`flosslab.course.demos.flossing_checkpoints_seeds`): a change only redraws."""
    if checkpoints is None:
        checkpoints = ex.flossing_checkpoints_seeds(ex.CHECKPOINT_KS, **ex.checkpoint_sizes())
    first = next(iter(checkpoints.values()))
    controls = {
        "n_exponents": W.ToggleButtons(options=list(checkpoints), value=n_exponents,
                                       description="flossed k", style={"button_width": "50px"}),
        "checkpoint": W.SelectionSlider(options=[(str(s), i) for i, s in enumerate(first.steps)],
                                        value=0, description="flossing steps",
                                        continuous_update=True,
                                        style={"description_width": "initial"}),
    }
    info = W.HTML(f"N = 32, gain 1, window t = {first.window} steps, seeds "
                  f"{', '.join(map(str, first.seeds))}; flossing in episodes of "
                  f"{first.steps[1] - first.steps[0]} steps (a fresh Adam each).")

    def compute(n_exponents, checkpoint):
        return checkpoints[n_exponents], checkpoint

    return Dashboard(controls, compute, lambda art, d, v: plots.update_seed_checkpoints(art, *d),
                     lambda d, v: plots.seed_checkpoints_figure(*d), height="360px",
                     extra=[info], note=lambda d, v: checkpoint_note(*d))


def schedules_dashboard(runs: dict):
    """Which schedules, and whether every seed is drawn -> accuracy, lambda_1 and effective rank
    over training (median and quartiles over seeds) from finished runs (redraw only)."""
    options = [(plots.SCHEDULE_LABELS.get(s, s), s) for s in runs]
    controls = {
        "shown": W.SelectMultiple(options=options, value=tuple(runs), rows=len(runs),
                                  description="schedules"),
        "seeds": W.Checkbox(value=True, description="draw every seed"),
    }

    def note(data, values):
        return "; ".join(f"{plots.SCHEDULE_LABELS.get(s, s)}: {ex.describe_spread(runs[s].final)}"
                         for s in values["shown"])

    return Dashboard(controls, lambda shown, seeds: (runs, shown, seeds),
                     lambda art, d, v: plots.update_schedules(art, *d),
                     lambda d, v: plots.schedules_figure(*d), height="560px", note=note)


# --- 07 ---------------------------------------------------------------------------------------------

def device_control(value: str = "cpu") -> W.Dropdown:
    """CPU / CUDA choice; disabled (with a tooltip saying why) when torch sees no GPU."""
    from .setup import available_device
    has_gpu = available_device() == "cuda"
    return W.Dropdown(options=["cpu", "cuda"] if has_gpu else ["cpu"],
                      value=value if has_gpu else "cpu", description="device",
                      disabled=not has_gpu,
                      tooltip="" if has_gpu else "no GPU visible to torch: CPU only")


def agreement_dashboard(gain=2.0, n_steps=None):
    """Gain, T and device -> the numpy reference and the torch engine integrating the same
    autonomous network: how far their states drift apart, and their exponents."""
    d = ex.scaling_defaults()
    controls = {
        "gain": slider(W.FloatSlider, "gain g", gain, 0.5, 3.5, 0.25),
        "n_steps": slider(W.IntSlider, "steps T", n_steps or d["agree_steps"], 100, 1000, 100),
        "device": device_control(),
    }

    def compute(gain, n_steps, device):
        return ex.engine_vs_reference(round(float(gain), 4), d["agree_units"], d["agree_k"],
                                      n_steps, 0, device)

    def note(a, values):
        same = np.abs(a.same_engine - a.same_reference).max()
        sep = np.abs(a.separate_engine - a.separate_reference).max()
        return (f"lambda_1 = {a.separate_reference[0]:+.3f}; states differ by "
                f"{a.divergence[-1]:.1e} at t = {a.times[-1]}; exponents: same Jacobians "
                f"{same:.1e}, own trajectories {sep:.1e}")

    return Dashboard(controls, compute, lambda art, a, v: plots.update_agreement(art, a),
                     lambda a, v: plots.agreement_figure(a), height="380px", note=note)


def ensemble_dashboard(n_units=None, size=None, gains=(0.5, 3.0)):
    """N, ensemble size E, gain range, device -> the E spectra in one batched call, and the time
    of that call against E separate ones."""
    d = ex.scaling_defaults()
    controls = {
        "n_units": slider(W.IntSlider, "units N", n_units or d["ens_units"], 8, 64, 8),
        "size": slider(W.IntSlider, "ensemble size E", size or d["ens_size"], 2, 24),
        "gains": slider(W.FloatRangeSlider, "gain range g", gains, 0.1, 4.0, 0.1),
        "device": device_control(),
    }

    def compute(n_units, size, gains, device):
        g = tuple(float(x) for x in np.round(np.linspace(gains[0], gains[1], size), 4))
        return ex.ensemble_timing(g, n_units, 4, d["ens_steps"], 0, device)

    def note(r, values):
        return (f"one batched call: {r.batched_seconds:.3f} s; {len(r.gains)} separate calls: "
                f"{r.separate_seconds:.3f} s ({r.separate_seconds / r.batched_seconds:.1f} times "
                f"longer); largest difference between the two: {r.largest_difference:.1e}")

    return Dashboard(controls, compute,
                     lambda art, r, v: plots.update_ensemble(art, r.gains, r.spectra),
                     lambda r, v: plots.ensemble_figure(r.gains, r.spectra), height="380px",
                     note=note)


def cell_dashboard(jacobian, name="GRU", n_units=None, scale=1.0):
    """Cell type, N and a scale of the recurrent weights -> the cell's full spectrum from the
    student's ``jacobian(step, z, x)`` against the engine's."""
    d = ex.scaling_defaults()
    controls = {
        "name": W.ToggleButtons(options=list(ex.CELLS), value=name, description="cell"),
        "n_units": slider(W.IntSlider, "units N", n_units or d["cell_units"], 2, 12),
        "scale": slider(W.FloatSlider, "scale of the recurrent weights", scale, 0.5, 4.0, 0.25),
    }

    def compute(name, n_units, scale):
        return ex.cell_spectrum_with(jacobian, name, n_units, round(float(scale), 4),
                                     d["cell_steps"])

    def label(v):
        dim = 2 * v["n_units"] if v["name"] == "LSTM" else v["n_units"]
        return f"{v['name']}, N = {v['n_units']}: {dim} exponents"

    def note(data, values):
        mine, ref = data
        return (f"lambda_1 = {ref[0]:+.3f}; your Jacobians give the engine's spectrum to "
                f"{np.abs(mine - ref).max():.1e}")

    return Dashboard(controls, compute,
                     lambda art, data, v: plots.update_cell_spectrum(art, *data, label(v)),
                     lambda data, v: plots.cell_spectrum_figure(*data, label(v)),
                     height="360px", note=note)


def cost_dashboard(n_units=None, n_exponents=None, sweep="k"):
    """Device, swept size and the fixed size -> measured seconds per flossing step (torch engine)
    over a doubling sweep, log-log, with c0 + c1 T (N^2 k + N k^2) fitted to every point measured
    so far on that device."""
    d = ex.scaling_defaults()
    controls = {
        "device": device_control(),
        "sweep": W.ToggleButtons(options=["k", "N"], value=sweep, description="sweep"),
        "n_units": W.SelectionSlider(options=list(d["cost_n_choices"]),
                                     value=n_units or d["cost_n"],
                                     description="N (k sweep)", continuous_update=False,
                                     style={"description_width": "initial"}),
        "n_exponents": W.SelectionSlider(options=list(d["cost_k_choices"]),
                                         value=n_exponents or d["cost_k"],
                                         description="k (N sweep)", continuous_update=False,
                                         style={"description_width": "initial"}),
    }
    measured: dict = {}

    def compute(device, sweep, n_units, n_exponents):
        if sweep == "N":
            sizes, secs = ex.cost_sweep("N", d["cost_n_max"], n_exponents, device,
                                        d["cost_repeats"], d["cost_n_max"])
            points = [(int(s), n_exponents) for s in sizes]
        else:
            sizes, secs = ex.cost_sweep("k", n_units, n_units, device, d["cost_repeats"])
            points = [(n_units, int(s)) for s in sizes]
        for p, s in zip(points, secs):
            measured.setdefault(device, {})[p] = s
        pts = measured[device]
        nk = np.asarray(list(pts))
        fit = ex.fit_cost_model(nk[:, 0], nk[:, 1], list(pts.values()))
        fine = np.geomspace(sizes[0], sizes[-1], 50)
        if sweep == "N":
            model = fit.overhead + fit.per_unit * ex.cost_work(fine, n_exponents)
        else:
            model = fit.overhead + fit.per_unit * ex.cost_work(n_units, fine)
        return sizes, secs, (fine, model), fit, len(pts)

    def xlabel(v):
        return (f"N (k = {v['n_exponents']} fixed)" if v["sweep"] == "N"
                else f"k (N = {v['n_units']} fixed)")

    def draw(art, data, v):
        sizes, secs, model, fit, _ = data
        plots.update_cost(art, sizes, secs, xlabel(v), model, fit.overhead,
                          f"measured, {v['device']}")

    def make(data, v):
        sizes, secs, model, fit, _ = data
        fig, art = plots.cost_figure(sizes, secs, xlabel(v), model, f"measured, {v['device']}")
        draw(art, data, v)
        return fig, art

    def note(data, v):
        sizes, secs, _, fit, n_points = data
        slopes = ex.local_slopes(sizes, secs)
        return (f"slope d log t / d log {v['sweep']}: first doubling {slopes[0]:.2f}, last "
                f"{slopes[-1]:.2f}; fit over {n_points} points: overhead c0 = "
                f"{1e3 * fit.overhead:.1f} ms, worst misfit {100 * fit.worst_misfit:.0f} %")

    return Dashboard(controls, compute, draw, make, height="380px", note=note,
                     extra=[W.HTML("Each setting is measured on first use (median of 2 flossing "
                                   "steps after a warm-up, T = 55, QR every step) and kept.")])


# --- 08 ---------------------------------------------------------------------------------------------

def available_summaries() -> dict:
    """{name: summary} of the shipped results that load here ("default", and "paper" once it is
    shipped)."""
    out = {}
    for name in ("default", "paper"):
        summary, _ = ex.paper_summary(name)
        if summary is not None:
            out[name] = summary
    return out


def _dataset_control(summaries: dict, value: str = "default"):
    names = list(summaries)
    return W.Dropdown(options=names, value=value if value in names else names[0],
                      description="budget", disabled=len(names) < 2,
                      tooltip="" if len(names) > 1 else "the paper budget is not shipped yet")


def paper_delay_dashboard(task="xor", dataset="default", highlight=None):
    """Budget, task, schedules and a delay -> the shipped final accuracies against delay (median,
    quartiles, each seed) and every seed at the chosen delay."""
    summaries = available_summaries()
    sweeps = {name: {t: ex.shipped_accuracy(s, t) for t in s["c_delay"]}
              for name, s in summaries.items()}
    first = sweeps[next(iter(sweeps))][task]
    delays = [int(d) for d in next(iter(first.values()))[0]]
    controls = {
        "dataset": _dataset_control(summaries, dataset),
        "task": W.Dropdown(options=list(sweeps[next(iter(sweeps))]), value=task,
                           description="task"),
        "shown": W.SelectMultiple(options=[(plots.SCHEDULE_LABELS.get(s, s), s) for s in first],
                                  value=tuple(first), rows=len(first), description="schedules"),
        "delay": W.SelectionSlider(options=delays, value=highlight or delays[len(delays) // 2],
                                   description="delay d", continuous_update=True,
                                   style={"description_width": "initial"}),
    }

    def retarget(change):           # the swept tasks and delays differ between budgets
        tasks = list(sweeps[controls["dataset"].value])
        if list(controls["task"].options) != tasks:
            keep = controls["task"].value
            controls["task"].options = tasks
            controls["task"].value = keep if keep in tasks else tasks[-1]
        ds = [int(d) for d in next(iter(sweeps[controls["dataset"].value][
            controls["task"].value].values()))[0]]
        old = controls["delay"].value
        controls["delay"].options = ds
        controls["delay"].value = min(ds, key=lambda d: abs(d - old))

    controls["task"].observe(retarget, names="value")
    controls["dataset"].observe(retarget, names="value")

    def compute(dataset, task, shown, delay):
        by_schedule = sweeps[dataset][task]
        title = f" ({dataset} budget, N={summaries[dataset]['c_delay'][task]['n']})"
        return by_schedule, task, shown, delay, title

    def note(data, values):
        by_schedule, task, shown, delay, _ = data
        parts = []
        for s in shown:
            delays, acc = by_schedule[s]
            row = np.asarray(acc)[list(delays).index(delay)] if delay in delays else None
            if row is not None:
                med, lo, hi = ex.seed_spread(row)
                parts.append(f"{plots.SCHEDULE_LABELS.get(s, s)}: median {med:.2f} "
                             f"[{lo:.2f}-{hi:.2f}], {int(np.sum(row >= 0.9))} of {row.size} "
                             "seeds &ge; 0.9")
        return f"d = {delay}: " + "; ".join(parts)

    return Dashboard(controls, compute, lambda art, d, v: plots.update_delay_explorer(art, *d),
                     lambda d, v: plots.delay_explorer_figure(*d), height="380px", note=note)


def horizon_dashboard(dataset="default", level=0.9, coverage=0.9):
    """Budget, accuracy level and coverage -> the trainable horizon of each task and schedule with
    its bootstrap interval over seeds (2000 resamples: milliseconds)."""
    summaries = available_summaries()
    controls = {
        "dataset": _dataset_control(summaries, dataset),
        "level": slider(W.FloatSlider, "accuracy level", level, 0.6, 0.99, 0.01),
        "coverage": slider(W.FloatSlider, "interval coverage", coverage, 0.5, 0.95, 0.05),
    }

    def compute(dataset, level, coverage):
        return (ex.shipped_horizons(summaries[dataset], round(level, 2), round(coverage, 2)),
                round(level, 2), round(coverage, 2), f" ({dataset})")

    def note(data, values):
        h = data[0]
        parts = []
        for task in dict.fromkeys(t for t, _ in h):
            for s in ("pre", "inter"):
                if (task, s) in h:
                    r = ex.horizon_ratio(h, task, s)
                    parts.append(f"{task} {plots.SCHEDULE_LABELS[s]} / none: "
                                 + ("undefined (a horizon below the swept range)" if r is None
                                    else f"{r:.1f}x"))
        return "; ".join(parts)

    return Dashboard(controls, compute, lambda art, d, v: plots.update_horizons(art, *d),
                     lambda d, v: plots.horizons_figure(*d), height="300px", note=note)


def live_delay_dashboard(task="copy", size="small"):
    """A button reruns the delay sweep small: no flossing and preflossing, three delays, the seeds
    of ``LIVE``, all as one ensemble on the torch engine; the figure has the shipped figure's form."""
    controls = {"task": W.Dropdown(options=["copy", "xor"], value=task, description="task")}

    def run(values, progress):
        return ex.live_delay_sweep(values["task"], progress=progress, size=size), values["task"]

    def make():
        fig, (ax,) = plots.new_figure(width=6.5, height=3.6)
        ax.set(xlabel="delay d (longest lag, steps)", ylabel="final accuracy", ylim=(0.4, 1.03),
               title="small rerun: press the button")
        return fig, {"ax": ax, "lines": []}

    def draw(art, data, values):
        sweep, task = data
        for a in art["lines"]:
            a.remove()
        art["lines"] = plots.accuracy_vs_delay_panel(art["ax"], sweep)
        s = ex.TRAIN_SIZES[size]
        art["ax"].set_title(f"small rerun: {task}, N = {s['n_units']}, {s['n_epochs']} epochs, "
                            f"{len(ex.LIVE['seeds'])} seeds")
        art["ax"].set_xticks(sweep["none"][0])

    def note(data, values):
        sweep, task = data
        return "; ".join(f"{plots.SCHEDULE_LABELS[s]}: medians " + ", ".join(
            f"d={d} {m:.2f}" for d, m in zip(dl, np.median(acc, axis=1)))
            for s, (dl, acc) in sweep.items())

    return RunDashboard(controls, run, make, draw, note, label="Rerun small", height="360px",
                        ready=lambda v: f"ready: {_n_delay_members(v)} networks at once")


def _n_delay_members(values) -> int:
    return 2 * len(ex.LIVE["delays"][values["task"]]) * len(ex.LIVE["seeds"])


def live_parity_dashboard(size="small"):
    """A button reruns accuracy against k small: parity of order p at a short delay, no flossing
    and preflossing with each k, on the seeds of ``LIVE``, all as one ensemble."""
    controls = {"order": slider(W.IntSlider, "parity order p", ex.LIVE["parity_order"], 2, 4),
                "delay": slider(W.IntSlider, "delay d", ex.LIVE["parity_delay"], 4, 16)}

    def run(values, progress):
        ks, acc = ex.live_parity_k(order=values["order"], delay=values["delay"], size=size,
                                   progress=progress)
        return ks, acc, values

    def make():
        fig, (ax,) = plots.new_figure(width=6.5, height=3.6)
        ax.set(title="small rerun: press the button", xlabel="k", ylabel="final accuracy")
        return fig, {"fig": fig, "ax": ax}

    def draw(art, data, values):
        ks, acc, v = data
        art["ax"].clear()
        plots.accuracy_vs_k_panel(art["ax"], ks, {k: acc[k] for k in ks}, acc["none"],
                                  f"small rerun: parity p={v['order']}, d={v['delay']}, N=32")

    def note(data, values):
        ks, acc, _ = data
        return "; ".join(f"{'no flossing' if k == 'none' else 'k=' + str(k)}: "
                         f"{ex.describe_spread(acc[k])}" for k in ["none", *ks])

    return RunDashboard(controls, run, make, draw, note, label="Rerun small", height="360px",
                        ready=lambda v: f"ready: {(len(ex.LIVE['parity_ks']) + 1) * len(ex.LIVE['seeds'])}"
                                        " networks at once")


def live_condition_dashboard(n_exponents=16, floss_steps=80, grid: dict | None = None):
    """k and the number of flossing steps -> log10 kappa(J_t) against t before and after flossing
    a small network. Every choice is computed up front (one ensemble,
    :func:`flosslab.course.demos.live_condition_grid`): a change only redraws."""
    grid = ex.live_condition_grid() if grid is None else grid
    ks = sorted({k for k, _ in grid})
    steps = sorted({s for _, s in grid})
    nearest = lambda options, v: min(options, key=lambda o: abs(o - v))      # noqa: E731
    n_exponents, floss_steps = nearest(ks, n_exponents), nearest(steps, floss_steps)
    controls = {
        "n_exponents": W.ToggleButtons(options=ks, value=n_exponents, description="flossed k",
                                       style={"button_width": "50px"}),
        "floss_steps": W.ToggleButtons(options=steps, value=floss_steps,
                                       description="flossing steps",
                                       style={"button_width": "50px"}),
    }

    def compute(n_exponents, floss_steps):
        return grid[n_exponents, floss_steps]

    def make(c, values):
        return plots.paper_condition_figure(
            {"times": c.times, "log10_condition": c.before},
            {"times": c.times, "log10_condition": c.after}, _live_title(c))

    def draw(art, c, values):
        ax = art["axes"][0]
        ax.lines[0].set_data(c.times, c.before)
        ax.lines[1].set_data(c.times, c.after)
        ax.set_title(_live_title(c))
        plots.rescale(ax)

    def note(c, values):
        return (f"over t = {c.times[-1]} steps: log<sub>10</sub>&kappa; {c.before[-1]:.1f} before, "
                f"{c.after[-1]:.1f} after {c.floss_steps} flossing steps "
                f"({c.before[-1] - c.after[-1]:.1f} orders of magnitude less)")

    return Dashboard(controls, compute, draw, make, height="330px", note=note)


def _live_title(c):
    return f"small rerun: N = {c.n_units}, k = {c.n_exponents}, {c.floss_steps} flossing steps"
