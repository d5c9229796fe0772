"""Training budgets of the reproduction: ours (``default``) and the author's (``paper``), side by side.

A budget fixes everything about a training run except the task, delay, flossing schedule and seed:

=====================  ===================================  ===========================================
setting                ``default`` (fits a laptop)          ``paper`` (the author's XOR example code)
=====================  ===================================  ===========================================
units N                64                                   80
flossed exponents k    48                                   75
epochs                 500                                  3001
batch                  16 fresh sequences                   16 fresh sequences
sequence length        delay + 50                           300
Adam learning rate     3e-3                                 1e-3
gradient clipping      norm 1.0 per parameter array         norm 0.03 per parameter array
flossing steps         200 per episode                      500 per episode
flossing episodes      epoch 0 (pre), 125 and 250 (inter)   epoch 0 (pre), 100 and 200 (inter)
flossing window        55 steps, 16 discarded, lr 1e-3      55 steps, 16 discarded, lr 1e-3
evaluation             every 50 epochs, 256 sequences       every 250 epochs, 256 sequences
floating point         float64                              float32 (PyTorch's default, as the author)
=====================  ===================================  ===========================================

Delay convention: d is the LONGEST lag of the target (:mod:`flosslab.core.tasks`); delayed XOR is
``y_t = x_{t-ceil(d/2)} XOR x_{t-d}``, the author's published notation (y_t = x_{t-d/2} XOR x_{t-d},
README of his SurrogateGradientFlossing repository). His code's variable ``delay`` is d/2: the
example's ``delay = 10`` is d = 20 here. The paper budget keeps the example's settings and sweeps d.

The author's code does not state a flossing learning rate separate from the task's; both are 1e-3
here. A *variant* changes settings of a budget (``VARIANTS``, each with the label tables print and
the help the command line shows), to measure what they do. ``author`` trains as the author's code
does (GradientFlossing_ExampleCode.jl: his readout, his optimisers kept across the run, his learned
initial states, his fixed flossing frame, his episodes after 99 and 199 updates);
``author_readout``, ``author_adam``, ``author_init_state`` and ``author_frame`` make one of those
changes alone (torch engine only; see :class:`~flosslab.core.trainconfig.TrainConfig`).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Callable

from ..core.errors import FlosslabError
from ..core.trainconfig import TrainConfig
from ..core.validate import check_choice


@dataclass(frozen=True)
class Budget:
    """Everything about a training run except task, delay, schedule and seed."""
    name: str
    n_units: int
    n_exponents: int
    n_epochs: int
    batch_size: int
    seq_len: int | None             # None: delay + 50
    lr: float
    clip: float
    floss_steps: int
    floss_lr: float
    inter_epochs: tuple
    eval_every: int
    eval_batch: int
    dtype: str
    gain: float = 1.0
    floss_reorth: int | str = 1      # the flossing episodes' QR interval (1: every step, as his code)
    readout: str = "state"           # the author's training choices (TrainConfig): off by default
    keep_adam: bool = False
    init_state: str = "zero"
    floss_frame: str = "fresh"
    #: longest lags swept by default, per task
    delays: tuple = ()

    def config(self, task: str, delay: int, schedule: str, seed: int, order=None,
               n_exponents=None) -> TrainConfig:
        """The :class:`TrainConfig` of one run of this budget."""
        return TrainConfig(task=task, delay=delay, order=order, n_units=self.n_units,
                           gain=self.gain, n_epochs=self.n_epochs, batch_size=self.batch_size,
                           seq_len=self.seq_len, lr=self.lr, clip=self.clip, flossing=schedule,
                           n_exponents=self.n_exponents if n_exponents is None else n_exponents,
                           floss_steps=self.floss_steps, floss_lr=self.floss_lr,
                           floss_reorth=self.floss_reorth,
                           inter_epochs=self.inter_epochs if schedule == "inter" else (),
                           eval_every=self.eval_every, eval_batch=self.eval_batch, seed=seed,
                           readout=self.readout, keep_adam=self.keep_adam,
                           init_state=self.init_state, floss_frame=self.floss_frame)

    def with_variant(self, variant: str) -> "Budget":
        """This budget with a variant's settings changed (see :data:`VARIANTS`); ``""`` changes
        nothing."""
        check_choice("the budget variant", variant, tuple(VARIANTS))
        changes = VARIANTS[variant].changes
        return replace(self, **changes(self)) if changes else self

    def as_dict(self) -> dict:
        return asdict(self)


DEFAULT = Budget(name="default", n_units=64, n_exponents=48, n_epochs=500, batch_size=16,
                 seq_len=None, lr=3e-3, clip=1.0, floss_steps=200, floss_lr=1e-3,
                 inter_epochs=(125, 250), eval_every=50, eval_batch=256, dtype="float64",
                 delays=(("copy", (10, 20, 30, 40, 50, 60)),
                         ("xor", (12, 16, 20, 24, 28, 32, 40, 48))))

PAPER = Budget(name="paper", n_units=80, n_exponents=75, n_epochs=3001, batch_size=16,
               seq_len=300, lr=1e-3, clip=0.03, floss_steps=500, floss_lr=1e-3,
               inter_epochs=(100, 200), eval_every=250, eval_batch=256, dtype="float32",
               delays=(("copy", (40, 56, 72, 88, 104, 120)),
                       ("xor", (32, 40, 48, 56, 64, 72, 80))))

BUDGETS = {"default": DEFAULT, "paper": PAPER}

@dataclass(frozen=True)
class Variant:
    """Settings of a budget changed together: ``changes(budget)`` gives them (None: the budget
    itself); ``label`` is what the tables print (against the paper budget), ``help`` what the
    command line's ``--variant`` help says."""
    changes: Callable | None
    label: str
    help: str


