"""The reproduction's results as small data, for the course and the README.

``reproduce`` writes every number into ``results.json`` (large: learning curves, ranks, spectra) and
a ``summary.json`` beside it with what the course shows: per-seed final accuracies against delay and
against k, the horizons with their bootstrap intervals, the condition number and gradient norm
curves before and after flossing, and the spectra before and after. Copies of the summaries of the
committed runs (``docs/results``) ship with the package in ``flosslab/paper/data`` and load in
milliseconds, offline: :func:`load`.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..core.errors import FlosslabError

DATA = Path(__file__).parent / "data"
#: Shipped summaries: the default budget (docs/results) and the author's budget
#: (docs/results/paper_budget).
SHIPPED = {"default": "default.json", "paper": "paper.json"}


def summarize(results: dict) -> dict:
    """The parts of a ``results.json`` dict the course shows (see the module's text)."""
    out = {key: results.get(key) for key in ("date", "device", "torch", "fast")}
    out["budget"] = results.get("budget", {})
    for key, value in results.items():
        if key.startswith("c_delay"):
            out[key] = {task: {field: sweep[field] for field in
                               ("delays", "seeds", "n", "k", "epochs", "floss_steps",
                                "inter_epochs", "horizon_0.9", "horizon_0.9_interval")
                               if field in sweep}
                        | {"accuracy": {s: {d: q["all"] for d, q in by_delay.items()}
                                        for s, by_delay in sweep["accuracy"].items()}}
                        for task, sweep in value.items()}
    if "d_k" in results:
        d = results["d_k"]
        out["d_k"] = {field: d[field] for field in ("task", "order", "delay", "n", "ks")}
        out["d_k"]["accuracy"] = {key: q["all"] for key, q in d["accuracy"].items()}
    if "b_condition" in results:
        b = results["b_condition"]
        out["b_condition"] = {field: b[field] for field in ("n", "k", "window", "floss_steps")}
        for label in ("before", "after"):
            out["b_condition"][label] = b[label]
    if "a_spectra" in results:
        out["a_spectra"] = results["a_spectra"]
    return out


def write_summary(results: dict, path) -> dict:
    summary = summarize(results)
    Path(path).write_text(json.dumps(summary, indent=1, allow_nan=False))
    return summary


def load(name: str = "default") -> dict:
    """A shipped summary: ``"default"`` (our budget) or ``"paper"`` (the author's budget)."""
    if name not in SHIPPED:
        raise FlosslabError(f"the shipped results are {', '.join(SHIPPED)}; got {name!r}")
    path = DATA / SHIPPED[name]
    if not path.exists():
        raise FlosslabError(f"{path.name} is not in this copy of flosslab: run "
                            f"'python -m flosslab reproduce --budget {name}' to make it")
    return json.loads(path.read_text())
