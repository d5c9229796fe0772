"""The torch path must not need autograd (a GPU machine may have torch only).

Runs in a fresh interpreter in which importing autograd fails as it does where it is not
installed, and checks that the engine, the benchmark and the CLI's --device paths (spectrum,
train, floss with its condition number) work, that the
reference modules are never imported on the way, and that the reference's entry points say clearly
what is missing.
"""
import json
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import json, sys

    class NoAutograd:                      # behave as if autograd were not installed
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] == "autograd":
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)

    sys.meta_path.insert(0, NoAutograd())
    import torch
    import flosslab
    import flosslab.engine as E
    from flosslab.engine.bench import single_case
    from flosslab.cli import main

    out = {}
    p = E.to_torch(flosslab.init_rnn(12, 1.5, seed=0), requires_grad=True)
    lam = E.lyapunov_spectrum(p, flosslab.random_bits(40, 1, 0), n_exponents=5, reorth_every="auto")
    (lam ** 2).sum().backward()
    out["grad_finite"] = bool(torch.isfinite(p["W"].grad).all())
    out["bench_dlambda"] = single_case("tiny", 12, 5, 40, torch.device("cpu"), torch.float64,
                                       1)["max_abs_dlambda"]
    out["cli_spectrum_device"] = main(["spectrum", "--device", "cpu", "--n", "10", "--steps", "60"])
    out["cli_train_device"] = main(["train", "--device", "cpu", "--n", "8", "--epochs", "2"])
    out["cli_floss_device"] = main(["floss", "--device", "cpu", "--n", "8", "--k", "4",
                                    "--flossing-steps", "2"])
    out["loaded"] = sorted(m for m in sys.modules if m.startswith(("flosslab", "autograd")))
    out["cli_spectrum_reference"] = main(["spectrum", "--n", "10", "--steps", "60"])
    try:
        flosslab.floss
        out["floss_error"] = None
    except ImportError as exc:
        out["floss_error"] = str(exc)
    print("RESULT " + json.dumps(out))
""")


def test_engine_bench_and_cli_device_paths_run_without_autograd():
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    out = json.loads(line[len("RESULT "):])
    assert out["grad_finite"]
    assert out["bench_dlambda"] < 1e-8
    assert out["cli_spectrum_device"] == out["cli_train_device"] == out["cli_floss_device"] == 0
    reference = {"flosslab.reference.lyapunov", "flosslab.reference.flossing",
                 "flosslab.reference.training", "flosslab.reference.model",
                 "flosslab.reference.diagnostics", "flosslab.reference.qr"}
    assert not reference & set(out["loaded"]), out["loaded"]
    assert not any(m.startswith("autograd") for m in out["loaded"])
    # the reference's entry points fail with one clear line, not a traceback
    assert out["cli_spectrum_reference"] == 2
    assert "needs autograd" in proc.stderr and "Traceback" not in proc.stderr
    assert "needs autograd" in out["floss_error"] and "flosslab.engine" in out["floss_error"]
