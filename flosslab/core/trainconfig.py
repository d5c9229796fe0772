"""Training configuration and flossing schedules, shared by the numpy reference and the torch engine.

Schedules (``flossing``):

* ``"none"``    plain BPTT.
* ``"pre"``     preflossing: ``floss_steps`` flossing steps before training.
* ``"inter"``   preflossing plus ``floss_steps`` more at each epoch in ``inter_epochs``
                (the paper's code flosses at epochs 100 and 200).
* ``"penalty"`` no separate episodes: ``penalty_weight * L_floss`` is added to the task loss at every
                epoch.

Four choices reproduce the author's own training (GradientFlossing_ExampleCode.jl; the torch engine
only, the numpy reference refuses them):

* ``readout``: ``"state"`` (y = V h_t + c, V ~ N(0, 1/N), c = 0) or ``"author"`` (y = V a_t + c
  from the pre-activation a_t, V ~ N(0, 1), c = 0.001 trained: his ``r = wr*x .+ offset``);
* ``keep_adam``: False (a fresh Adam for each flossing episode, the task's moments reset after it)
  or True (one Adam per role, task and flossing, kept across the whole run, as his ``opt`` and
  ``optFlossing``);
* ``init_state``: ``"zero"`` (h_0 = 0) or ``"learned"`` (his ``xInit``: one pre-activation per
  sequence of the batch, relaxed without input, trained and clipped with the task parameters;
  h_0 = tanh(x0[j]); evaluation sequence j starts from x0[j mod batch]);
* ``floss_frame``: ``"fresh"`` (each flossing step draws its frame and initial state) or
  ``"fixed"`` (the same frame every step, from the run's seed, as his ``Random.seed!(sONS)``, started
  from the learned state x0[0] where there is one).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .errors import FlosslabError
from .tasks import TASKS, default_seq_len, task_lags
from .validate import check_choice, check_int, check_real

SCHEDULES = ("none", "pre", "inter", "penalty")
#: The three schedules the paper compares (and the reproduction sweeps).
PAPER_SCHEDULES = ("none", "pre", "inter")
READOUTS = ("state", "author")
INIT_STATES = ("zero", "learned")
FLOSS_FRAMES = ("fresh", "fixed")
#: What a student reads for each schedule (figures, tables, progress bars, the command line): the
#: one table of these names; everything else reads it.
SCHEDULE_LABELS = {"none": "no flossing", "pre": "preflossing", "inter": "pre + periodic flossing",
                   "penalty": "flossing as a penalty"}


def _distinct(values) -> list:
    return list(dict.fromkeys(values))


def describe_members(configs) -> str:
    """What a progress bar says for networks trained together: every task, delay and schedule among
    them by display name ("copy d=10/20, no flossing / preflossing (6 networks)"), not the first
    member's setting."""
    configs = list(configs)
    tasks = "/".join(_distinct(c.task for c in configs))
    delays = "/".join(str(d) for d in _distinct(c.delay for c in configs))
    schedules = " / ".join(SCHEDULE_LABELS.get(s, s)
                           for s in _distinct(c.flossing for c in configs))
    text = f"{tasks} d={delays}, {schedules}"
    return text + (f" ({len(configs)} networks)" if len(configs) > 1 else "")


def flossed_k_label(key) -> str:
    """A row of an accuracy-against-k sweep by its display name: "no flossing" for the key "none",
    else "k = 48"."""
    return SCHEDULE_LABELS["none"] if str(key) == "none" else f"k = {key}"


def describe_flossing(n_exponents, n_steps, n_networks: int = 1) -> str:
    """What a flossing progress bar says: "flossing k = 4, 80 steps", "flossing k = 1/8/24, 60
    steps (3 networks)"."""
    ks = n_exponents if isinstance(n_exponents, (list, tuple)) else [n_exponents]
    steps = n_steps if isinstance(n_steps, (list, tuple)) else [n_steps]
    text = (f"flossing k = {'/'.join(str(k) for k in _distinct(ks))}, "
            f"{'/'.join(str(s) for s in _distinct(steps))} steps")
    return text + (f" ({n_networks} networks)" if n_networks > 1 else "")


