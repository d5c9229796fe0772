"""Shared by the course's test files: tiny training sizes (the fixture that installs them is in
conftest.py), lone reference runs to compare a training click with, and hand-written answers
(right and wrong) to the exercises of several lessons."""
import numpy as np

import flosslab as fl
from flosslab.course import training_runs

#: Training clicks of a few milliseconds.
TINY = {"n_units": 6, "n_epochs": 8, "n_seeds": 2, "seq_extra": 6, "lr": 0.01, "n_exponents": 3,
        "floss_steps": 3, "floss_lr": 0.01, "eval_every": 4, "eval_batch": 16}


def reference_runs(task, delay, schedule, k=3, order=None, seeds=(0, 1)):
    """Lone runs of the numpy/autograd reference with the configurations a tiny click uses."""
    configs = training_runs.training_configs(task, delay, schedule, k, "small", order, seeds)
    return [fl.train(c)[1] for c in configs]



def ydata(line):
    return np.asarray(line.get_ydata(), dtype=float)


def _parity(bits, delay, order, lag=lambda j, d, p: -(-j * d // p)):
    y = np.zeros_like(bits)
    for j in range(1, order + 1):
        y[delay:] ^= bits[delay - lag(j, delay, order):len(bits) - lag(j, delay, order)]
    return y


def _loss(logits, targets, mask):
    return float(np.mean((np.logaddexp(0, logits) - targets * logits)[mask]))


def _naive_loss(logits, targets, mask):
    s = 1 / (1 + np.exp(-logits))
    return float(np.mean(-(targets * np.log(s) + (1 - targets) * np.log(1 - s))[mask]))


def _weight_gradient(states, pre, deltas):
    return np.einsum("tbi,tbj->ij", (1 - np.tanh(pre) ** 2) * deltas, states[:-1])


def _bootstrap(acc, delays, idx, level, shared=False, statistic=np.median):
    out = np.zeros(idx.shape[1], dtype=int)
    for j in np.argsort(delays):
        m = statistic(acc[j][idx[0 if shared else j]], axis=1)
        out[m >= level] = delays[j]
    return out


def _horizon(delays, medians, level):
    ok = [d for d, m in zip(delays, medians) if m >= level]
    return max(ok) if ok else None


def _horizon_first_failure(delays, medians, level):
    out = None
    for d, m in zip(delays, medians):
        if m < level:
            break
        out = d
    return out


def rejects_with_hint(checker, wrong, hint, capsys):
    """``checker`` says "Not yet" to ``wrong``, with ``hint`` in its one line."""
    assert not checker(wrong)
    out = capsys.readouterr().out
    assert "Not yet" in out and hint in out, out


def data_under_legends(fig, samples: int = 20) -> list:
    """The data a legend of ``fig`` covers: for every axes, the points of its data lines (drawn in
    data coordinates, each segment sampled ``samples`` times, so that a straight line crossing a
    legend counts) and the vertices of its bands and scatters that fall inside a visible legend's
    box, on the rendered figure. Reference lines (axhline, axvline) are not data. Returns
    [(axes title, label of the covered artist)], empty when no legend covers data."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import Collection
    canvas = FigureCanvasAgg(fig) if not hasattr(fig.canvas, "get_renderer") else fig.canvas
    canvas.draw()
    renderer = canvas.get_renderer()
    legends = [lg for ax in fig.axes for lg in [ax.get_legend()] if lg is not None] + fig.legends
    boxes = [lg.get_window_extent(renderer) for lg in legends if lg.get_visible()]
    covered = []
    for ax in fig.axes:
        shown = ax.get_window_extent(renderer)
        artists = [(line, line.get_xydata()) for line in ax.get_lines()
                   if line.get_visible() and line.get_transform() == ax.transData]
        for coll in ax.collections:
            if isinstance(coll, Collection) and coll.get_visible():
                paths = [p.vertices for p in coll.get_paths()]
                if len(coll.get_offsets()):
                    paths.append(np.asarray(coll.get_offsets()))
                artists += [(coll, v) for v in paths if len(v)]
        for artist, xy in artists:
            xy = np.asarray(xy, dtype=float)
            if len(xy) > 1 and not isinstance(artist, Collection):
                t = np.linspace(0.0, 1.0, samples, endpoint=False)[:, None, None]
                xy = np.concatenate([(xy[:-1] + t * (xy[1:] - xy[:-1])).reshape(-1, 2), xy[-1:]])
            xy = xy[np.all(np.isfinite(xy), axis=1)]
            if not len(xy):
                continue
            pts = artist.get_transform().transform(xy) if isinstance(artist, Collection) \
                else ax.transData.transform(xy)
            inside_axes = ((pts[:, 0] >= shown.x0) & (pts[:, 0] <= shown.x1)
                           & (pts[:, 1] >= shown.y0) & (pts[:, 1] <= shown.y1))
            for box in boxes:
                hit = inside_axes & (pts[:, 0] > box.x0) & (pts[:, 0] < box.x1) \
                    & (pts[:, 1] > box.y0) & (pts[:, 1] < box.y1)
                if hit.any():
                    covered.append((ax.get_title(), artist.get_label()))
                    break
    return covered
