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

def qr_gradient_dashboard(n_rows=6, n_cols=4, log10_eps=-6.0):
    """Shape of A and the finite-difference step -> VJP against central differences."""
    controls = {
        "n_rows": slider(W.IntSlider, "rows m", n_rows, 1, 12),
        "n_cols": slider(W.IntSlider, "columns n", n_cols, 1, 12),
        "log10_eps": slider(W.FloatSlider, "log10 step eps", log10_eps, -12.0, -1.0, 0.5,
                             live=True),
    }

    def compute(n_rows, n_cols, log10_eps):
        check = ex.qr_vjp_check(n_rows, n_cols)
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

    return Dashboard(controls, compute, draw, make, height="380px")


# --- 04 ---------------------------------------------------------------------------------------------

def flossing_dashboard(n_exponents=None, target=0.0, gain=1.0, n_units=None, n_steps=None):
    """k, target, gain -> spectrum, loss, gradient norms and condition number before/after flossing."""
    d = ex.defaults()
    n = n_units or d["floss_units"]
    steps = n_steps or d["floss_steps"]
    controls = {
        "n_exponents": slider(W.IntSlider, "flossed k", n_exponents or d["floss_k"], 1, 40),
        "target": slider(W.FloatSlider, "target", target, -0.5, 0.2, 0.05),
        "gain": slider(W.FloatSlider, "gain g", gain, 0.5, 3.0, 0.1),
    }
    note = W.HTML(f"N = {n} units, {steps} flossing steps (Adam, lr {d['floss_lr']}); "
                  "each new setting takes a few seconds, then it is cached.")

    def compute(n_exponents, target, gain):
        return ex.flossing_run(round(float(gain), 4), n_exponents, round(float(target), 4), n,
                               steps, d["floss_lr"])

    return Dashboard(controls, compute, lambda art, r, v: plots.update_flossing(art, r),
                     lambda r, v: plots.flossing_figure(r), height="590px", extra=[note])


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


def cost_dashboard(n_units=64, n_exponents=32, sweep="k"):
    """Device, swept size, N, k -> measured seconds per flossing step (torch engine), log-log."""
    controls = {
        "device": device_control(),
        "sweep": W.ToggleButtons(options=["N", "k"], value=sweep, description="sweep"),
        "n_units": slider(W.IntSlider, "units N", n_units, 8, 256, 8),
        "n_exponents": slider(W.IntSlider, "exponents k", n_exponents, 1, 256),
    }
    note = W.HTML("Each setting is measured anew (median of 3 flossing steps, T = 55). "
                  "Slope 1 on the k sweep: linear in k at small k; up to 2 (N^2 k) on the N sweep.")

    def compute(device, sweep, n_units, n_exponents):
        return ex.cost_sweep(sweep, n_units, n_exponents, device)

    def draw(art, data, values):
        plots.set_line(art["line"], *data)
        art["line"].set_label(f"{values['device']}, sweep {values['sweep']}")
        art["ax"].set_xlabel("N (k fixed)" if values["sweep"] == "N" else "k (N fixed)")
        art["ax"].legend(fontsize="small")
        plots.rescale(art["ax"])

    def make(data, values):
        fig, art = plots.cost_figure(*data, xlabel="size", label="")
        draw(art, data, values)
        return fig, art

    return Dashboard(controls, compute, draw, make, height="380px", extra=[note])
