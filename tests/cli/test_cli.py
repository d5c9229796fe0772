"""The command line: JSON results that match the library, and one-line errors with exit status 2."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import flosslab as fl
from flosslab.cli import main


def run_json(capsys, *argv):
    assert main([*argv, "--json"]) == 0
    out = capsys.readouterr().out
    return json.loads(out)


def test_spectrum_matches_the_library(capsys):
    result = run_json(capsys, "spectrum", "--gain", "2", "--n", "30", "--k", "4", "--steps", "500",
                      "--seed", "3", "--autonomous")
    lam = fl.lyapunov_spectrum(fl.autonomous(fl.init_rnn(30, 2.0, seed=3)), seq_len=500,
                               n_exponents=4, seed=3)
    np.testing.assert_allclose(result["exponents"], lam, atol=1e-6)   # JSON rounds to 1e-6
    assert result["k"] == 4


def test_floss_lowers_exponents_and_condition_number(capsys):
    r = run_json(capsys, "floss", "--n", "16", "--k", "8", "--flossing-steps", "60",
                 "--lr", "3e-3", "--seed", "0")
    assert len(r["exponents_before"]) == len(r["exponents_after"]) == 8
    assert r["mean_abs_exponent_after"] < r["mean_abs_exponent_before"]
    assert r["log10_condition_after"] < r["log10_condition_before"]
    np.testing.assert_allclose(np.mean(np.abs(r["exponents_after"])),
                               r["mean_abs_exponent_after"], atol=1e-5)


def test_floss_on_the_engine_reports_what_the_reference_does(capsys):
    common = ["floss", "--n", "14", "--k", "6", "--flossing-steps", "10", "--seed", "2"]
    ref, eng = run_json(capsys, *common), run_json(capsys, *common, "--device", "cpu")
    assert ref["engine"] == "numpy reference" and eng["engine"] == "torch"
    for key in ("exponents_before", "exponents_after"):
        np.testing.assert_allclose(eng[key], ref[key], atol=2e-6)
    for key in ("log10_condition_before", "log10_condition_after"):
        assert eng[key] == pytest.approx(ref[key], abs=2e-3)


@pytest.mark.parametrize("task, delay, epochs", [("copy", 2, 7), ("xor", 4, 30)])
def test_train_reports_what_the_library_gives_for_its_settings(capsys, task, delay, epochs):
    """The CLI's train (numpy reference) against a direct fl.train with the same settings: the same
    accuracy curve, final accuracy and loss (JSON rounds to 1e-6, the curve to 1e-4; the runs are
    the same deterministic computation), over the number of epochs asked for. Two settings, so a
    CLI that ignored --task, --delay or --epochs would report another run's numbers."""
    r = run_json(capsys, "train", "--task", task, "--delay", str(delay), "--n", "8",
                 "--epochs", str(epochs), "--seed", "1")
    config = fl.TrainConfig(task=task, delay=delay, n_units=8, n_epochs=epochs, lr=3e-3, seed=1)
    _, h = fl.train(config)
    assert (r["task"], r["delay"], r["epochs"], r["n"]) == (task, delay, epochs, 8)
    assert r["accuracy_curve"]["epochs"] == h.eval_epochs and h.eval_epochs[-1] == epochs
    assert len(h.loss) == epochs
    np.testing.assert_allclose(r["accuracy_curve"]["accuracy"], h.accuracy, atol=5e-5)
    assert r["accuracy"] == pytest.approx(h.final_accuracy, abs=5e-7)
    assert r["final_loss"] == pytest.approx(h.loss[-1], abs=5e-7)
    assert 0.0 <= r["accuracy"] <= 1.0


