"""Source of the course notebooks: (kind, source[, tags]) per cell; built by tools/nbtools.py.

Edit here (or edit the .ipynb in JupyterLab and strip it with ``python tools/nbtools.py strip``).
"""

SETUP = '''
import numpy as np
import flosslab as fl
from flosslab import check, experiments as ex, plots, widgets
from flosslab.course import setup_notebook

info = setup_notebook(seed=0)
'''

THINK = "### Think about it\n"
SUMMARY = "## Summary\n"

# ------------------------------------------------------------------------------------------------
NB01 = [
("md", r"""
# 01 · Exploding and vanishing gradients

**Objectives.** After this notebook you can
1. write backpropagation through time (BPTT) for a tanh RNN as a product of one-step Jacobians,
2. predict from the gain $g$ of the recurrent weights whether gradients explode or vanish,
3. read a gradient-norm curve on a log axis: its slope is a rate per time step.
"""),
("md", "## Setup\nSeeds, device and the fast flag (`FLOSSLAB_FAST=1` shrinks sizes for CI and Binder)."),
("code", SETUP),
("md", r"""
## Concept

The network (h-form, as in `torch.nn.RNN`):

$$a_t = W h_{t-1} + U x_t + b, \qquad h_t = \tanh(a_t), \qquad y_t = V h_t + c,$$

with $W_{ij} \sim \mathcal N(0, g^2/N)$. The one-step Jacobian is
$D_t = \partial h_t / \partial h_{t-1} = \operatorname{diag}(1 - h_t^2)\, W$.

A loss $L$ at the last step $T$ sends an error signal $g_T = \partial L/\partial h_T$ back in time:

$$g_{t-1} = D_t^\top g_t, \qquad g_s = (D_T D_{T-1} \cdots D_{s+1})^\top g_T .$$

The norm of a product of $T - s$ random matrices typically grows or shrinks **exponentially**,
$\|g_s\| \approx e^{\lambda_1 (T-s)} \|g_T\|$, at a rate $\lambda_1$ set by the dynamics (notebook 02
makes this precise). Small $g$: $\lambda_1 < 0$, gradients vanish. Large $g$: the network is chaotic,
$\lambda_1 > 0$, gradients explode.
"""),
("md", r"""
## Exercise: BPTT by hand

Write `backprop_norms(params, states, g_last)` returning $\|g_t\|$ for $t = 1..T$ (index 0 is
$t = 1$, the last entry is $\|g_T\| = \|$`g_last`$\|$). `states[t-1]` is $h_t$, shape (T, N).
Use `fl.jacobian(params, h)` for the dense $D_t$ (it is $\operatorname{diag}(1-h^2) W$).
"""),
("code", '''
def backprop_norms(params, states, g_last):
    # g_{t-1} = D_t^T g_t, starting from g_T = g_last
    raise NotImplementedError

check.check_backprop_norms(backprop_norms)
'''),
("code", '''
def backprop_norms(params, states, g_last):
    g = np.asarray(g_last, dtype=float)
    norms = [np.linalg.norm(g)]
    for t in range(len(states) - 1, 0, -1):        # states[t] is h_{t+1}
        g = fl.jacobian(params, states[t]).T @ g
        norms.append(np.linalg.norm(g))
    return np.array(norms[::-1])

check.check_backprop_norms(backprop_norms)
''', ["solution"]),
("md", r"""
## Demo: gradient norms against time for a range of gains

Below, autograd backpropagates a loss placed at the last step of a copy-task batch
(`fl.state_gradient_norms`, independent of your function). First a static figure at the default
settings, then the live version: move the gain range, $N$ and $T$ (updates on release).
"""),
("code", '''
gains = (0.5, 1.0, 1.5, 2.0, 3.0)
d = ex.defaults()
times, norms = ex.gradient_norms_vs_gain(gains, d["grad_units"], d["grad_seq_len"])
fig, _ = plots.gradient_norm_figure(times, norms, gains)
fig
'''),
("code", '''
widgets.gradient_norm_dashboard()
'''),
("md", "Invariants (checked by the test suite's notebook run): at $g = 0.5$ the signal that reaches $t = 1$ has shrunk by more than $10^5$; at $g = 3$ it has grown."),
("code", '''
# NBVAL_CHECK_OUTPUT
log10_ratio = np.log10(norms[:, 0] / norms[:, -1])
print("g=0.5 vanishes:", bool(log10_ratio[0] < -5))
print("g=3.0 explodes:", bool(log10_ratio[-1] > 1))
'''),
("md", THINK + r"""
Near $g \approx 1.5$ the curve is almost flat at first and then bends. Why can the slope of
$\log\|g_t\|$ change along the sequence, and what does a *flat* curve mean for learning a
dependency 50 steps back? (Hint: the tanh saturates, so $1 - h_t^2$ depends on $g$ too.)
"""),
("md", SUMMARY + r"""
- BPTT multiplies the error signal by $D_t^\top$ once per step; products of many Jacobians grow or
  shrink exponentially.
- The rate depends on the gain: vanishing for small $g$, exploding for large $g$.
- Clipping fixes explosion only in size, not direction; nothing fixes vanishing after the fact.

**Open questions.** Is the exponential rate the same for every direction of $g_T$? (Notebook 02:
there is a whole *spectrum* of rates.) Can we *choose* the rate by changing $W$? (Notebook 04.)
"""),
]

