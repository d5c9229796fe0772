"""The GPU check script at toy size on the CPU: it runs every section and writes strict JSON.

On a CPU "the device" is the CPU too, so the float64 run must equal the CPU float64 reference
(same code path, different QR method only through "auto" = Householder on a CPU): 1e-12; float32
differs by round-off, between 1e-9 and 1e-3 per exponent.
"""
import json
import runpy
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_gpu_check_runs_at_toy_size_on_the_cpu(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["gpu_check.py", "--device", "cpu", "--toy",
                                      "--out", str(tmp_path)])
    try:
        runpy.run_path(str(ROOT / "benchmarks" / "gpu_check.py"), run_name="__main__")
    except SystemExit as exit_:
        assert exit_.code == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1],
                         parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
    assert printed == json.loads((tmp_path / "gpu_check.json").read_text())
    for section in ("bench", "ensemble", "paper"):
        assert "error" not in printed[section], printed[section]
    ens = printed["ensemble"]
    assert ens["device_float64"]["max_abs_dlambda_all_steps"] <= 1e-12
    assert 1e-9 < ens["device_float32"]["max_abs_dlambda_all_steps"] < 1e-3
    assert {r["case"] for r in printed["bench"]["rows"]} >= {"paper", "large", "paper_float32"}
    paper = printed["paper"]
    assert paper["members"] == 6 and (tmp_path / "runs.jsonl").exists()
    for acc in paper["accuracy"].values():
        assert all(0.0 <= a <= 1.0 for a in acc["all"])