@pytest.mark.parametrize("argv, message", [
    (["spectrum", "--n", "10", "--k", "11"], "choose k <= N"),
    (["spectrum", "--n", "-4"], ">= 1"),
    (["spectrum", "--gain", "nan"], "finite"),
    (["spectrum", "--steps", "x"], "invalid int"),
    (["floss", "--n", "10", "--k", "20"], "k <= N"),
    (["floss", "--eval-steps", "10"], ">= 300"),
    (["train", "--delay", "80", "--seq-len", "50"], "shorter than the sequence"),
    (["train", "--task", "sort"], "invalid choice"),
    (["train", "--flossing", "always"], "invalid choice"),
    (["frobnicate"], "invalid choice"),
    ([], "required"),
])
def test_bad_arguments_exit_2_with_one_line(capsys, argv, message):
    with pytest.raises(SystemExit) as exc:
        code = main(argv)
        raise SystemExit(code)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_real_process_has_no_traceback():
    proc = subprocess.run([sys.executable, "-m", "flosslab", "spectrum", "--k", "0"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stdout == "" and "Traceback" not in proc.stderr
    assert proc.stderr.strip().startswith("flosslab spectrum: error:")


def test_closed_output_pipe_is_not_a_traceback():
    """`python -m flosslab ... | head` where the reader has gone: a quiet stop, no traceback."""
    proc = subprocess.Popen([sys.executable, "-m", "flosslab", "spectrum", "--n", "12",
                             "--steps", "60"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141 and "Traceback" not in err, err


@pytest.mark.parametrize("autonomous", [False, True])
def test_spectrum_ensemble_members_equal_lone_runs(capsys, autonomous):
    extra = ["--autonomous"] if autonomous else []
    common = ["--device", "cpu", "--n", "12", "--k", "4", "--steps", "150", *extra]
    ens = run_json(capsys, "spectrum", *common, "--gains", "1", "2.5", "--seeds", "3", "4")
    assert [(m["gain"], m["seed"]) for m in ens["members"]] == [(1, 3), (1, 4), (2.5, 3), (2.5, 4)]
    for m in ens["members"]:
        lone = run_json(capsys, "spectrum", *common, "--gain", str(m["gain"]),
                        "--seed", str(m["seed"]))
        np.testing.assert_allclose(m["exponents"], lone["exponents"], atol=2e-6)


def test_floss_and_train_ensembles_equal_lone_runs(capsys):
    common = ["floss", "--device", "cpu", "--n", "10", "--k", "5", "--flossing-steps", "8"]
    ens = run_json(capsys, *common, "--seeds", "0", "1")
    for m in ens["members"]:
        lone = run_json(capsys, *common, "--seed", str(m["seed"]))
        np.testing.assert_allclose(m["exponents_after"], lone["exponents_after"], atol=2e-6)
        assert m["log10_condition_after"] == pytest.approx(lone["log10_condition_after"], abs=2e-3)
    common = ["train", "--device", "cpu", "--n", "8", "--epochs", "12"]
    ens = run_json(capsys, *common, "--delays", "2", "3", "--seeds", "5")
    assert [(m["delay"], m["seed"]) for m in ens["members"]] == [(2, 5), (3, 5)]
    for m in ens["members"]:
        lone = run_json(capsys, *common, "--delay", str(m["delay"]), "--seed", "5")
        assert m["accuracy"] == pytest.approx(lone["accuracy"], abs=1e-6)
        assert m["final_loss"] == pytest.approx(lone["final_loss"], abs=1e-6)
    assert ens["median_accuracy"] == pytest.approx(np.median([m["accuracy"] for m in ens["members"]]))


@pytest.mark.parametrize("argv", [["spectrum", "--seeds", "0", "1"], ["floss", "--gains", "1", "2"],
                                  ["train", "--delays", "2", "3"]])
def test_ensembles_need_the_engine(capsys, argv):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "torch engine" in err and "--device" in err and len(err.strip().splitlines()) == 1


# --- report: the results pages' tables ------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["paper-xor", "default-horizons-copy", "claims"])
def test_report_print_is_the_report_modules_table(capsys, name):
    from flosslab.paper import report
    assert main(["report", "--print", name, "--root", str(ROOT)]) == 0
    assert capsys.readouterr().out == report.TABLES[name](ROOT) + "\n"
    assert run_json(capsys, "report", "--print", name, "--root", str(ROOT))["text"] == \
        report.TABLES[name](ROOT)


def test_report_check_and_write_agree_with_the_report_module(tmp_path, capsys):
    from flosslab.paper import report
    fresh = report.TABLES["paper-horizons"](ROOT)
    page = tmp_path / "page.md"
    good = f"text\n<!-- table: paper-horizons -->\n{fresh}\n<!-- /table -->\nmore\n"
    page.write_text(good)
    assert main(["report", "--check", str(page), "--root", str(ROOT)]) == 0
    assert capsys.readouterr().out == ""
    stale = good.replace(fresh, fresh.replace("|---|", "|---|\n| a row typed by hand |", 1))
    assert stale != good and report.stale_tables(stale, ROOT) == ["paper-horizons"]
    page.write_text(stale)
    assert main(["report", "--check", str(page), "--root", str(ROOT)]) == 1
    assert capsys.readouterr().out == (f"{page}: stale tables: paper-horizons (run python -m "
                                       f"flosslab report --write {page})\n")
    assert main(["report", "--write", str(page), "--root", str(ROOT)]) == 0
    assert page.read_text() == report.fill(stale, ROOT) == good


def test_report_without_the_runs_is_one_line_and_status_2(tmp_path):
    """Run where there is no checkout (--root defaults to the current folder): one line, exit 2."""
    proc = subprocess.run([sys.executable, "-m", "flosslab", "report", "--check",
                           "docs/results.md"], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2 and proc.stdout == "", proc.stderr
    err = proc.stderr.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("flosslab report: error: no reproduction runs under") and "--root" in err
