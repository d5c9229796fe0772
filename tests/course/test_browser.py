"""Every notebook in a real JupyterLab in chromium (tools/browser_check.py, fast mode).

Opt-in: skipped unless FLOSSLAB_BROWSER=1 is set and chromium and playwright are installed, so the
normal test run (and CI) never starts a browser. Takes about three minutes on a 2-core machine;
screenshots and summary.json are left in pytest's tmp_path (printed on failure).

    FLOSSLAB_BROWSER=1 python -m pytest tests/course/test_browser.py -s
"""
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.skipif(os.environ.get("FLOSSLAB_BROWSER") != "1",
                       reason="real-browser check: set FLOSSLAB_BROWSER=1 to run it"),
    pytest.mark.skipif(not (shutil.which("chromium") or shutil.which("chromium-browser")),
                       reason="chromium is not installed (apt-get install chromium)"),
    pytest.mark.skipif(importlib.util.find_spec("playwright") is None,
                       reason="playwright is not installed (pip install playwright)"),
]


def test_every_notebook_runs_and_every_dashboard_reacts_in_jupyterlab(tmp_path):
    out = tmp_path / "browser_check"
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "browser_check.py"), "--fast",
                           "--out", str(out)], cwd=ROOT, capture_output=True, text=True,
                          timeout=3600)
    report = proc.stdout + proc.stderr
    assert proc.returncode != 2, f"the check could not run:\n{report}"
    summary = json.loads((out / "summary.json").read_text())
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert len(summary["notebooks"]) == len(notebooks), report
    assert proc.returncode == 0 and summary["problems"] == 0, \
        f"problems in the browser (screenshots in {out}):\n{report}"