# ------------------------------------------------------------------------------------------------
NB02 = [
("md", r"""
# 02 · Lyapunov exponents by QR

**Objectives.**
1. compute the Lyapunov spectrum $\lambda_1 \ge \dots \ge \lambda_k$ of an RNN with repeated QR
   (Benettin's algorithm) and watch the estimate converge,
2. see the transition to chaos near $g = 1$ in $\lambda_1$,
3. check two exact facts: the sum rule and the independence of the QR interval $m$.
"""),
("md", "## Setup"),
("code", SETUP),
("md", r"""
## Concept

Singular values of the long-term Jacobian $T_t = D_t \cdots D_1$ grow like $e^{\lambda_i t}$.
Multiplying the matrices out overflows quickly, so we follow a $N \times k$ orthonormal frame instead:

1. $Q_0$: orthonormal, random.
2. each step $Q \leftarrow D_t Q$ (rows scaled: $D_t Q = (1-h_t^2) \odot (W Q)$);
3. every $m$ steps $Q, R = \operatorname{qr}(Q)$ and accumulate $\log|R_{ii}|$;
4. after a transient (discarded), $\lambda_i = \frac{1}{T}\sum \log|R_{ii}|$, natural log per step.

**Telescoping.** The product of the $R$ factors is the $R$ factor of the product, so any $m$ gives the
same exponents in exact arithmetic; $m$ only trades speed against round-off.

**Sum rule.** With $k = N$: $\sum_i \lambda_i = \langle \log|\det D_t| \rangle_t
= \log|\det W| + \langle \sum_i \log(1 - h_{t,i}^2)\rangle_t$, exactly, for any trajectory.
"""),
("md", r"""
## Exercise: one QR step, then the accumulation

1. `qr_step(D, Q)` returns `(Q_new, logs)`: the Q factor of $DQ$ and $\log|R_{ii}|$ (use
   `np.linalg.qr`; mind the sign of $R_{ii}$).
2. `my_spectrum(jacobians, frame, transient)` runs `qr_step` over `jacobians` (T, N, N), starting from
   `frame` (N, k), skips the first `transient` steps' logs, and returns the exponents (k,).
"""),
("code", '''
def qr_step(D, Q):
    raise NotImplementedError

def my_spectrum(jacobians, frame, transient):
    raise NotImplementedError

check.check_qr_step(qr_step)
check.check_spectrum(my_spectrum)
'''),
("code", '''
def qr_step(D, Q):
    Q_new, R = np.linalg.qr(D @ Q)
    return Q_new, np.log(np.abs(np.diag(R)))

def my_spectrum(jacobians, frame, transient):
    Q, total = frame, np.zeros(frame.shape[1])
    for t, D in enumerate(jacobians):
        Q, logs = qr_step(D, Q)
        if t >= transient:
            total += logs
    return total / (len(jacobians) - transient)

check.check_qr_step(qr_step)
check.check_spectrum(my_spectrum)
''', ["solution"]),
("md", r"""
## Demo 1: the spectrum against the gain

The autonomous network (no input, no bias) has $h = 0$ as a fixed point whose stability is lost at
$g = 1$; beyond it the dynamics are chaotic and $\lambda_1 > 0$.
"""),
("code", '''
d = ex.defaults()
gains = np.round(np.linspace(0.25, 3.0, 12), 2)
spectra = ex.spectrum_vs_gain(gains, d["spec_units"], n_exponents=5, n_steps=d["spec_steps"])
fig, _ = plots.spectrum_vs_gain_figure(gains, spectra)
fig
'''),
("md", r"""
## Demo 2: the live spectrum

Static figure at the defaults first ($g = 2$, $N = k = 50$, QR every step), then the dashboard. Try
$k > N$ (you get a message), $m = 20$ (the same exponents, cheaper), and $g$ across 1.
"""),
("code", '''
dash = widgets.spectrum_dashboard()
dash.static_figure()
'''),
("code", '''
dash
'''),
("code", '''
# NBVAL_CHECK_OUTPUT
lam1 = {g: ex.autonomous_spectrum(g, 50, 5).exponents[0] for g in (0.5, 3.0)}
print("lambda_1 < 0 at g=0.5:", bool(lam1[0.5] < 0), "| lambda_1 > 0 at g=3:", bool(lam1[3.0] > 0))
lhs, rhs = ex.autonomous_spectrum(2.0, 50).sum_rule
print("sum rule holds to 1e-8:", abs(lhs - rhs) < 1e-8)
every_step = ex.autonomous_spectrum(2.0, 50, 10, reorth_every=1).exponents
every_5 = ex.autonomous_spectrum(2.0, 50, 10, reorth_every=5).exponents
print("QR every 5 steps = every step (1e-8):", bool(np.allclose(every_step, every_5, atol=1e-8)))
'''),
("md", THINK + r"""
Set $m = 40$ at $g = 4$ and compare the last exponents with $m = 1$. Which ones go wrong first, and
why does the rule of thumb "$m(\lambda_1 - \lambda_k) \lesssim 15$ in float64" predict it?
"""),
("md", SUMMARY + r"""
- The QR algorithm turns a product of many Jacobians into a sum of logs, one per QR.
- $\lambda_1$ crosses zero near $g = 1$: the edge of chaos.
- Exact checks: the sum rule, and the same exponents for any QR interval $m$ (up to round-off).

**Open questions.** How many steps does the estimate need to converge to two digits, and does that
depend on the gap $\lambda_i - \lambda_{i+1}$? Can we *differentiate* the exponents with respect to
$W$? (Notebook 03.)
"""),
]

