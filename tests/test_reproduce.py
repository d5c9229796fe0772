"""The reproduction pipeline at toy sizes: the files it promises, and numbers that agree with
their own definitions (medians of the stored per-seed values, horizons, the claims)."""
import json

import numpy as np
import pytest

from dataclasses import replace

from flosslab.paper.budgets import DEFAULT
from flosslab.paper.reproduce import Sizes, claims_from_sweep, horizon, reproduce

TOY = Sizes(spec_units=6, spec_gains=(1.0, 2.0), spec_ks=(2, 6), spec_floss_steps=4,
            cond_units=6, cond_k=4, cond_floss_steps=4, cond_window=30, seeds=(0, 1, 2),
            parity_delay=3, parity_ks=(1, 3), cost_ns=(8, 16), cost_ks=(2, 4), cost_n_for_k=8,
            cost_steps=20, cost_repeats=1)
TOY_BUDGET = replace(DEFAULT, name="toy", n_units=6, n_exponents=3, n_epochs=6, floss_steps=2,
                     inter_epochs=(2, 4), eval_every=3, eval_batch=32,
                     delays=(("copy", (2, 3)), ("xor", (2, 4))))


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("repro")
    return out, reproduce(out, sizes=TOY, device="cpu", log=lambda line: None, budget=TOY_BUDGET,
                          chunk=4)


def test_every_figure_and_the_results_file_are_written(toy_run):
    out, results = toy_run
    for name in ("a_spectra", "b_condition_gradients", "c_accuracy_vs_delay", "d_accuracy_vs_k",
                 "e_effective_rank", "f_cost"):
        png = out / f"fig_{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # strict JSON: NaN or Infinity would raise here (json.loads accepts them by default)
    stored = json.loads((out / "results.json").read_text(),
                        parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
    assert stored["c_claims"] == json.loads(json.dumps(results["c_claims"]))


def test_summaries_agree_with_per_seed_values(toy_run):
    _, results = toy_run
    for sweep in results["c_delay"].values():
        assert sweep["budget"] == "toy" and sweep["seeds"] == [0, 1, 2]
        for schedule, by_delay in sweep["accuracy"].items():
            assert set(by_delay) == {str(d) for d in sweep["delays"]}
            for q in by_delay.values():
                assert len(q["all"]) == 3
                assert q["median"] == pytest.approx(np.median(q["all"]))
                assert q["q25"] <= q["median"] <= q["q75"]
                assert all(0.0 <= a <= 1.0 for a in q["all"])


def test_spectra_have_n_exponents_and_flossing_moves_the_flossed_ones(toy_run):
    _, results = toy_run
    for run in results["a_spectra"]["runs"]:
        assert len(run["before"]) == len(run["after"]) == 6
        assert np.all(np.diff(run["before"]) <= 1e-9)     # descending


def test_cost_grows_with_size(toy_run):
    _, results = toy_run
    by_n = results["f_cost"]["by_n"]
    assert [r["n"] for r in by_n] == [8, 16] and all(r["ms"] > 0 for r in by_n)


def test_horizon_and_claims_on_a_made_up_sweep():
    q = lambda m: {"median": m, "q25": m, "q75": m, "all": [m]}
    sweep = {"accuracy": {"none": {"10": q(0.99), "20": q(0.55), "30": q(0.5)},
                          "pre": {"10": q(1.0), "20": q(0.95), "30": q(0.52)},
                          "inter": {"10": q(1.0), "20": q(0.97), "30": q(0.91)}}}
    sweep["horizon_0.9"] = {s: horizon(sweep["accuracy"][s], 0.9) for s in sweep["accuracy"]}
    assert sweep["horizon_0.9"] == {"none": 10, "pre": 20, "inter": 30}
    claims = claims_from_sweep(sweep)
    assert claims["delay_where_none_fails"] == 20 and claims["pre_median_there"] == 0.95
    assert claims["horizon_ratio_inter_over_none"] == 3.0
    assert horizon({"10": q(0.3)}, 0.9) is None