_AUTHOR = {"readout": "author", "keep_adam": True, "init_state": "learned",
           "floss_frame": "fixed"}

#: The variants, by the name that records, keys and ``--variant`` use ("" is the budget itself).
VARIANTS = {
    "": Variant(None, "the paper budget itself", "the budget itself"),
    "floss200": Variant(lambda b: {"floss_steps": 200},
                        "200 flossing steps per episode instead of 500",
                        "200 flossing steps per episode"),
    "clip1": Variant(lambda b: {"clip": 1.0}, "gradient clipped to norm 1 instead of 0.03",
                     "clipping at norm 1.0"),
    "late_episodes": Variant(lambda b: {"inter_epochs": (b.n_epochs // 4, b.n_epochs // 2)},
                             "periodic episodes at epochs 750 and 1500 instead of 100 and 200",
                             "periodic episodes at epochs/4 and epochs/2"),
    "seq_d50": Variant(lambda b: {"seq_len": None}, "sequences of d + 50 steps instead of 300",
                       "sequences of delay + 50"),
    "floss_qr_auto": Variant(
        lambda b: {"floss_reorth": "auto"},
        "not an ablation: the flossing episodes' QR at the automatic interval instead of every "
        "step (floss_qr_auto; the same exponents in exact arithmetic, faster)",
        "not an ablation: the flossing episodes take a QR only as often as the frame's spread "
        "needs (same exponents in exact arithmetic, faster; the author's code takes one every "
        "step)"),
    "author": Variant(
        lambda b: {**_AUTHOR, "inter_epochs": tuple(e - 1 for e in b.inter_epochs)},
        "the author's own training (his readout, optimisers kept, learned initial states, fixed "
        "flossing frame, episodes after 99 and 199 updates)",
        "train as the author's code does: readout from the pre-activation (weights N(0, 1), "
        "offset 0.001, trained), one Adam per role kept across the run, learned initial states "
        "per batch column, the same flossing frame every step, episodes one update earlier "
        "(torch engine only)"),
    "author_readout": Variant(
        lambda b: {"readout": "author"},
        "the author's readout alone (from the pre-activation, weights N(0, 1), offset 0.001)",
        "only the author's readout from the pre-activation"),
    "author_adam": Variant(
        lambda b: {"keep_adam": True},
        "the author's optimisers alone (one Adam per role kept across the run)",
        "only the author's optimisers kept across the run"),
    "author_init_state": Variant(
        lambda b: {"init_state": "learned"},
        "the author's learned initial states alone (one per batch column, trained)",
        "only the author's learned initial states"),
    "author_frame": Variant(
        lambda b: {"floss_frame": "fixed"},
        "the author's fixed flossing frame alone (the same frame and state every step)",
        "only the author's fixed flossing frame"),
}


def variant_help() -> str:
    """The ``--variant`` help of the command line, from :data:`VARIANTS`."""
    return "change budget settings: " + "; ".join(f"{name}: {v.help}"
                                                   for name, v in VARIANTS.items() if name)


def describe(budget: Budget) -> str:
    """One line of a budget's settings, for ``--help`` and the README."""
    b = budget
    inter = "/".join(str(e) for e in (0, *b.inter_epochs))
    seq = "delay+50" if b.seq_len is None else str(b.seq_len)
    return (f"N={b.n_units}, k={b.n_exponents}, {b.n_epochs} epochs of batch {b.batch_size}, "
            f"Adam lr {b.lr:g}, clip {b.clip:g} per array, {b.floss_steps} flossing steps at "
            f"epochs {inter}, sequences of {seq}, {b.dtype}")


def get_budget(name: str) -> Budget:
    """``"default"`` or ``"paper"``."""
    if name not in BUDGETS:
        raise FlosslabError(f"the budget must be one of {', '.join(BUDGETS)}; got {name!r}")
    return BUDGETS[name]


def budget_delays(budget: Budget, task: str) -> tuple:
    """The delays swept by default for ``task`` under ``budget``."""
    return dict(budget.delays).get(task, ())
