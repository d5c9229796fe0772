"""A property-based sweep of the public API (hypothesis): random sizes, types, dtypes, shapes,
NaN/inf, empty and huge values. Every call must either return finite numbers (or -inf exponents
together with a FrameCollapseWarning, the documented collapsed frame) or raise a FlosslabError
(bad input) or NumericalError (numerical trouble) with a message; never any other exception type,
never NaN or +inf in a result.

Each example starts from valid arguments (so that the computations themselves are exercised, on
networks from quiet to saturated) and, in about half of the examples, replaces one or two of them
with something wrong: a corrupted array (NaN, inf, 1e300, zeros, another dtype or shape, empty, a
list, text), a missing or extra key, or a weird value (None, text, bool, NaN, inf, 2.5, -1, huge).

Examples are bounded (``max_examples``) so that the file runs in about a minute; the default
profile is derandomized (the same examples every run). ``HYPOTHESIS_PROFILE=explore`` draws fresh
random examples, ten times as many, to look for new failures.
"""
import math
import os
import warnings

import numpy as np
import torch
from hypothesis import HealthCheck, event, given, settings, strategies as st

import flosslab as fl
from flosslab import engine as E
from flosslab.core.errors import FlosslabError, FrameCollapseWarning, NumericalError
from flosslab.core.records import FlossHistory, SpectrumHistory, TrainHistory

settings.register_profile("ci", deadline=None, database=None, derandomize=True,
                          suppress_health_check=list(HealthCheck))
settings.register_profile("explore", deadline=None, database=None, derandomize=False,
                          suppress_health_check=list(HealthCheck))
EXPLORE = os.environ.get("HYPOTHESIS_PROFILE") == "explore"
settings.load_profile("explore" if EXPLORE else "ci")
EXAMPLES = 3000 if EXPLORE else 300


# --- strategies -----------------------------------------------------------------------------

#: not a valid number of anything
WEIRD = st.one_of(st.none(), st.booleans(), st.text(max_size=2), st.just([1, 2]),
                  st.just(float("nan")), st.just(float("inf")), st.just(-float("inf")),
                  st.just(2.5), st.just(-1), st.just(object()), st.just(np.ones(2)))
HUGE = st.sampled_from([10 ** 6, 2 ** 62, 1e300, -1e300])
BAD_REAL = st.one_of(st.floats(allow_nan=True, allow_infinity=True), HUGE, WEIRD)
SEEDS = st.integers(0, 2 ** 32)
BAD_SEED = st.one_of(st.integers(-3, -1), st.just(2 ** 70), WEIRD)


class Kw(dict):
    """Keyword arguments that remember which of them were replaced by bad ones (``broken``)."""
    broken: frozenset = frozenset()


@st.composite
def arguments(draw, valid: dict, bad: dict):
    """Valid keyword arguments; in about half of the examples one or two replaced by bad ones
    (named in the result's ``broken``)."""
    kw = Kw({name: draw(strategy) for name, strategy in valid.items()})
    broken = draw(st.one_of(st.just(set()), st.sets(st.sampled_from(sorted(bad)), min_size=1,
                                                     max_size=2)))
    for name in sorted(broken):
        kw[name] = draw(bad[name])
        event(f"bad {name}")
    kw.broken = frozenset(broken)
    return kw