# ------------------------------------------------------------------------------------------------
NB03 = [
("md", r"""
# 03 · Differentiating through QR

**Objectives.**
1. state the reverse-mode rule (VJP) of the reduced QR decomposition,
2. check it against finite differences and see the truncation / round-off trade-off,
3. derive the closed form of $\partial \sum_i \log|R_{ii}| / \partial A$.
"""),
("md", "## Setup"),
("code", SETUP),
("md", r"""
## Concept

The exponents are sums of $\log|R_{ii}|$, so their gradient flows through every QR. HIPS autograd has
no rule for `np.linalg.qr`; flosslab registers one (`fl.qr`). For $A = QR$ ($m \ge n$, full column
rank) and upstream gradients $\bar Q, \bar R$:

$$M = R \bar R^\top - \bar Q^\top Q, \qquad
\bar A = \big(\bar Q + Q\, \operatorname{copyltu}(M)\big)\, R^{-\top},$$

where $\operatorname{copyltu}(M)$ mirrors the lower triangle of $M$ onto the upper one, and
$R^{-\top}$ is applied by a triangular solve (Walter & Lehmann 2012; Seeger et al. 2017).

A **central difference** $\big(f(A + \epsilon E_{ij}) - f(A - \epsilon E_{ij})\big)/2\epsilon$ has
truncation error $\propto \epsilon^2$ and round-off error $\propto 10^{-16}/\epsilon$: the best
$\epsilon$ is in between.
"""),
("md", r"""
## Exercise: a closed form

$\sum_i \log|R_{ii}| = \log|\det A|$ for square $A$, and $= \tfrac12 \log\det(A^\top A)$ for tall
$A$. Write `logdet_gradient(A)` returning $\partial \sum_i \log|R_{ii}| / \partial A$ for both
(use `np.linalg.solve` or `np.linalg.inv`). The checker compares with autograd through `fl.qr`.
"""),
("code", '''
def logdet_gradient(A):
    raise NotImplementedError

check.check_logdet_gradient(logdet_gradient)
'''),
("code", '''
def logdet_gradient(A):
    # d/dA 1/2 log det(A^T A) = A (A^T A)^{-1}; for square A this is A^{-T}
    return A @ np.linalg.inv(A.T @ A)

check.check_logdet_gradient(logdet_gradient)
''', ["solution"]),
("md", r"""
## Demo: the VJP against finite differences

The test function is $f(A) = \sum_i \log|R_{ii}| + \sum (C \odot Q)$ with a random $C$, so both
factors' gradients are exercised. Left: each entry of the finite-difference gradient against the VJP
(on the diagonal when they agree). Right: the relative error against $\epsilon$. Try $n > m$.
"""),
("code", '''
dash = widgets.qr_gradient_dashboard()
dash.static_figure()
'''),
("code", '''
dash
'''),
("code", '''
# NBVAL_CHECK_OUTPUT
res = ex.qr_vjp_check(6, 4)
print("VJP = central difference at eps=1e-6 (rel. error < 1e-7):",
      bool(res.errors[np.argmin(abs(res.eps_grid - 1e-6))] < 1e-7))
A = np.random.default_rng(1).standard_normal((5, 5))
print("square A: gradient = A^{-T}:",
      bool(np.allclose(check.reference_logdet_gradient(A), np.linalg.inv(A).T)))
'''),
("md", THINK + r"""
The VJP divides by $R$ (through $R^{-\top}$). What happens to the gradient of the exponents when the
frame nearly collapses ($R_{kk} \to 0$), and how does QR every step (rather than every $m$ steps)
protect the backward pass as well as the forward one?
"""),
("md", SUMMARY + r"""
- The reduced-QR VJP is a few matrix products and one triangular solve: $O(N k^2)$ per QR.
- A central difference agrees to ~$10^{-9}$ at its best $\epsilon \approx 10^{-5}$, worse on either side.
- $\partial \sum \log|R_{ii}|/\partial A = A (A^\top A)^{-1}$ ($= A^{-\top}$ if square): sign flips of
  $Q$'s columns change nothing.

**Open questions.** The rule needs full column rank. What should a library do when $k > N$ or when
units saturate? (flosslab: a message for $k > N$, $-\infty$ with a warning for collapse, never NaN.)
"""),
]