@dataclass
class TrainConfig:
    """Everything that defines a training run. Defaults run in about a minute on a laptop."""
    task: str = "copy"
    delay: int = 5
    order: int | None = None          # parity order p (task "parity" only)
    n_units: int = 64
    gain: float = 1.0
    n_epochs: int = 300
    batch_size: int = 16
    seq_len: int | None = None        # default: delay + 50
    lr: float = 3e-3
    clip: float = 1.0                 # max gradient norm per parameter array
    flossing: str = "none"
    n_exponents: int | None = None    # k flossed; default min(N, 16)
    floss_target: float = 0.0
    floss_steps: int = 200
    floss_lr: float = 1e-3
    floss_reorth: int | str = 1       # QR interval of the flossing episodes: 1 (the author's code) or "auto"
    inter_epochs: tuple = field(default_factory=tuple)   # default: N/4 and N/2 of the epochs
    penalty_weight: float = 0.1
    eval_every: int = 25
    eval_batch: int = 256
    seed: int = 0
    readout: str = "state"            # "author": from the pre-activation, his initialisation
    keep_adam: bool = False           # one Adam per role kept across the run (his code)
    init_state: str = "zero"          # "learned": his trained xInit, one per batch column
    floss_frame: str = "fresh"        # "fixed": the same flossing frame every step (his code)

    def __post_init__(self):
        check_choice("task", self.task, TASKS)
        lags = task_lags(self.task, self.delay, self.order)
        self.n_units = check_int("the number of units N", self.n_units, minimum=1)
        self.gain = check_real("the gain g", self.gain, minimum=0.0)
        self.n_epochs = check_int("the number of epochs", self.n_epochs, minimum=0)
        self.batch_size = check_int("the batch size", self.batch_size, minimum=1)
        if self.seq_len is None:
            self.seq_len = default_seq_len(lags[-1])
        self.seq_len = check_int("the sequence length T", self.seq_len, minimum=1)
        if self.seq_len <= lags[-1]:
            raise FlosslabError(f"the delay ({lags[-1]}) must be shorter than the sequence "
                                f"(T={self.seq_len}); choose T > delay")
        self.lr = check_real("the learning rate", self.lr, minimum=0.0, strict_minimum=True)
        self.clip = check_real("the clipping norm", self.clip, minimum=0.0, strict_minimum=True)
        check_choice("flossing", self.flossing, SCHEDULES)
        if self.n_exponents is None:
            self.n_exponents = min(self.n_units, 16)
        self.n_exponents = check_int("the number of flossed exponents k", self.n_exponents,
                                     minimum=1)
        if self.n_exponents > self.n_units:
            raise FlosslabError(f"k={self.n_exponents} exponents requested but the network has "
                                f"N={self.n_units} units; choose k <= N")
        self.floss_target = check_real("the flossing target", self.floss_target)
        self.floss_steps = check_int("the number of flossing steps", self.floss_steps, minimum=0)
        self.floss_lr = check_real("the flossing learning rate", self.floss_lr, minimum=0.0,
                                   strict_minimum=True)
        if not (isinstance(self.floss_reorth, str) and self.floss_reorth == "auto"):
            self.floss_reorth = check_int("floss_reorth (the flossing QR interval, or 'auto')",
                                          self.floss_reorth, minimum=1)
        if isinstance(self.inter_epochs, (str, bytes)) or not hasattr(self.inter_epochs,
                                                                        "__iter__"):
            raise FlosslabError(f"inter_epochs must be a sequence of epochs (e.g. (100, 200)), "
                                f"got {self.inter_epochs!r}")
        self.inter_epochs = tuple(self.inter_epochs)
        if not self.inter_epochs and self.flossing == "inter":
            self.inter_epochs = tuple(sorted({self.n_epochs // 4, self.n_epochs // 2} - {0}))
        self.inter_epochs = tuple(check_int("an interflossing epoch", e, minimum=1,
                                            maximum=max(self.n_epochs - 1, 1))
                                  for e in self.inter_epochs)
        self.penalty_weight = check_real("the penalty weight", self.penalty_weight, minimum=0.0)
        self.eval_every = check_int("eval_every", self.eval_every, minimum=1)
        self.eval_batch = check_int("the evaluation batch size", self.eval_batch, minimum=1)
        self.seed = check_int("seed", self.seed, minimum=0)
        check_choice("readout", self.readout, READOUTS)
        check_choice("init_state", self.init_state, INIT_STATES)
        check_choice("floss_frame", self.floss_frame, FLOSS_FRAMES)
        if not isinstance(self.keep_adam, bool):
            raise FlosslabError(f"keep_adam must be True or False, got {self.keep_adam!r}")

    def author_choices(self) -> list:
        """The author's training choices this configuration makes (empty: flosslab's own)."""
        return [name for name, plain in (("readout", "state"), ("keep_adam", False),
                                         ("init_state", "zero"), ("floss_frame", "fresh"))
                if getattr(self, name) != plain]

    @staticmethod
    def check(config) -> "TrainConfig":
        """``config``, or the default configuration for None; anything else raises."""
        if config is None:
            return TrainConfig()
        if not isinstance(config, TrainConfig):
            raise FlosslabError(f"config must be a TrainConfig (e.g. TrainConfig(task='copy', "
                                f"delay=5)), got {type(config).__name__}")
        return config

    def floss_epochs(self) -> list[int]:
        """Epochs before which a flossing episode runs (0 = preflossing)."""
        if self.flossing == "pre":
            return [0]
        if self.flossing == "inter":
            return [0, *self.inter_epochs]
        return []

    def segments(self) -> list[tuple[int, int]]:
        """[start, stop) epoch ranges of task training between flossing episodes."""
        cuts = sorted({0, self.n_epochs, *[e for e in self.floss_epochs() if e < self.n_epochs]})
        return [(a, b) for a, b in zip(cuts[:-1], cuts[1:])]

    def as_dict(self) -> dict:
        return asdict(self)
