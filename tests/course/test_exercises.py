"""Every exercise's solution (the notebook cells tagged ``solution``) passes its checker, and typical
wrong answers fail it with a hint."""
import importlib
import pkgutil
from pathlib import Path

import nbformat
import numpy as np
import pytest

import flosslab as fl
import flosslab.course

#: Each notebook's lesson module, by the notebook's number ("04": lesson04_flossing).
LESSON = {m.name[6:8]: importlib.import_module(f"flosslab.course.{m.name}")
          for m in pkgutil.iter_modules(flosslab.course.__path__) if m.name.startswith("lesson")}
NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))


def _cells(path, tag=None, contains=None):
    nb = nbformat.read(path, as_version=4)
    return [c for c in nb.cells if c.cell_type == "code"
            and (tag is None or tag in c.metadata.get("tags", []))
            and (contains is None or contains in c.source)]


class Recorder:
    """Stands in for a notebook's lesson module inside a solution cell; records what each checker
    returned."""

    def __init__(self, lesson):
        self.lesson = lesson
        self.results = {}

    def __getattr__(self, name):
        real = getattr(self.lesson, name)
        if not name.startswith("check_"):
            return real

        def wrapped(func, *args, **kwargs):
            self.results[name] = real(func, *args, **kwargs)
            return self.results[name]
        return wrapped


#: Notebooks without exercises: the lecturer's guide.
GUIDES = ("00_",)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem[:2])
def test_every_stub_has_a_passing_solution(path, capsys):
    stubs = _cells(path, contains="raise NotImplementedError")
    solutions = _cells(path, tag="solution")
    if path.name.startswith(GUIDES):
        assert not stubs and not solutions, "the lecturer's guide holds no exercises"
        return
    assert len(stubs) == len(solutions) >= 1, "each exercise stub needs one solution cell"
    # solutions run in order in one namespace, as Run All does: a later solution may use an
    # earlier one (exercises that build on each other: ``*_solution`` names)
    solved = {"np": np, "fl": fl}
    for stub, solution in zip(stubs, solutions):
        # the stub fails its checker politely (no exception), the solution passes the same checkers
        lesson = LESSON[path.name[:2]]
        stub_rec, sol_rec = Recorder(lesson), Recorder(lesson)
        names = {"np": np, "fl": fl}
        if "torch" in solution.source:
            names["torch"] = solved["torch"] = pytest.importorskip("torch")
        exec(stub.source, {**names, "lesson": stub_rec})
        solved["lesson"] = sol_rec
        exec(solution.source, solved)
        assert set(stub_rec.results) == set(sol_rec.results) != set()
        assert not any(stub_rec.results.values())
        assert all(sol_rec.results.values()), sol_rec.results
    out = capsys.readouterr().out
    assert "not written yet" in out and "Correct" in out


def test_solution_cells_are_collapsed_and_follow_their_stub():
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        for i, cell in enumerate(nb.cells):
            if "solution" in cell.metadata.get("tags", []):
                assert cell.metadata["jupyter"]["source_hidden"] is True
                assert "NotImplementedError" in nb.cells[i - 1].source


# --- wrong answers fail, with the hint that matches the mistake ---------------------------------

def _wrong_backprop_transpose(params, pre, delta_last):
    delta, norms = np.asarray(delta_last), [np.linalg.norm(delta_last)]
    for t in range(len(pre) - 1, 0, -1):
        delta = fl.jacobian(params, pre[t]) @ delta       # forgot the transpose
        norms.append(np.linalg.norm(delta))
    return np.array(norms[::-1])


def _wrong_qr_no_abs(D, Q):
    q, r = np.linalg.qr(D @ Q)
    with np.errstate(invalid="ignore"):
        return q, np.log(np.diag(r))


def _wrong_qr_log10(D, Q):
    q, r = np.linalg.qr(D @ Q)
    return q, np.log10(np.abs(np.diag(r)))


def _wrong_spectrum_counts_transient(jacobians, frame, transient):
    q, total = frame, 0.0
    for d in jacobians:
        q, r = np.linalg.qr(d @ q)
        total = total + np.log(np.abs(np.diag(r)))
    return total / len(jacobians)


def _wrong_flossing_sqrt(params, inputs, k, target):
    lam = fl.lyapunov_spectrum(params, inputs, n_exponents=k, transient=16)
    return np.sqrt(np.mean((lam - target) ** 2))


def _wrong_xor_floor(bits, delay):
    half = delay // 2
    y = np.zeros_like(bits)
    y[delay:] = bits[delay - half:len(bits) - half] ^ bits[:len(bits) - delay]
    return y


def _wrong_erank_squares(m):
    s = np.linalg.svd(m, compute_uv=False) ** 2
    p = s / s.sum()
    return float(np.exp(-np.sum(p * np.log(p))))


def _wrong_batched_no_abs(frames):
    import torch
    r = torch.linalg.qr(frames)[1]
    return torch.log(torch.diagonal(r, dim1=-2, dim2=-1))


WRONG = [
    (LESSON["01"].check_backprop_norms, _wrong_backprop_transpose, "TRANSPOSE"),
    (LESSON["02"].check_qr_step, _wrong_qr_no_abs, "negative"),
    (LESSON["02"].check_qr_step, _wrong_qr_log10, "natural log"),
    (LESSON["02"].check_spectrum, _wrong_spectrum_counts_transient, "transient"),
    (LESSON["03"].check_logdet_gradient, lambda a: np.linalg.inv(a) if a.shape[0] == a.shape[1]
     else a, "inverse TRANSPOSED"),
    (LESSON["04"].check_flossing_loss, _wrong_flossing_sqrt, "square"),
    (LESSON["05"].check_xor_targets, _wrong_xor_floor, "ceil"),
    (LESSON["06"].check_effective_rank, _wrong_erank_squares, "not their squares"),
    (LESSON["07"].check_batched_log_r, _wrong_batched_no_abs, "absolute value"),
]


@pytest.mark.parametrize("checker, wrong, hint", WRONG, ids=[w[0].__name__ for w in WRONG])
def test_wrong_answers_fail_with_a_hint(checker, wrong, hint, capsys):
    if checker is LESSON["07"].check_batched_log_r:
        pytest.importorskip("torch")
    assert not checker(wrong)
    out = capsys.readouterr().out
    assert "Not yet" in out and hint in out


def test_a_crashing_answer_is_reported_not_raised(capsys):
    assert not LESSON["06"].check_effective_rank(lambda m: 1 / 0)
    assert "ZeroDivisionError" in capsys.readouterr().out


def test_a_non_differentiable_flossing_loss_fails():
    import numpy as plain_np  # plain numpy breaks autograd's tracing

    def detached(params, inputs, k, target):
        lam = fl.lyapunov_spectrum(params, inputs, n_exponents=k, transient=16)
        return float(plain_np.mean((plain_np.asarray(lam, dtype=float) - target) ** 2))

    assert not LESSON["04"].check_flossing_loss(detached)
