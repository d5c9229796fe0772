"""Run the core issue's acceptance checks and print the measured numbers.

    python benchmarks/acceptance.py

Each line names the check, the number measured and the bar it must clear. Not a test: a record.
"""
import json
import platform
import subprocess
import sys
import time


def cli(*argv):
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "flosslab", *argv, "--json"], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out), time.perf_counter() - start


def main():
    print(f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, python "
          f"{platform.python_version()}")
    r, sec = cli("floss", "--gain", "1", "--n", "80", "--k", "75", "--flossing-steps", "500",
                 "--seed", "0")
    drop = r["log10_condition_before"] - r["log10_condition_after"]
    print(f"floss N=80 k=75 g=1 500 steps ({sec:.0f} s): mean|lambda| {r['mean_abs_exponent_before']:.3f}"
          f" -> {r['mean_abs_exponent_after']:.4f} (bar < 0.05); log10 cond "
          f"{r['log10_condition_before']:.1f} -> {r['log10_condition_after']:.1f}, drop {drop:.1f}"
          f" (bar >= 20)")
    r, sec = cli("train", "--task", "copy", "--delay", "5", "--flossing", "none", "--seed", "0")
    print(f"train copy delay 5 none ({sec:.0f} s): accuracy {r['accuracy']:.4f} (bar >= 0.95)")


if __name__ == "__main__":
    main()
