"""Strict JSON from every command: no NaN or Infinity anywhere, a null only with a reason in
``notes``, and impossible requests refused with exit status 2 and one line.

Every output is parsed with ``json.loads(text, parse_constant=...)`` that raises on the three
non-standard constants (NaN, Infinity, -Infinity) Python's json module would otherwise accept.
"""
import json
import subprocess
import sys
from dataclasses import replace

import pytest

from flosslab.cli import COLLAPSE_NOTE, main
from flosslab.engine import bench
from flosslab.paper import reproduce as reproduce_module
from flosslab.paper.budgets import DEFAULT
from flosslab.paper.reproduce import Sizes


def _reject(constant):
    raise ValueError(f"not strict JSON: {constant}")


def strict(text: str):
    return json.loads(text, parse_constant=_reject)


def nulls(value, path=""):
    """Paths of every null in parsed JSON."""
    if value is None:
        return [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in nulls(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in nulls(v, f"{path}[{i}]")]
    return []


def run(capsys, *argv, code=0):
    """Run the command with --json; return the parsed stdout (exit status ``code``, 0 here)."""
    assert main([*argv, "--json"]) == code
    captured = capsys.readouterr()
    result = strict(captured.out)
    assert captured.out.count("\n") == 1             # exactly one JSON object, one line
    assert "Warning" not in captured.err             # a collapse is a note, not a warning
    if nulls(result):
        assert result.get("notes"), f"nulls without a reason: {nulls(result)}"
    return result


def refused(capsys, *argv, code=2):
    """Run the command; it must exit with ``code``, print nothing on stdout, one line on stderr."""
    assert main([*argv, "--json"]) == code
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    return err


SPECTRUM = ["spectrum", "--n", "8", "--k", "4", "--steps", "60"]
FLOSS = ["floss", "--n", "6", "--k", "3", "--flossing-steps", "2"]
TRAIN = ["train", "--n", "6", "--delay", "2", "--epochs", "1"]
CPU = ["--device", "cpu"]


@pytest.mark.parametrize("argv", [
    SPECTRUM, SPECTRUM + CPU, SPECTRUM + CPU + ["--gains", "1", "2", "--seeds", "0", "1"],
    SPECTRUM + ["--autonomous"], SPECTRUM + CPU + ["--reorth-every", "3"],
    FLOSS, FLOSS + CPU, FLOSS + CPU + ["--seeds", "0", "1"],
    TRAIN, TRAIN + CPU, TRAIN + CPU + ["--delays", "2", "3", "--seeds", "0"],
    TRAIN + ["--flossing", "penalty"], TRAIN + CPU + ["--flossing", "penalty"],
])
def test_ordinary_runs_give_strict_json_without_nulls(capsys, argv):
    result = run(capsys, *argv)
    assert nulls(result) == [] and "notes" not in result


@pytest.mark.parametrize("extra", [[], CPU])
def test_gain_zero_gives_null_exponents_with_the_reason(capsys, extra):
    """W = 0: every Jacobian is 0, the frame collapses at the first step, every exponent is -inf:
    written as null, with the collapse note."""
    result = run(capsys, "spectrum", "--gain", "0", "--n", "6", "--steps", "50", *extra)
    assert result["exponents"] == [None] * 6
    assert COLLAPSE_NOTE in result["notes"]


def test_an_ensemble_nulls_only_the_collapsed_member(capsys):
    result = run(capsys, *SPECTRUM, *CPU, "--gains", "0", "1.5")
    assert result["members"][0]["exponents"] == [None] * 4
    assert all(isinstance(x, float) for x in result["members"][1]["exponents"])
    assert COLLAPSE_NOTE in result["notes"]


def test_zero_flossing_steps_null_the_flossing_losses_with_the_reason(capsys):
    result = run(capsys, "floss", "--n", "6", "--k", "3", "--flossing-steps", "0")
    assert result["flossing_loss_first"] is None and result["flossing_loss_last"] is None
    assert "no flossing step" in result["notes"]
    assert result["exponents_after"] == result["exponents_before"]


@pytest.mark.parametrize("extra", [[], CPU])
def test_train_zero_epochs_is_refused(capsys, extra):
    err = refused(capsys, "train", "--n", "6", "--delay", "2", "--epochs", "0", *extra)
    assert "epochs must be >= 1" in err


@pytest.mark.parametrize("argv", [FLOSS + ["--gain", "0"], FLOSS + ["--gain", "0"] + CPU,
                                  TRAIN + ["--gain", "0", "--flossing", "pre"]])
def test_flossing_a_collapsed_network_is_numerical_trouble_in_one_line(capsys, argv):
    """Flossing needs finite exponents; at gain 0 they are -inf: exit 1, one line that says so."""
    err = refused(capsys, *argv, code=1)
    assert "numerical trouble" in err and "-inf" in err


def test_human_output_of_a_collapsed_spectrum(capsys):
    """Without --json the summary shortens long lists; a null among them is printed as None."""
    assert main(["spectrum", "--gain", "0", "--n", "12", "--steps", "30"]) == 0
    out = capsys.readouterr().out
    assert "None, None" in out and "(12 values)" in out


def test_bench_output_is_strict(capsys, monkeypatch):
    """The benchmark's real cases at toy size (the full one takes minutes) through the command."""
    def toy_benchmark(device="cpu", quick=False):
        dev = bench.resolve_device(device)
        single = bench.single_case("paper", 8, 4, 30, dev, bench.torch.float64, 1)
        ens = bench.ensemble_case(2, single["baseline_ms"], dev, bench.torch.float64, 1, n=8, k=4,
                                  t=30, transient=5)
        return {"device": bench.describe_device(dev), "torch": bench.torch.__version__,
                "repeats": 1, "date": "today", "rows": [single, ens]}

    monkeypatch.setattr(bench, "run_benchmark", toy_benchmark)
    result = run(capsys, "bench", "--quick")
    assert [r["case"] for r in result["rows"]] == ["paper", "ensemble_E2"]
    assert all(r["max_abs_dlambda"] < 1e-8 for r in result["rows"])


def test_reproduce_summary_and_results_file_are_strict(capsys, monkeypatch, tmp_path):
    """``reproduce --fast`` with the toy sizes of tests/paper/test_reproduce.py (experiments a, b, f):
    the printed summary and results.json both parse strictly."""
    toy = Sizes(spec_units=6, spec_gains=(1.0, 2.0), spec_ks=(2, 6), spec_floss_steps=4,
                cond_units=6, cond_k=4, cond_floss_steps=4, cond_window=30, seeds=(0,),
                cost_ns=(8, 16), cost_ks=(2, 4), cost_n_for_k=8, cost_steps=20, cost_repeats=1)
    monkeypatch.setattr(Sizes, "fast", classmethod(lambda cls: toy))
    monkeypatch.setattr(reproduce_module, "FAST_BUDGET", replace(DEFAULT, name="toy", n_units=6))
    result = run(capsys, "reproduce", "--fast", "--only", "abf", "--device", "cpu",
                 "--out", str(tmp_path))
    assert result["out"] == str(tmp_path) and "log10_condition_drop" in result
    stored = strict((tmp_path / "results.json").read_text())
    assert {"a_spectra", "b_condition", "f_cost"} <= set(stored)
    # a null among the settings means "the default" (budget.seq_len: delay + 50); no result is null
    assert [p for p in nulls(stored) if not p.startswith((".budget.", ".sizes."))] == []
    assert "notes" not in stored


def test_strict_json_guard_turns_what_is_left_into_null_with_a_note():
    """The last guard before printing: a non-finite number anywhere becomes null, named in
    notes (here a made-up result; every command's own fields are handled before)."""
    from flosslab.cli import strict_output
    out = strict_output({"a": [1.0, float("nan")], "b": {"c": float("-inf")}, "notes": "x"})
    assert strict(json.dumps(out, allow_nan=False)) == out
    assert out["a"] == [1.0, None] and out["b"]["c"] is None
    assert out["notes"].startswith("x; ") and "a[1]" in out["notes"] and "b.c" in out["notes"]


def test_a_real_process_prints_only_json_on_stdout():
    proc = subprocess.run([sys.executable, "-m", "flosslab", "spectrum", "--gain", "0", "--n", "5",
                           "--steps", "30", "--json"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stderr == ""
    assert strict(proc.stdout)["exponents"] == [None] * 5