# ------------------------------------------------------------------------------------------------
NB04 = [
("md", r"""
# 04 · Gradient flossing

**Objectives.**
1. write the flossing loss $L_{floss} = \frac1k \sum_{i \le k} (\lambda_i - \text{target})^2$ so that
   autograd differentiates it through the QRs,
2. floss a network live and watch its first $k$ exponents move to the target,
3. see the consequences: gradients that survive 80 steps, a smaller condition number.
"""),
("md", "## Setup"),
("code", SETUP),
("md", r"""
## Concept

$\lambda_i(W, U, b)$ are differentiable functions of the parameters (notebook 03). Gradient
flossing (Engelken, NeurIPS 2023) minimises

$$L_{floss} = \frac1k \sum_{i=1}^{k} (\lambda_i - \lambda^*)^2, \qquad \lambda^* = 0 \text{ by default},$$

on a short trajectory driven by random input bits (55 steps, 16 discarded, QR every step), with Adam.
Only $W, U, b$ change: the readout does not affect the dynamics. With $\lambda_1..\lambda_k \approx 0$,
$k$ directions of the error signal neither grow nor shrink, and the long-term Jacobian
$T_t$ has condition number (over those $k$ directions) $\kappa \approx e^{(\lambda_1 - \lambda_k) t} \approx 1$.
"""),
("md", r"""
## Exercise: the flossing loss

Write `my_flossing_loss(params, inputs, k, target)` with `fl.lyapunov_spectrum(params, inputs,
n_exponents=k, transient=16)` and `np` operations only (autograd must differentiate it: the
checker compares values *and* gradients with `fl.flossing_loss`).
"""),
("code", '''
def my_flossing_loss(params, inputs, k, target):
    raise NotImplementedError

check.check_flossing_loss(my_flossing_loss)
'''),
("code", '''
import autograd.numpy as anp

def my_flossing_loss(params, inputs, k, target):
    lam = fl.lyapunov_spectrum(params, inputs, n_exponents=k, transient=16)
    return anp.mean((lam - target) ** 2)

check.check_flossing_loss(my_flossing_loss)
''', ["solution"]),
("md", r"""
## Demo: flossing, live

Static figure at the defaults, then the dashboard: $k$, the target and the gain. Each new setting
flosses a fresh network (a few seconds; results are cached). Panels: the full spectrum before/after
(dotted line: $k$), the loss per step, $\|\partial L/\partial h_t\|$ for a loss at $t = 80$, and
$\log_{10}\kappa(T_t)$ over the first $k$ singular values.
"""),
("code", '''
dash = widgets.flossing_dashboard()
dash.static_figure()
'''),
("code", '''
dash
'''),
("code", '''
# NBVAL_CHECK_OUTPUT
r = dash.data
print("lambda_1 closer to the target after flossing:",
      bool(abs(r.spectrum_after[0] - r.target) < abs(r.spectrum_before[0] - r.target)))
print("loss lower at the end than at the start:", bool(r.losses[-5:].mean() < r.losses[:5].mean()))
print("gradient reaching t=1 larger after flossing:", bool(r.grad_after[0] > r.grad_before[0]))
'''),
("md", THINK + r"""
Flossing all $N$ exponents to zero would make the dynamics volume-preserving. Look at the spectrum
*after* flossing: what happened to the exponents beyond $k$? Why might flossing too many ($k \to N$)
hurt a network that must also *forget* irrelevant inputs?
"""),
("md", SUMMARY + r"""
- The flossing loss is a few lines once the spectrum is differentiable.
- A few dozen Adam steps bring $\lambda_1..\lambda_k$ near the target; later exponents are left
  alone (or pushed down).
- Gradients then travel much further back in time, and the long-term Jacobian is better conditioned.

**Open questions.** Is a target slightly below zero safer than exactly zero? How does the cost
$O(T(N^2k + Nk^2))$ per step limit $k$ for large networks? (Notebook 07.)
"""),
]

