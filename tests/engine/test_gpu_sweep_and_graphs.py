"""The GPU check's ``--sweep`` mode at toy size on the CPU, and the CUDA-graph path of the training
epoch (:mod:`flosslab.engine.graphs`): its eager fallback on the CPU, and, where CUDA exists, the
graphed epoch against the eager one (skipped without a GPU)."""
import json
import runpy
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from flosslab.engine import graphs
from flosslab.engine.graphs import GraphedTaskLoss, graphs_wanted
from flosslab.engine.recursion import task_losses
from flosslab.engine.training import train_members
from flosslab.paper.budgets import DEFAULT
from flosslab.paper.sweep import RunSpec

ROOT = Path(__file__).resolve().parents[2]
NAMES = ("W", "U", "b", "V", "c")


def run_gpu_check(argv, capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["gpu_check.py", *argv])
    try:
        runpy.run_path(str(ROOT / "benchmarks" / "gpu_check.py"), run_name="__main__")
    except SystemExit as exit_:
        assert exit_.code == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1],
                      parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))


def test_the_sweep_mode_runs_at_toy_size_on_the_cpu(tmp_path, capsys, monkeypatch):
    printed = run_gpu_check(["--device", "cpu", "--toy", "--sweep", "--out", str(tmp_path)],
                            capsys, monkeypatch)
    assert printed == json.loads((tmp_path / "gpu_check.json").read_text())
    assert set(printed) >= {"sweep"} and "bench" not in printed
    sweep = printed["sweep"]
    assert "error" not in sweep, sweep
    assert sweep["networks"] == sweep["records"] == 12 and sweep["dtype"] == "float32"
    assert sweep["seconds_whole_sweep"] > 0 and sweep["target_seconds"] == 600.0
    assert sweep["cuda_graphs"] == {"captured": 0, "fallbacks": []}      # no graphs on a CPU
    lines = (tmp_path / "sweep" / "runs.jsonl").read_text().splitlines()
    assert len(lines) == 12 and {json.loads(x)["chunk_members"] for x in lines} == {12}
    step = sweep["one_network_floss_step"]
    assert step["device_ms_per_step"] > 0 and step["cpu_ms_per_step"] > 0


def random_case(e, t, batch, n, dtype, device, seed=0):
    g = torch.Generator().manual_seed(seed)
    def rnd(*shape):
        return torch.randn(*shape, generator=g, dtype=dtype)
    params = {"W": rnd(e, n, n) / n ** 0.5, "U": rnd(e, n, 1), "b": rnd(e, n) * 0.3,
              "V": rnd(e, 1, n) / n ** 0.5, "c": rnd(e, 1) * 0.3}
    params = {k: v.to(device).requires_grad_() for k, v in params.items()}
    inputs = (torch.rand(t, e, batch, 1, generator=g) < 0.5).to(dtype).to(device)
    targets = (torch.rand(t, e, batch, 1, generator=g) < 0.5).to(dtype).to(device)
    weights = (torch.rand(t, e, generator=g, dtype=dtype) / t).to(device)
    return params, inputs, targets, weights


def test_on_a_cpu_the_graph_path_falls_back_to_the_same_eager_computation():
    assert not graphs_wanted("cpu") and not graphs_wanted("cpu", True)
    params, inputs, targets, weights = random_case(3, 20, 4, 6, torch.float64, "cpu")
    graphed = GraphedTaskLoss("cpu", graphs=True)
    got = graphed(params, inputs, targets, weights)
    assert graphed.mode == "eager"
    want = task_losses(params, inputs, targets, weights)
    assert torch.equal(got, want)


def test_a_failed_capture_warns_and_runs_eagerly(monkeypatch):
    """Where capturing fails (here: asked for on a CPU, where make_graphed_callables cannot run),
    the epoch runs eagerly with the same numbers, once warned, and the reason is kept."""
    monkeypatch.setattr(graphs, "graphs_wanted", lambda device, wanted="auto": True)
    monkeypatch.setitem(graphs.STATS, "fallbacks", [])
    params, inputs, targets, weights = random_case(2, 10, 3, 5, torch.float64, "cpu")
    graphed = GraphedTaskLoss("cpu", graphs=True)
    with pytest.warns(RuntimeWarning, match="CUDA graphs not used"):
        got = graphed(params, inputs, targets, weights)
    assert graphed.mode == "eager" and len(graphs.STATS["fallbacks"]) == 1
    assert torch.equal(got, task_losses(params, inputs, targets, weights))
    graphed(params, inputs, targets, weights)              # no second capture, no second warning
    assert len(graphs.STATS["fallbacks"]) == 1


needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@needs_cuda
def test_the_graphed_epoch_equals_the_eager_one_on_cuda():
    graphed = GraphedTaskLoss("cuda", graphs=True)      # one graph, replayed every epoch
    for epoch in range(3):                     # new inputs each time: copied into the graph
        params, inputs, targets, weights = random_case(4, 30, 5, 8, torch.float64, "cuda",
                                                       seed=epoch)
        got = graphed(params, inputs, targets, weights)
        assert graphed.mode == "graph", graphs.STATS
        g_got = torch.autograd.grad(got.sum(), [params[k] for k in NAMES])
        want = task_losses(params, inputs, targets, weights)
        g_want = torch.autograd.grad(want.sum(), [params[k] for k in NAMES])
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-14)
        for a, b in zip(g_got, g_want):
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


@needs_cuda
def test_training_with_graphs_gives_the_records_of_training_without():
    toy = replace(DEFAULT, name="toy", n_units=6, n_exponents=4, n_epochs=8, floss_steps=2,
                  inter_epochs=(3, 6), eval_every=4, eval_batch=16)
    configs = [RunSpec("xor", 4, s, seed).config(toy) for s in ("none", "pre", "inter")
               for seed in (0, 1)]
    _, with_graphs = train_members(configs, device="cuda", dtype="float64", graphs=True)
    _, without = train_members(configs, device="cuda", dtype="float64", graphs=False)
    for a, b in zip(with_graphs, without):
        np.testing.assert_allclose(a.loss, b.loss, rtol=1e-10)
        assert a.accuracy == b.accuracy