@st.composite
def corrupt_array(draw, array):
    """The array changed: NaN/inf/huge entries, scaled to 0 or 1e300 or by -40 (saturating),
    another dtype, another shape, empty, a list, text, a number."""
    how = draw(st.sampled_from(["nan", "inf", "huge", "zero", "scale", "float32", "int",
                                "complex", "bool", "shape", "empty", "list", "string", "scalar",
                                "torch"]))
    event(f"array {how}")
    if isinstance(array, torch.Tensor):
        array = array.numpy()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")      # a complex array is not cast to real here
            a = np.array(array, dtype=float, copy=True)
    except (TypeError, ValueError, Warning):   # already corrupted into something else
        return array
    if how in ("nan", "inf", "huge"):
        if a.size:
            a.flat[draw(st.integers(0, a.size - 1))] = {"nan": np.nan, "inf": -np.inf,
                                                       "huge": 1e300}[how]
        return a
    if how == "zero":
        return np.zeros_like(a)
    if how == "scale":
        return a * draw(st.sampled_from([1e300, 1e-300, 1e30, -40.0]))
    if how in ("float32", "int", "complex", "bool"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return a.astype({"float32": np.float32, "int": np.int64, "complex": np.complex128,
                             "bool": bool}[how])
    if how == "shape":
        return np.ones(draw(st.lists(st.integers(0, 4), min_size=0, max_size=4)))
    if how == "empty":
        return np.zeros((0,) + a.shape[1:])
    if how == "list":
        return a.tolist()
    if how == "string":
        return "W"
    if how == "torch":
        return torch.as_tensor(a)
    return 1.5


@st.composite
def network(draw, n=st.integers(1, 5)):
    """(p, changed): a network from init_rnn at a gain from 0 to 10 (saturated at the top); in
    about half of the examples one or two changes (``changed``): a key dropped or added, or an
    array corrupted."""
    p = fl.init_rnn(draw(n), draw(st.floats(0, 10)), n_inputs=draw(st.integers(0, 2)),
                    seed=draw(st.integers(0, 9)))
    changes = draw(st.sampled_from([0, 0, 1, 2]))
    names = sorted(p)           # the network's own arrays (an extra key is not corrupted further)
    for _ in range(changes):
        name = draw(st.sampled_from(names))
        action = draw(st.sampled_from(["corrupt"] * 4 + ["drop", "extra"]))
        event(f"params {action}")
        if action == "drop":
            p.pop(name, None)
        elif action == "extra":
            p["Z"] = np.ones(3)
        elif name in p:
            p[name] = draw(corrupt_array(p[name]))
    return p, changes > 0


def params(n=st.integers(1, 5)):
    """The network of :func:`network`, without its flag."""
    return network(n).map(lambda pc: pc[0])


def n_inputs_of(p) -> int:
    u = p.get("U") if hasattr(p, "get") else None
    return u.shape[-1] if hasattr(u, "shape") and len(u.shape) >= 1 else 1


def n_units_of(p) -> int:
    w = p.get("W") if hasattr(p, "get") else None
    return max(w.shape[-1], 1) if hasattr(w, "shape") and len(w.shape) >= 1 else 1


@st.composite
def bits(draw, n_in, lead=(), t=st.integers(1, 40)):
    """Random bits (T, *lead, n_inputs), T from 1 to 40, scaled by up to 30 (saturating)."""
    shape = (draw(t), *lead, n_in)
    x = np.random.default_rng(draw(st.integers(0, 9))).integers(0, 2, shape).astype(float)
    return x * draw(st.sampled_from([1.0, 1.0, 5.0, 30.0]))


# --- the property -----------------------------------------------------------------------------

def numbers(value):
    """Every number in a result (arrays, tensors, dicts, tuples, histories)."""
    if isinstance(value, torch.Tensor):
        yield from value.detach().cpu().double().numpy().ravel().tolist()
    elif isinstance(value, np.ndarray):
        yield from np.asarray(value, dtype=float).ravel().tolist()
    elif isinstance(value, dict):
        for v in value.values():
            yield from numbers(v)
    elif isinstance(value, (tuple, list, SpectrumHistory, FlossHistory)):
        for v in value:
            yield from numbers(v)
    elif isinstance(value, TrainHistory):
        yield from numbers(list(value.__dict__.values()))
    elif isinstance(value, (int, float, np.floating, np.integer)):
        yield float(value)


def outcome(call, corrupted: bool, numerical_trouble: bool = False):
    """Run ``call``: an allowed exception (returned), or a result whose numbers are finite, or -inf
    with a FrameCollapseWarning. Any other exception propagates and fails the test.

    ``corrupted``: whether some argument was replaced by a bad one. When none was, every argument
    is valid and the call must return a result: an error then fails the test (an implementation
    that raised on everything would otherwise pass). ``numerical_trouble``: valid arguments for
    which a NumericalError is the documented answer, known from the arguments alone (Jacobians of
    size 1e200, whose products overflow; W = 0, whose frame collapses, for flossing); a
    FlosslabError (bad input) still fails the test."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = call()
        except (FlosslabError, NumericalError) as exc:
            assert str(exc).strip(), "an error without a message"
            assert corrupted or (numerical_trouble and isinstance(exc, NumericalError)), \
                f"valid arguments, yet {type(exc).__name__}: {exc}"
            event(f"raised {type(exc).__name__}")
            return exc
    event("returned")
    collapsed = any(issubclass(w.category, FrameCollapseWarning) for w in caught)
    for x in numbers(result):
        assert not math.isnan(x), "NaN in a result"
        assert x != math.inf, "+inf in a result"
        assert x != -math.inf or collapsed, "-inf without a FrameCollapseWarning"
    return result


def to_engine(p, dtype=torch.float64):
    """The network as tensors where it converts (else as it is: the engine must refuse it)."""
    try:
        return E.to_torch(p, dtype=dtype)
    except (FlosslabError, NumericalError):
        return p


# --- the sweep ----------------------------------------------------------------------------------

@settings(max_examples=EXAMPLES)
@given(kw=arguments(
    {"n_units": st.integers(1, 6), "gain": st.floats(0, 10), "n_inputs": st.integers(0, 3),
     "n_outputs": st.integers(0, 3), "seed": SEEDS, "bias_scale": st.floats(0, 1)},
    {"n_units": st.one_of(st.integers(-2, 0), HUGE, WEIRD), "gain": BAD_REAL,
     "n_inputs": st.one_of(HUGE, WEIRD), "n_outputs": st.one_of(HUGE, WEIRD), "seed": BAD_SEED,
     "bias_scale": BAD_REAL}),
    engine=st.booleans())
def test_init_rnn(kw, engine):
    outcome(lambda: (E.init_rnn if engine else fl.init_rnn)(**kw), bool(kw.broken))


@st.composite
def spectrum_call(draw, engine: bool):
    """Arguments of lyapunov_spectrum for a network (a stack of two for an engine ensemble)."""
    p, changed = draw(network())
    ensemble = engine and draw(st.booleans())
    dtype = draw(st.sampled_from([torch.float64, torch.float32])) if engine else None
    if engine:
        p = E.stack_params([p, p], dtype=dtype) if ensemble and _stacks(p) else to_engine(p, dtype)
    n, n_in, lead = n_units_of(p), n_inputs_of(p), ((2,) if ensemble else ())
    x = draw(st.one_of(st.none(), bits(n_in, lead)))
    t = draw(st.integers(1, 40)) if x is None else x.shape[0]
    k = draw(st.one_of(st.none(), st.integers(1, n)))
    h0 = draw(st.one_of(st.none(), st.just(np.zeros(lead + (n,)))))
    kw = draw(arguments(
        {"inputs": st.just(x), "seq_len": st.just(t if x is None else None),
         "n_exponents": st.just(k), "reorth_every": st.one_of(st.integers(1, 5), st.just("auto")),
         "transient": st.one_of(st.none() if fl.default_transient(t) < t else st.nothing(),
                                st.integers(0, t - 1)), "seed": SEEDS,
         "h0": st.just(h0)},
        {"inputs": corrupt_array(np.ones((t, *lead, n_in)) if x is None else x),
         "seq_len": st.one_of(st.integers(-1, 0), WEIRD), "n_exponents": st.one_of(
             st.integers(-1, 0), st.just(n + 1), WEIRD),
         "reorth_every": st.one_of(st.integers(-1, 0), WEIRD), "transient": st.one_of(
             st.just(t), st.integers(-2, -1), WEIRD),
         "seed": BAD_SEED, "h0": corrupt_array(np.zeros(lead + (n,)))}))
    if engine:
        kw["fused"] = draw(st.booleans())
    return p, kw, changed or bool(kw.broken)


def _stacks(p) -> bool:
    try:
        E.stack_params([p, p])
        return True
    except (FlosslabError, NumericalError):
        return False


@settings(max_examples=EXAMPLES)
@given(call=spectrum_call(engine=False))
def test_reference_lyapunov_spectrum(call):
    p, kw, corrupted = call
    outcome(lambda: fl.lyapunov_spectrum(p, **kw), corrupted)


@settings(max_examples=EXAMPLES)
@given(call=spectrum_call(engine=True))
def test_engine_lyapunov_spectrum(call):
    p, kw, corrupted = call
    outcome(lambda: E.lyapunov_spectrum(p, **kw), corrupted)


@st.composite
def jacobians(draw):
    """(T, N, N) Jacobians diag(tanh'(a)) W of a random network, at times extreme, and whether
    they are huge (W scaled by 1e200: products of two of them overflow)."""
    t, n = draw(st.integers(1, 8)), draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(st.integers(0, 9)))
    a = rng.standard_normal((t, n)) * draw(st.sampled_from([1.0, 10.0, 100.0]))
    scale = draw(st.sampled_from([1.0, 0.0, 1e-200, 1e200]))
    w = rng.standard_normal((n, n)) * scale
    return fl.tanh_slope(a)[:, :, None] * w, scale > 1.0


@settings(max_examples=EXAMPLES)
@given(data=st.data(), drawn=jacobians(), torch_input=st.booleans())
def test_spectrum_from_jacobians(data, drawn, torch_input):
    jac, huge = drawn
    t, n = jac.shape[:2]
    k = data.draw(st.one_of(st.none(), st.integers(1, n)))
    kk = n if k is None else k
    kw = data.draw(arguments(
        {"jacobians": st.just(jac), "n_exponents": st.just(k),
         "reorth_every": st.one_of(st.integers(1, 4), st.just("auto")),
         "transient": st.integers(0, t - 1), "seed": SEEDS,
         "frame": st.one_of(st.none(), st.just(np.eye(n)[:, :kk])),
         "return_history": st.booleans()},
        {"jacobians": corrupt_array(jac), "n_exponents": st.one_of(st.just(n + 1), WEIRD),
         "reorth_every": WEIRD, "transient": st.one_of(st.just(t), WEIRD), "seed": BAD_SEED,
         "frame": corrupt_array(np.eye(n)[:, :kk])}))
    if torch_input and isinstance(kw["jacobians"], np.ndarray):
        kw["jacobians"] = torch.as_tensor(kw["jacobians"])
    outcome(lambda: fl.spectrum_from_jacobians(**kw), bool(kw.broken), numerical_trouble=huge)


@settings(max_examples=EXAMPLES // 3)
@given(data=st.data(), engine=st.booleans())
def test_floss(data, engine):
    p, changed = data.draw(network(n=st.integers(1, 4)))
    collapsed = not changed and not np.any(p["W"])    # gain 0: singular Jacobians, no gradient
    p = to_engine(p) if engine else p
    n = n_units_of(p)
    transient = data.draw(st.integers(0, 6))
    kw = data.draw(arguments(
        {"n_steps": st.integers(0, 2), "n_exponents": st.one_of(st.none(), st.integers(1, n)),
         "target": st.floats(-2, 2), "lr": st.floats(1e-4, 1e-1),
         "seq_len": st.integers(transient + 1, transient + 12), "transient": st.just(transient),
         "seed": SEEDS},
        {"n_steps": st.one_of(st.just(-1), WEIRD), "n_exponents": st.one_of(st.just(n + 1), WEIRD),
         "target": BAD_REAL, "lr": st.one_of(st.just(0.0), BAD_REAL),
         "seq_len": st.one_of(st.just(transient), WEIRD), "transient": WEIRD, "seed": BAD_SEED}))
    outcome(lambda: (E.floss if engine else fl.floss)(p, **kw), changed or bool(kw.broken),
            numerical_trouble=collapsed)


VALID_CONFIG = {
    "task": st.sampled_from(["copy", "xor", "parity"]), "delay": st.integers(3, 4),
    "order": st.none(), "n_units": st.integers(1, 5), "gain": st.floats(0, 10),
    "n_epochs": st.integers(0, 2), "batch_size": st.integers(1, 3),
    "seq_len": st.one_of(st.none(), st.integers(5, 12)), "lr": st.floats(1e-4, 1e-1),
    "clip": st.floats(0.1, 10), "flossing": st.sampled_from(["none", "pre", "inter", "penalty"]),
    "n_exponents": st.none(), "floss_target": st.floats(-1, 1), "floss_steps": st.integers(0, 2),
    "inter_epochs": st.just(()), "eval_every": st.integers(1, 2), "eval_batch": st.integers(1, 4),
    "seed": SEEDS,
}
BAD_CONFIG = {
    "task": WEIRD, "delay": st.one_of(st.integers(-1, 0), WEIRD), "order": WEIRD,
    "n_units": st.one_of(st.integers(-1, 0), WEIRD), "gain": BAD_REAL,
    "n_epochs": st.one_of(st.just(-1), WEIRD), "batch_size": WEIRD,
    "seq_len": st.one_of(st.integers(0, 3), WEIRD), "lr": BAD_REAL, "clip": BAD_REAL,
    "flossing": WEIRD, "n_exponents": st.one_of(st.integers(6, 7), WEIRD),
    "floss_target": BAD_REAL, "floss_steps": WEIRD,
    "inter_epochs": st.one_of(st.just((5,)), WEIRD), "eval_every": WEIRD, "eval_batch": WEIRD,
    "seed": BAD_SEED,
}


@settings(max_examples=EXAMPLES // 3)
@given(data=st.data(), kw=arguments(VALID_CONFIG, BAD_CONFIG), engine=st.booleans(),
       own_params=st.booleans())
def test_trainconfig_and_train(data, kw, engine, own_params):
    config = outcome(lambda: fl.TrainConfig(**kw), bool(kw.broken))
    if isinstance(config, Exception):
        return
    p, changed, collapsed = None, False, config.gain == 0
    if own_params:                 # the configuration's size, or a corrupted network
        p, changed = data.draw(network(n=st.just(config.n_units)))
        # the tasks have one input and one output: a network with another number is wrong for them
        changed = changed or p["U"].shape[1] != 1
        collapsed = not changed and not np.any(p["W"])
        p = to_engine(p) if engine and data.draw(st.booleans()) else p
    # flossing a network with W = 0 has no gradient (a collapsed frame)
    collapsed = collapsed and config.flossing != "none"
    outcome(lambda: (E.train if engine else fl.train)(config, p), changed or bool(kw.broken),
            numerical_trouble=collapsed)