# ------------------------------------------------------------------------------------------------
NB05 = [
("md", r"""
# 05 · Delayed tasks: training with and without flossing

**Objectives.**
1. define the delayed copy, XOR and parity tasks precisely (our delay convention),
2. train a tanh RNN by BPTT with a flossing schedule (none, pre, inter, penalty),
3. compare learning curves when the delay is long enough that plain BPTT fails.
"""),
("md", "## Setup"),
("code", SETUP),
("md", r"""
## Concept

Inputs are i.i.d. bits $x_t \in \{0, 1\}$. With delay $d$ (the **longest** lag the target uses):

- copy: $y_t = x_{t-d}$;
- XOR: $y_t = x_{t-\lceil d/2 \rceil} \oplus x_{t-d}$ (the paper's code calls $d/2$ the delay);
- parity of order $h$: $y_t = \bigoplus_{j=1}^{h} x_{t-\lceil jd/h \rceil}$.

Loss: binary cross-entropy on logits over the steps $t \ge d$; chance accuracy is 50 %. To learn, the
error at $t$ must reach $h_{t-d}$: it is multiplied by $\approx e^{\lambda_1 d}$, so with
$\lambda_1 \approx -0.3$ and $d = 25$ it arrives damped by $e^{-7.5}$.

Schedules: **none**; **pre** ($S$ flossing steps before training); **inter** (pre, plus flossing at
$1/4$ and $1/2$ of the epochs); **penalty** ($0.1\,L_{floss}$ added to the task loss every epoch).
"""),
("md", r"""
## Exercise: the XOR targets

Write `xor_targets(bits, delay)` for bits of shape (T, B) returning an integer array of the same shape
whose rows $t \ge d$ are the XOR targets (rows $t < d$ are not scored: anything goes).
"""),
("code", '''
def xor_targets(bits, delay):
    raise NotImplementedError

check.check_xor_targets(xor_targets)
'''),
("code", '''
def xor_targets(bits, delay):
    half = -(-delay // 2)                      # ceil(d / 2)
    y = np.zeros_like(bits)
    y[delay:] = bits[delay - half:len(bits) - half] ^ bits[:len(bits) - delay]
    return y

check.check_xor_targets(xor_targets)
'''
, ["solution"]),
("code", '''
# NBVAL_CHECK_OUTPUT
b = fl.make_batch("xor", delay=3, batch_size=1, seq_len=10, seed=0)
print("bits   ", b.inputs[:, 0, 0].astype(int))
print("targets", b.targets[:, 0, 0].astype(int), " scored from t =", int(np.argmax(b.mask)))
'''),
("md", r"""
## Demo: learning curves

At the defaults, plain BPTT and preflossing on the copy task (static figure), then the dashboard:
choose the task, delay, $k$ and schedule and press **Train**. Runs accumulate so that you can compare;
a bad combination (e.g. $k > N = 32$, or parity with $d < 3$) disables the button and says why.
"""),
("code", '''
dash = widgets.training_dashboard(schedule="none")
dash.train()
dash.set(schedule="pre")
dash.train()
dash.static_figure()
'''),
("code", '''
dash
'''),
("code", '''
for args, h in dash.runs:
    print(f"{args['schedule']:>5}: final accuracy {h.final_accuracy:.2f}")
'''),
("md", THINK + r"""
Preflossing only sets the *initial* exponents. Training then changes $W$ freely. Look at the
spectrum snapshots in `dash.runs[i][1].spectra`: do the exponents drift back below zero during
training, and would interflossing help at longer delays?
"""),
("md", SUMMARY + r"""
- Delayed tasks need the gradient to cross $d$ steps; with $\lambda_1 < 0$ it dies on the way.
- A short preflossing episode (tens of steps) lets the copy task be learned at delays where plain
  BPTT stays at chance.
- Our delay convention: $d$ is the longest lag; the paper's XOR delay is half of ours.

**Open questions.** Which schedule is best as $d$ grows (the paper: 2-4x longer trainable horizons)?
How many exponents $k$ does a task of parity order $h$ need?
"""),
]

