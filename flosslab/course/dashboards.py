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
from .dashboard import USER_ERRORS, Dashboard, in_live_kernel, slider


# --- 01 ---------------------------------------------------------------------------------------------

def gradient_norm_dashboard(gains=(0.5, 3.0), n_units=None, seq_len=None, n_curves: int = 5):
    """Gain range, N, T -> ||dL/dh_t|| against t for ``n_curves`` gains spread over the range."""
    d = ex.defaults()
    controls = {
        "gains": slider(W.FloatRangeSlider, "gain range g", gains, 0.1, 4.0, 0.05),
        "n_units": slider(W.IntSlider, "units N", n_units or d["grad_units"], 4, 128, 4),
        "seq_len": slider(W.IntSlider, "length T", seq_len or d["grad_seq_len"], 10, 300, 10),
    }

    def compute(gains, n_units, seq_len):
        gs = tuple(float(g) for g in np.round(np.linspace(gains[0], gains[1], n_curves), 4))
        times, norms = ex.gradient_norms_vs_gain(gs, n_units, seq_len)
        return gs, times, norms

    return Dashboard(controls, compute,
                     lambda art, data, v: plots.update_gradient_norms(art, data[1], data[2], data[0]),
                     lambda data, v: plots.gradient_norm_figure(data[1], data[2], data[0]),
                     height="400px")


# --- 02 ---------------------------------------------------------------------------------------------

def _sum_rule_note(result):
    if result.sum_rule is None:
        return "sum rule: needs k = N"
    lhs, rhs = result.sum_rule
    return f"sum rule: $\\Sigma\\lambda_i$ = {lhs:.4f}\n$\\langle\\log|\\det D_t|\\rangle$ = {rhs:.4f}"


def spectrum_dashboard(gain=2.0, n_units=None, n_exponents=None, reorth_every=1, n_steps=None):
    """Gain, N, k, QR interval m -> Lyapunov spectrum and its convergence (autonomous network)."""
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

    return Dashboard(controls, compute, draw, make, height="380px")


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

