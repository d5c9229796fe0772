"""Real-browser check (not run in CI): moving a slider in JupyterLab 4 updates the plot.

    python tools/browser_check.py [notebook] [outdir]

Starts ``jupyter lab --no-browser`` on localhost, opens the notebook in Debian's chromium through
playwright (no ``playwright install``), runs all cells, screenshots the spectrum dashboard, moves
its gain slider with the keyboard (a real input event, released like a mouse), waits for the image
to change, and screenshots again. Prints whether the dashboard's PNG changed.
"""
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(notebook="notebooks/02_lyapunov_exponents_by_qr.ipynb", outdir="/tmp/browser_check"):
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    port, token = free_port(), "flosslabcheck"
    env = dict(os.environ, FLOSSLAB_FAST="1")
    lab = subprocess.Popen([sys.executable, "-m", "jupyter", "lab", "--no-browser",
                            f"--port={port}", "--ip=127.0.0.1", f"--IdentityProvider.token={token}",
                            f"--ServerApp.root_dir={ROOT}", "--allow-root"],
                           env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:                          # wait for the server
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.5)
        time.sleep(2)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium"), headless=True,
                                        args=["--no-sandbox", "--disable-background-networking"])
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"http://127.0.0.1:{port}/lab/tree/{notebook}?token={token}")
            page.wait_for_selector(".jp-Notebook", timeout=60000)
            time.sleep(4)
            page.keyboard.press("Escape")
            page.click("text=Run", timeout=10000)            # the Run menu
            page.click("text=Run All Cells", timeout=10000)
            slider = page.locator(".widget-slider").first
            slider.wait_for(timeout=90000)
            img = page.locator(".widget-output img").first
            img.wait_for(timeout=90000)
            time.sleep(3)
            img.scroll_into_view_if_needed()
            src_before = img.get_attribute("src")
            page.screenshot(path=str(out / "before.png"))
            handle = page.locator(".widget-slider .noUi-handle").first
            handle.focus()
            for _ in range(10):
                handle.press("ArrowLeft")                    # gain 2.0 -> 1.5 in steps of 0.05
            page.mouse.click(5, 5)
            deadline = time.time() + 30
            src_after = src_before
            while time.time() < deadline and src_after == src_before:
                time.sleep(0.5)
                src_after = page.locator(".widget-output img").first.get_attribute("src")
            readout = page.locator(".widget-readout").first.inner_text()
            page.screenshot(path=str(out / "after.png"))
            print(f"gain readout after: {readout}; plot image changed: {src_after != src_before}")
            browser.close()
    finally:
        lab.terminate()
        lab.wait(timeout=20)


if __name__ == "__main__":
    main(*sys.argv[1:])