# ------------------------------------------------------------------------------------------------
NB06 = [
("md", r"""
# 06 · Why it works

**Objectives.**
1. relate the condition number of the long-term Jacobian to the spread $\lambda_1 - \lambda_k$,
2. measure the effective rank of the recurrent-weight gradient $\partial L/\partial W$,
3. compare flossing before training with flossing during training.
"""),
("md", "## Setup"),
("code", SETUP),
("md", r"""
## Concept

The gradient with respect to $W$ sums contributions from every time step,
$\partial L/\partial W = \sum_t \operatorname{diag}(1-h_t^2)\, g_t\, h_{t-1}^\top$, where $g_t$ carries
errors from later steps through $T_t^\top$. If $T_t$ is ill conditioned,
$\kappa(T_t) = \sigma_1/\sigma_k \approx e^{(\lambda_1 - \lambda_k)t}$, every error signal is squeezed onto
the top singular direction: the update has **low effective rank** and cannot adjust many directions
at once. Effective rank (Roy & Vetterli 2007): with singular values $s_i$ and $p_i = s_i/\sum_j s_j$,

$$\operatorname{erank}(M) = \exp\Big(-\sum_i p_i \log p_i\Big).$$

Flossing $\lambda_1..\lambda_k$ to zero shrinks the spread, hence $\kappa$, hence raises the rank.
"""),
("md", r"""
## Exercise: effective rank

Write `my_effective_rank(M)` (it should give $r$ for a matrix with $r$ equal non-zero singular values).
"""),
("code", '''
def my_effective_rank(M):
    raise NotImplementedError

check.check_effective_rank(my_effective_rank)
'''),
("code", '''
def my_effective_rank(M):
    s = np.linalg.svd(M, compute_uv=False)
    p = s[s > 0] / s.sum()
    return float(np.exp(-np.sum(p * np.log(p))))

check.check_effective_rank(my_effective_rank)
''', ["solution"]),
("code", '''
# NBVAL_CHECK_OUTPUT
print("erank(identity 5x5) =", round(fl.effective_rank(np.eye(5)), 6))
print("erank(rank one)     =", round(fl.effective_rank(np.outer([1, 2, 3], [4, 5])), 6))
'''),
("md", r"""
## Demo 1: flossing step by step

A network ($g = 1$) is flossed in short episodes; after each we measure $\log_{10}\kappa$ of $T_t$
over a window of $t = 60$ steps, the effective rank of $\partial L/\partial W$ on a copy-task batch,
and the singular values. Slide through the episodes; change $k$ (recomputed on release, cached).
"""),
("code", '''
dash = widgets.why_dashboard()
dash.static_figure()
'''),
("code", '''
dash
'''),
("code", '''
# NBVAL_CHECK_OUTPUT
c = dash.data[0]
print("condition number lower after flossing:", bool(c.cond[-1] < c.cond[0]))
print("gradient effective rank higher after flossing:", bool(c.eff_rank[-1] > c.eff_rank[0]))
'''),
("md", r"""
## Demo 2: flossing before vs during training

The same copy task trained with preflossing, with pre + interflossing and with the penalty; the
first and the $k$-th exponent at each evaluation (solid: $\lambda_1$, dashed: $\lambda_k$).
"""),
("code", '''
d = ex.defaults()
runs = {s: ex.train_run("copy", d["train_delay"], 8, s, d["train_units"], d["train_epochs"],
                        d["train_floss_steps"]) for s in ("none", "pre", "inter", "penalty")}
fig, _ = plots.exponents_over_training_figure(
    {s: (h.eval_epochs, np.array(h.spectra)) for s, (cfg, h) in runs.items()})
fig
'''),
("code", '''
for s, (cfg, h) in runs.items():
    print(f"{s:>7}: final accuracy {h.final_accuracy:.2f}, final lambda_1 {h.spectra[-1][0]:+.2f}")
'''),
("md", THINK + r"""
The penalty keeps the exponents near zero throughout but costs a spectrum computation every epoch.
Preflossing costs it once. Which would you pick for a 10x longer run, and what would you measure to
decide?
"""),
("md", SUMMARY + r"""
- $\log\kappa(T_t) \approx (\lambda_1 - \lambda_k)\,t$: flossing shrinks the spread and with it $\kappa$.
- A better-conditioned Jacobian gives a weight gradient of higher effective rank.
- Flossing before training sets a good start; flossing during training keeps it.

**Open questions.** Is effective rank the right measure, or the alignment of the gradient with the
task? Does flossing interact with the optimiser's own preconditioning (Adam)?
"""),
]