class TrainingDashboard:
    """Task, delay, k, schedule -> learning curves; training starts with the button.

    The controls are validated live (a bad combination disables the button and says why); a run
    trains in a worker thread in a live kernel, with a progress bar, and its curves are added to the
    figure so that schedules can be compared; "Clear curves" empties it.
    """

    def __init__(self, task="copy", delay=None, n_exponents=8, schedule="pre", n_units=None,
                 n_epochs=None, floss_steps=None, background: bool | None = None):
        d = ex.defaults()
        self.n_units = n_units or d["train_units"]
        self.n_epochs = n_epochs or d["train_epochs"]
        self.floss_steps = floss_steps or d["train_floss_steps"]
        self.background = in_live_kernel() if background is None else background
        self.controls = {
            "task": W.Dropdown(options=["copy", "xor", "parity"], value=task, description="task"),
            "delay": slider(W.IntSlider, "delay d", delay or d["train_delay"], 1, 60),
            "n_exponents": slider(W.IntSlider, "flossed k", n_exponents, 1, 48),
            "schedule": W.Dropdown(options=["none", "pre", "inter", "penalty"], value=schedule,
                                   description="flossing"),
        }
        self.button = W.Button(description="Train", button_style="primary", icon="play")
        self.clear_button = W.Button(description="Clear curves")
        self.bar = W.IntProgress(value=0, min=0, max=1, layout=W.Layout(width="300px"))
        self.status = W.HTML()
        self.image = W.Image(format="png", layout=W.Layout(height="380px", width="auto",
                                                           object_fit="contain"))
        self.runs, self.message, self.n_draws = [], None, 0
        self._thread = None
        self.button.on_click(lambda _: self.train())
        self.clear_button.on_click(lambda _: self.clear())
        for control in self.controls.values():
            control.observe(lambda change: self._validate(), names="value")
        rows = [W.HBox(list(self.controls.values())[:3]), W.HBox(list(self.controls.values())[3:]),
                W.HBox([self.button, self.clear_button, self.bar]), self.status, self.image]
        self.widget = W.VBox(rows)
        self.fig, self.artists = plots.learning_curves_figure()
        self._validate()
        self._redraw()

    def _config_args(self):
        v = {name: c.value for name, c in self.controls.items()}
        return dict(task=v["task"], delay=int(v["delay"]), n_exponents=int(v["n_exponents"]),
                    schedule=v["schedule"], n_units=self.n_units, n_epochs=self.n_epochs,
                    floss_steps=self.floss_steps)

    def _validate(self):
        from ..core.trainconfig import TrainConfig
        a = self._config_args()
        try:
            TrainConfig(task=a["task"], delay=a["delay"], n_units=a["n_units"],
                        n_exponents=a["n_exponents"], flossing=a["schedule"])
        except USER_ERRORS as err:
            self.button.disabled, self.message = True, str(err)
            self.status.value = (f"<span style='color:#a00'>Cannot train this combination: "
                                 f"{html.escape(str(err))}</span>")
            return
        self.button.disabled, self.message = False, None
        self.status.value = (f"ready: {a['task']} task, delay {a['delay']}, N = {a['n_units']}, "
                             f"{a['n_epochs']} epochs, flossing '{a['schedule']}'"
                             + (f" with k = {a['n_exponents']}" if a["schedule"] != "none" else ""))

    def _report(self, done, total, desc, postfix):
        self.bar.max, self.bar.value = max(total, 1), done
        self.bar.description = desc.split()[0] if desc == "flossing" else "training"

    def train(self):
        """Train with the current settings (as the button does); in a live kernel in a worker
        thread (returns at once), else synchronously (returns the history)."""
        if self.message is not None:
            return None
        args = self._config_args()
        if self.background:
            if self._thread is not None and self._thread.is_alive():
                return None
            self.button.disabled = True
            self._thread = threading.Thread(target=self._train, args=(args,), daemon=True)
            self._thread.start()
            return None
        return self._train(args)

    def _train(self, args):
        import time
        start = time.perf_counter()
        try:
            self.status.value = "<i>training ...</i>"
            config, history = ex.train_run(**args, progress=self._report)
        except USER_ERRORS as err:
            self.message = str(err)
            self.status.value = (f"<span style='color:#a00'>Training stopped: "
                                 f"{html.escape(str(err))}</span>")
            return None
        finally:
            self.button.disabled = self.message is not None
        self.add_run(args, history)
        self.status.value = (f"trained in {time.perf_counter() - start:.1f} s: final accuracy "
                             f"{history.final_accuracy:.3f} (chance 0.5)")
        return history

    def set(self, **values) -> "TrainingDashboard":
        """Set several controls at once (without training)."""
        for name, value in values.items():
            self.controls[name].value = value
        return self

    def wait(self, timeout: float = 300.0):
        if self._thread is not None:
            self._thread.join(timeout)
        return self

    def add_run(self, args, history):
        label = f"{args['task']} d={args['delay']} {args['schedule']}" + (
            f" k={args['n_exponents']}" if args["schedule"] != "none" else "")
        colour = plots.SCHEDULE_COLOURS.get(args["schedule"]) if not any(
            r[0]["schedule"] == args["schedule"] for r in self.runs) else None
        plots.add_learning_curve(self.artists, label, history.eval_epochs, history.accuracy,
                                 history.loss, colour)
        self.runs.append((args, history))
        self.n_draws += 1
        self._redraw()

    def clear(self):
        plots.clear_learning_curves(self.artists)
        self.runs.clear()
        self._redraw()

    def _redraw(self):
        from ..core.style import render_png
        self.image.value = render_png(self.fig)

    def static_figure(self):
        fig, art = plots.learning_curves_figure()
        for args, history in self.runs:
            plots.add_learning_curve(art, args["schedule"], history.eval_epochs,
                                     history.accuracy, history.loss,
                                     plots.SCHEDULE_COLOURS.get(args["schedule"]))
        return fig

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


def training_dashboard(**kwargs) -> TrainingDashboard:
    """See :class:`TrainingDashboard`."""
    return TrainingDashboard(**kwargs)


# --- 06 ---------------------------------------------------------------------------------------------

def why_dashboard(n_exponents=16, gain=1.0, n_units=None, window=60):
    """k and the number of flossing steps -> condition number, gradient rank and singular values."""
    d = ex.defaults()
    n = n_units or d["train_units"]
    every, count = d["ckpt_every"], d["ckpt_count"]
    controls = {
        "n_exponents": slider(W.IntSlider, "flossed k", n_exponents, 1, 40),
        "checkpoint": W.SelectionSlider(options=[(str(i * every), i) for i in range(count + 1)],
                                        value=0, description="flossing steps",
                                        style={"description_width": "initial"}),
    }
    note = W.HTML(f"N = {n}, gain {gain}, window t = {window} steps; flossing in episodes of "
                  f"{every} steps.")

    def compute(n_exponents, checkpoint):
        return ex.flossing_checkpoints(gain, n_exponents, n, every, count, window), checkpoint

    def draw(art, data, values):
        c, i = data
        plots.update_checkpoints(art, c.steps, c.cond, c.eff_rank, c.log_sv, i)

    def make(data, values):
        c, i = data
        return plots.checkpoints_figure(c.steps, c.cond, c.eff_rank, c.log_sv, i)

    return Dashboard(controls, compute, draw, make, height="370px", extra=[note])


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