COURSE = {
    "01_exploding_vanishing_gradients": NB01,
    "02_lyapunov_exponents_by_qr": NB02,
    "03_differentiating_through_qr": NB03,
    "04_gradient_flossing": NB04,
    "05_delayed_tasks": NB05,
    "06_why_it_works": NB06,
}

# ------------------------------------------------------------------------------------------------
NB07 = [
("md", r"""
# 07 · Scaling up with torch

**Objectives.**
1. run the same computations with the torch engine (`flosslab.engine`) on CPU or GPU, and check it
   against the numpy reference,
2. compute the spectra of a whole **ensemble** of networks in one batched call,
3. compute spectra of GRU and LSTM cells from their Jacobians,
4. measure the cost of a flossing step against $N$ and $k$, live.
"""),
("md", "## Setup\nThe device is chosen by argument, never globally; `\"auto\"` picks CUDA when torch sees a GPU."),
("code", SETUP + '''
import torch
from flosslab import engine
device = engine.resolve_device("auto", verbose=True)
'''),
("md", r"""
## Concept

The engine mirrors the reference function by function (`engine.lyapunov_spectrum`,
`engine.flossing_loss`, `engine.floss`, ...) with tensors: autograd comes from torch, and
`torch.linalg.qr(mode="reduced")` is differentiable. Three things only torch makes easy:

- **Ensembles**: $E$ networks stacked as $W \in \mathbb R^{E\times N\times N}$; every step is a
  batched matrix product and a batched QR, so $E$ spectra cost about as much as a few.
- **Any cell**: for a GRU or LSTM the one-step Jacobian $D_t = \partial z_t/\partial z_{t-1}$ is
  computed by `torch.func` (vmap of jacrev); the QR algorithm is unchanged. An LSTM's state is
  $(h, c)$, so it has $2N$ exponents.
- **Cost**: a flossing step over $T$ steps costs $O\big(T(N^2k + Nk^2)\big)$: the product $WQ$ and the
  QR of an $N \times k$ frame, forward and backward.
"""),
("md", r"""
## Exercise: a batched QR step in torch

Write `batched_log_r(frames)` for a tensor of frames (B, N, k) returning the (B, k) tensor of
$\log|R_{ii}|$ of each frame's reduced QR, without a Python loop over B.
"""),
("code", '''
def batched_log_r(frames):
    raise NotImplementedError

check.check_batched_log_r(batched_log_r)
'''),
("code", '''
def batched_log_r(frames):
    R = torch.linalg.qr(frames, mode="reduced").R
    return torch.log(torch.abs(torch.diagonal(R, dim1=-2, dim2=-1)))

check.check_batched_log_r(batched_log_r)
''', ["solution"]),
("md", "## Demo 1: the engine agrees with the reference\nSame network, same bits, same initial frame."),
("code", '''
# NBVAL_CHECK_OUTPUT
ref, eng = ex.torch_vs_reference(gain=1.5, n_units=16, n_exponents=8, n_steps=120, device=device)
print("torch engine = numpy reference (float64, 1e-10):", bool(np.allclose(ref, eng, atol=1e-10)))
'''),
("md", r"""
## Demo 2: an ensemble in one call

Twelve networks with gains from 0.5 to 3, one batched spectrum computation (compare with the twelve
separate runs of notebook 02).
"""),
("code", '''
d = ex.defaults()
gains = np.round(np.linspace(0.5, 3.0, 12), 2)
spectra = ex.ensemble_spectrum_vs_gain(gains, d["ens_units"], n_exponents=4, n_steps=d["ens_steps"],
                                       device=device)
fig, _ = plots.spectrum_vs_gain_figure(gains, spectra, n_shown=4)
fig
'''),
("md", "## Demo 3: GRU and LSTM spectra\nTorch's own cells with their default initialisation, driven by the same random bits."),
("code", '''
cells = ex.cell_spectra(n_units=d["cell_units"], n_steps=d["cell_steps"])
fig, _ = plots.cell_spectra_figure(cells)
fig
'''),
("md", r"""
## Demo 4: cost against $N$ and $k$, measured live

The device control is disabled when torch sees no GPU. Choose which size to sweep; each setting
is timed anew (so numbers vary a little). $k > N$ gives a message.
"""),
("code", '''
dash = widgets.cost_dashboard(n_units=d["cost_units"], n_exponents=d["cost_k"])
dash.static_figure()
'''),
("code", '''
dash
'''),
("md", THINK + r"""
On a GPU the batched QR loops over the batch internally, so an ensemble of 1024 frames costs about
1024 single QRs. A Cholesky-based orthonormalisation (`engine.cholesky_qr2`) uses only matrix
products. When is it accurate enough, and why does float64 matter there?
"""),
("md", SUMMARY + r"""
- The torch engine reproduces the reference to round-off, on CPU or GPU.
- Ensembles turn many spectra into one batched computation.
- Any recurrent cell has a spectrum once its one-step Jacobian is available.
- The cost of flossing grows like $N^2 k + N k^2$ per step: $k$ is the knob to keep it affordable.

**Open questions.** How large an ensemble fits in 2 GB? Does flossing a GRU or LSTM help as much as a
vanilla RNN on the delayed tasks?
"""),
]

COURSE["07_scaling_up_with_torch"] = NB07
