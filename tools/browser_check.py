"""Real-browser check of every course notebook in JupyterLab 4 (not run in CI).

    python tools/browser_check.py [--fast|--full] [--out DIR] [notebooks...]

Default: every ``notebooks/*.ipynb``, fast mode (``FLOSSLAB_FAST=1`` in the server's environment;
``--full`` sets ``FLOSSLAB_FAST=0``), output in ``/tmp/browser_check``.

What it does:

1. Starts ``jupyter lab --no-browser`` on a free localhost port with a random token, rooted at the
   repository, with throw-away JupyterLab settings/workspaces/config/data/runtime directories (so no
   state leaks in or out). Those settings turn autosave off (the notebooks on disk are never
   written; their bytes are compared before and after and restored if anything changed anyway) and
   render every cell (``windowingMode: none``) so the whole DOM can be inspected. The server is
   always shut down, also on errors, Ctrl-C and SIGTERM.
2. For each notebook, in a fresh browser context (Debian's chromium via playwright, no
   ``playwright install``): opens ``/lab/workspaces/<fresh>/tree/notebooks/NAME.ipynb``, waits for
   an idle kernel, clicks Run > Run All Cells (falls back to the ``notebook:run-all-cells`` command
   if the menu click did not start anything), and polls until the kernel is idle and every code cell
   has an execution count (or execution stopped after an error, or ``--timeout`` passed).
3. Inspects the rendered output of every cell for ``<Figure size`` (a matplotlib figure shown as
   text), ``Error displaying widget``, ``model not found``, ``Loading widget...`` (after a settle
   time), ``Traceback``, error outputs, widgets rendered as plain text or not at all, and broken
   images; errors raised in widget callbacks (which JupyterLab shows only in the log console) are
   caught from the kernel's messages.
4. For every dashboard (a top-level widget box holding an Output with an ``<img>``, or a Train
   button): moves its first enabled control (every one with ``--all-controls``) like a person would
   (slider: keyboard on the focused handle, then blur; dropdown: another option; toggle buttons:
   another button) and, if it has one,
   clicks Train; waits for the dashboard's image (or, for a control that only changes text, its
   output text) to change, records the latency and the readout before -> after, and fails on no
   change or on error text.
5. Screenshots into ``--out``: the whole notebook after the run, each dashboard before and after
   each move. Prints one line per notebook and per dashboard move, a summary line, writes
   ``summary.json``, and exits 1 if any problem was found, else 0 (2 on a setup failure).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu",
                 "--disable-component-update", "--no-first-run"]
VIEWPORT = {"width": 1400, "height": 1000}
MAX_SCREENSHOT_HEIGHT = 30000

# Text that must not be visible in any output, with the label a problem gets.
BAD_TEXT = [
    ("<Figure size", "figure shown as text"),
    ("Error displaying widget", "Error displaying widget"),
    ("model not found", "widget model not found"),
    ("Loading widget...", "widget still loading"),
    ("Traceback", "Traceback"),
]
# Text that is worth a note but is not a failure (messages the dashboards print on purpose).
NOTE_TEXT = ["Cannot show this combination", "Cannot train this combination", "Training stopped"]

SETTINGS = {  # JupyterLab user settings for the throw-away settings directory
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false",
                                                     "checkForUpdates": False},
    "@jupyterlab/extensionmanager-extension/plugin": {"enabled": False},
}

# Helpers installed in the page once the notebook is open. ``panel(path)`` finds the notebook panel
# through the JupyterLab application (exposed with --LabApp.expose_app_in_browser).
JS_HELPERS = r"""
() => {
  if (window.__bc) return true;
  const hash = (s) => {                       // FNV-1a, 32 bit, plus the length
    let h = 0x811c9dc5;
    for (let i = 0; i < s.length; i++) { h ^= s.charCodeAt(i); h = Math.imul(h, 0x01000193); }
    return (h >>> 0).toString(16) + ':' + s.length;
  };
  const panel = (path) => {
    const app = window.jupyterapp;
    if (!app) return null;
    for (const w of app.shell.widgets('main')) {
      if (w.context && w.context.path === path && w.content && w.sessionContext) return w;
    }
    return null;
  };
  const kernelOf = (p) => p && p.sessionContext.session ? p.sessionContext.session.kernel : null;
  const bc = { hash, panel, kernelOf, messages: [], hooked: null, executeInputs: 0 };
  // Record error / stderr messages of the kernel, with the type of the request that caused them:
  // errors in widget callbacks (comm_msg) never reach a cell; JupyterLab puts them in the log.
  bc.hook = (path) => {
    const k = kernelOf(panel(path));
    if (!k || bc.hooked === k) return !!k;
    bc.hooked = k;
    // an Output widget captures the messages of a request by a message hook on its id
    const captured = new Set();
    const register = k.registerMessageHook.bind(k);
    k.registerMessageHook = (id, hook) => { captured.add(id); return register(id, hook); };
    k.iopubMessage.connect((_, msg) => {
      const t = msg.header.msg_type;
      const ph = msg.parent_header || {};
      const parent = ph.msg_type || '', inOutput = captured.has(ph.msg_id);
      if (t === 'execute_input') bc.executeInputs++;
      if (t === 'error') {
        bc.messages.push({type: 'error', parent, inOutput, text: (msg.content.ename || '') + ': ' +
                          (msg.content.evalue || '')});
      } else if (t === 'stream' && msg.content.name === 'stderr' && parent !== 'execute_request') {
        bc.messages.push({type: 'stderr', parent, inOutput, text: msg.content.text});
      }
    });
    return true;
  };
  window.__bc = bc;
  return true;
}
"""

JS_STATE = r"""
(path) => {
  const bc = window.__bc, p = bc.panel(path);
  if (!p) return {found: false};
  const k = bc.kernelOf(p);
  const cells = [];
  p.content.widgets.forEach((cw, i) => {
    const m = cw.model;
    if (m.type !== 'code') return;
    const prompt = cw.node.querySelector('.jp-InputPrompt');
    cells.push({i, count: m.executionCount, state: m.executionState || null,
                prompt: prompt ? prompt.textContent.trim() : ''});
  });
  return {found: true, status: k ? k.status : (p.sessionContext.kernelDisplayStatus || 'none'),
          connection: k ? k.connectionStatus : null, cells};
}
"""

JS_INSPECT = r"""
(path) => {
  const bc = window.__bc, p = bc.panel(path);
  const cells = [];
  p.content.widgets.forEach((cw, i) => {
    const m = cw.model;
    if (m.type !== 'code') return;
    const area = cw.node.querySelector('.jp-Cell-outputArea');
    const outputs = m.outputs.toJSON().map(o => ({
      type: o.output_type, name: o.name || null,
      mimes: o.data ? Object.keys(o.data) : [],
      plain: o.data && o.data['text/plain'] ? [].concat(o.data['text/plain']).join('').slice(0, 200) : null,
      ename: o.ename || null, evalue: o.evalue ? String(o.evalue).slice(0, 300) : null,
    }));
    const imgs = area ? [...area.querySelectorAll('img')] : [];
    const stderr = area ? [...area.querySelectorAll(
      '.jp-RenderedText[data-mime-type="application/vnd.jupyter.stderr"]')].map(e => e.textContent) : [];
    cells.push({
      i, count: m.executionCount, outputs,
      text: area ? area.textContent : '',
      visible: area ? area.innerText : '',
      images: imgs.length,
      broken_images: imgs.filter(im => im.complete && im.naturalWidth === 0).length,
      widgets: area ? area.querySelectorAll('.jupyter-widgets').length : 0,
      stderr,
    });
  });
  return cells;
}
"""

# Answer cells (tagged "answer") as the student sees them: rendered markdown whose <details> block
# must be closed, its body not visible.
JS_ANSWERS = r"""
(path) => {
  const bc = window.__bc, p = bc.panel(path);
  const out = [];
  p.content.widgets.forEach((cw, i) => {
    const m = cw.model;
    const tags = (m.getMetadata ? m.getMetadata('tags') : m.metadata.get('tags')) || [];
    if (m.type !== 'markdown' || !tags.includes('answer')) return;
    const details = cw.node.querySelector('.jp-RenderedMarkdown details');
    let visible = '';
    if (!details) {
      const r = cw.node.querySelector('.jp-RenderedMarkdown');
      visible = r ? r.innerText.trim() : '';
    } else if (details.open) {
      visible = details.innerText.trim();
    } else {
      const body = [...details.children].filter(e => e.tagName !== 'SUMMARY');
      visible = body.map(e => e.offsetHeight > 0 ? e.innerText : '').join('').trim();
    }
    out.push({i, details: !!details, open: details ? details.open : null,
              visible: visible.slice(0, 120)});
  });
  return out;
}
"""

# Find dashboards: top-level widget boxes in a cell's output holding an image (an Image widget, or
# an <img> in an Output), or a Train button. Each gets data-bc-dash="<n>", each of its controls
# (outside its Output areas) data-bc-ctl="<n>-<j>".
JS_DASHBOARDS = r"""
(path) => {
  const bc = window.__bc, p = bc.panel(path);
  const found = [];
  let n = 0;
  const kindOf = (e) => e.classList.contains('widget-slider') ? 'slider'
    : e.classList.contains('widget-dropdown') ? 'dropdown'
    : e.classList.contains('widget-checkbox') ? 'checkbox'
    : e.classList.contains('widget-toggle-buttons') ? 'toggle' : 'button';
  p.content.widgets.forEach((cw, i) => {
    if (cw.model.type !== 'code') return;
    const area = cw.node.querySelector('.jp-Cell-outputArea');
    if (!area) return;
    const boxes = [...area.querySelectorAll('.widget-box')]
      .filter(b => !(b.parentElement && b.parentElement.closest('.widget-box')));
    for (const box of boxes) {
      const inOutput = (e) => { const o = e.closest('.widget-output'); return !!o && box.contains(o); };
      const ctls = [...box.querySelectorAll(
        '.widget-slider, .widget-dropdown, .widget-toggle-buttons, .widget-checkbox, '
        + 'button.widget-button')]
        .filter(e => !inOutput(e));
      const label = (e) => {
        if (e.tagName === 'BUTTON') return (e.textContent || e.title || '').trim();
        const l = e.querySelector('.widget-label');
        return l ? l.textContent.trim() : '';
      };
      const hasImg = !!box.querySelector('.widget-output img, img.widget-image');
      const hasTrain = ctls.some(e => e.tagName === 'BUTTON' && label(e) === 'Train');
      if (!hasImg && !hasTrain) continue;
      const id = String(n++);
      box.setAttribute('data-bc-dash', id);
      const controls = ctls.map((e, j) => {
        e.setAttribute('data-bc-ctl', id + '-' + j);
        const kind = kindOf(e);
        let disabled = false;
        if (kind === 'button') disabled = e.disabled;
        else if (kind === 'dropdown') disabled = e.querySelector('select').disabled;
        else if (kind === 'toggle') disabled = [...e.querySelectorAll('button')].every(b => b.disabled);
        else if (kind === 'checkbox') disabled = e.querySelector('input').disabled;
        else { const t = e.querySelector('.noUi-target');
               disabled = !!t && (t.hasAttribute('disabled') || t.getAttribute('aria-disabled') === 'true'); }
        return {ref: id + '-' + j, kind, label: label(e), disabled,
                handles: kind === 'slider' ? e.querySelectorAll('.noUi-handle').length : 0};
      });
      found.push({id, cell: i, controls, has_img: hasImg});
    }
  });
  return found;
}
"""

JS_READOUT = r"""
(ref) => {
  const e = document.querySelector(`[data-bc-ctl="${ref}"]`);
  if (!e) return null;
  if (e.classList.contains('widget-slider')) {
    const r = e.querySelector('.widget-readout');
    if (r && r.textContent.trim()) return r.textContent.trim();
    return [...e.querySelectorAll('.noUi-handle')].map(h => h.getAttribute('aria-valuetext')).join(' – ');
  }
  if (e.classList.contains('widget-dropdown')) {
    const s = e.querySelector('select');
    return s.selectedIndex >= 0 ? s.options[s.selectedIndex].text : '';
  }
  if (e.classList.contains('widget-checkbox')) {
    const i = e.querySelector('input');
    return (i && i.checked ? 'checked' : 'unchecked');
  }
  if (e.classList.contains('widget-toggle-buttons')) {
    const a = e.querySelector('button.mod-active');
    return a ? a.textContent.trim() : '';
  }
  return (e.textContent || e.title || '').trim() + (e.disabled ? ' (disabled)' : '');
}
"""

# What a dashboard shows now: a hash of its images' sources and one of its text (Output, HTML status).
JS_SIGNATURE = r"""
(id) => {
  const bc = window.__bc;
  const box = document.querySelector(`[data-bc-dash="${id}"]`);
  if (!box) return null;
  const imgs = [...box.querySelectorAll('.widget-output img, img.widget-image')]
    .map(im => im.getAttribute('src') || '');
  const text = [...box.querySelectorAll('.widget-output, .widget-html')]
    .map(o => o.textContent).join('\u0001');
  return {img: bc.hash(imgs.join('|')), n_img: imgs.length, text: bc.hash(text),
          all_text: box.textContent, visible: box.innerText};
}
"""

JS_NOTEBOOK_HEIGHT = r"""
(path) => {
  const p = window.__bc.panel(path);
  const nb = p.content.node;
  const outer = nb.querySelector('.jp-WindowedPanel-outer') || nb;     // the scrolling element
  const cells = nb.querySelectorAll('.jp-Cell');
  const last = cells[cells.length - 1];
  const top = outer.getBoundingClientRect().top;
  const bottom = last ? last.getBoundingClientRect().bottom - top + outer.scrollTop : outer.scrollHeight;
  return {content: Math.ceil(bottom) + 30, client: outer.clientHeight};
}
"""

JS_SCROLL_TOP = r"""
(path) => {
  const nb = window.__bc.panel(path).content.node;
  (nb.querySelector('.jp-WindowedPanel-outer') || nb).scrollTop = 0;
}
"""


class CheckError(Exception):
    """A notebook could not be checked (it is reported as a problem of that notebook)."""


# --- the server -------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LabServer:
    """``jupyter lab`` in its own process group with throw-away settings; a context manager."""

    def __init__(self, fast: bool, log_path: Path):
        self.fast = fast
        self.log_path = log_path
        self.token = secrets.token_hex(16)
        self.port = None
        self.proc = None
        self.tmp = None
        self.log = None

    def _env(self):
        tmp = Path(self.tmp)
        for sub in ("settings", "workspaces", "config", "data", "runtime"):
            (tmp / sub).mkdir(parents=True, exist_ok=True)
        for plugin, values in SETTINGS.items():
            f = tmp / "settings" / f"{plugin}.jupyterlab-settings"
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text(json.dumps(values))
        env = dict(os.environ)
        env.update(
            FLOSSLAB_FAST="1" if self.fast else "0",
            JUPYTERLAB_SETTINGS_DIR=str(tmp / "settings"),
            JUPYTERLAB_WORKSPACES_DIR=str(tmp / "workspaces"),
            JUPYTER_CONFIG_DIR=str(tmp / "config"),
            JUPYTER_DATA_DIR=str(tmp / "data"),
            JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
            IPYTHONDIR=str(tmp / "ipython"),
            MPLCONFIGDIR=str(tmp / "matplotlib"),
            PYTHONUNBUFFERED="1",
        )
        env.pop("MPLBACKEND", None)
        # the kernel spec says "python": make it this interpreter (a venv need not be activated)
        env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
        return env

    def __enter__(self):
        self.tmp = tempfile.mkdtemp(prefix="flosslab-lab-")
        env = self._env()
        self.log = open(self.log_path, "w")
        try:
            for attempt in range(3):
                self.port = free_port()
                cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser",
                       "--ip=127.0.0.1", f"--port={self.port}", "--port-retries=0",
                       f"--IdentityProvider.token={self.token}",
                       f"--ServerApp.root_dir={ROOT}", "--allow-root",
                       "--LabApp.expose_app_in_browser=True",
                       "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                       "--ServerApp.terminals_enabled=False",
                       # checkpoints (written when a notebook is opened) go to the throw-away dir
                       f"--FileCheckpoints.checkpoint_dir={Path(self.tmp) / 'checkpoints'}"]
                self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=self.log,
                                             stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                             start_new_session=True)
                ACTIVE["lab"] = self
                if self._wait_ready(90):
                    return self
                self._stop()
            raise CheckError(f"jupyter lab did not start; see {self.log_path}:\n{self._log_tail()}")
        except BaseException:
            self.__exit__(None, None, None)
            raise

    def _log_tail(self, n=15):
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                self.api("GET", "/api/status", timeout=3)
                return True
            except (OSError, urllib.error.URLError):
                time.sleep(0.5)
        return False

    @property
    def base(self):
        return f"http://127.0.0.1:{self.port}"

    def api(self, method, path, timeout=10):
        req = urllib.request.Request(self.base + path, method=method,
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=timeout) as r:
            body = r.read()
        return json.loads(body) if body else None

    def shutdown_sessions(self):
        """Shut down every session and kernel (one notebook's kernel must not outlive its check)."""
        try:
            for s in self.api("GET", "/api/sessions") or []:
                self.api("DELETE", f"/api/sessions/{s['id']}", timeout=30)
            for k in self.api("GET", "/api/kernels") or []:
                self.api("DELETE", f"/api/kernels/{k['id']}", timeout=30)
        except (OSError, urllib.error.URLError, ValueError) as err:
            print(f"  (could not shut down kernels: {err})", flush=True)

    def _stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)   # the server shuts its kernels down
            self.proc.wait(timeout=20)
        except (ProcessLookupError, PermissionError):
            pass
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=10)

    def __exit__(self, *exc):
        try:
            if self.proc is not None and self.proc.poll() is None:
                self.shutdown_sessions()
        finally:
            self._stop()
            if self.log:
                self.log.close()
            if self.tmp:
                shutil.rmtree(self.tmp, ignore_errors=True)
            ACTIVE["lab"] = None
        return False


def descendants(pid: int) -> list[int]:
    """Process ids below ``pid`` (children first), from /proc; empty where there is no /proc."""
    children = {}
    for d in Path("/proc").glob("[0-9]*"):
        try:
            fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(d.name))
        except (OSError, IndexError, ValueError):
            continue
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


ACTIVE = {"lab": None}


def stop_everything(signum, _frame):
    """SIGTERM/SIGINT/SIGHUP: stop the server (it stops its kernels), then every process this
    script started (playwright's driver, chromium, leftover kernels), by id; exit at once.

    Raising an exception instead is not enough: it can land inside playwright's event loop, and
    the process then ends with the server and chromium still running."""
    try:
        lab = ACTIVE["lab"]
        if lab is not None:
            lab._stop()
            shutil.rmtree(lab.tmp, ignore_errors=True)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            pids = descendants(os.getpid())
            for pid in reversed(pids):
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            if pids and sig == signal.SIGTERM:
                time.sleep(1.0)
        for path, data in ACTIVE.get("originals", {}).items():
            if path.exists() and path.read_bytes() != data:
                path.write_bytes(data)
                print(f"{path}: was modified on disk, restored", file=sys.stderr)
        print(f"stopped by signal {signum}", file=sys.stderr, flush=True)
    finally:
        os._exit(128 + signum)


# --- one notebook -----------------------------------------------------------------------------------

def snippet(text, needle, width=120):
    """The line of ``text`` holding ``needle``, trimmed to ``width`` around it."""
    for line in text.splitlines():
        if needle in line:
            line = re.sub(r"\s{2,}", " ", line.strip())
            if len(line) > width:
                k = max(0, line.find(needle) - 20)
                line = ("..." if k else "") + line[k:k + width] + "..."
            return line
    return needle


def text_problems(text, visible=""):
    """(labels, line) for the bad texts in ``text`` (textContent, hidden parts included) or
    ``visible`` (innerText, with line breaks); one entry per distinct line."""
    found = {}
    for needle, label in BAD_TEXT:
        if needle in text or needle in visible:
            line = snippet(visible if needle in visible else text, needle)
            found.setdefault(line, []).append(label)
    return [(" / ".join(labels), line) for line, labels in found.items()]


class NotebookCheck:
    def __init__(self, lab: LabServer, browser, nb_path: Path, out: Path, opts):
        self.lab, self.browser, self.opts, self.out = lab, browser, opts, out
        self.rel = nb_path.resolve().relative_to(ROOT).as_posix()
        self.name = nb_path.stem
        self.tag = self.name.split("_")[0]
        self.problems = []     # dicts: cell, count, kind, detail
        self.notes = []
        self.result = {"notebook": self.rel, "problems": self.problems, "notes": self.notes,
                       "dashboards": [], "screenshots": []}
        self.page = None
        self.context = None

    def problem(self, kind, detail="", cell=None, count=None):
        self.problems.append({"cell": cell, "count": count, "kind": kind, "detail": detail})

    # -- steps ------------------------------------------------------------------------------------

    def run(self):
        t0 = time.monotonic()
        self.context = self.browser.new_context(viewport=VIEWPORT)
        self.page = self.context.new_page()
        self.page.set_default_timeout(30000)
        console = self.result["console_errors"] = []
        self.page.on("console", lambda m: console.append(m.text[:300]) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: console.append(f"page error: {str(e)[:300]}"))
        self.page.on("dialog", lambda d: d.dismiss())
        try:
            self.open()
            finished = self.run_all()
            self.inspect(30 if finished else 3)
            self.screenshot_notebook()
            if finished:       # (after a timeout the kernel is busy: no dashboard would react)
                self.check_dashboards()
            self.kernel_messages()
        except CheckError as err:
            self.problem("check failed", str(err))
            self.safe_screenshot(f"{self.tag}_failure.png")
        except Exception as err:      # playwright timeouts and the like: report, go on
            self.problem("check failed", f"{type(err).__name__}: {str(err).splitlines()[0][:300]}")
            self.safe_screenshot(f"{self.tag}_failure.png")
        finally:
            try:
                self.context.close()
            except Exception:
                pass
        self.result["seconds"] = round(time.monotonic() - t0, 1)
        return self.result

    def safe_screenshot(self, name):
        try:
            self.page.screenshot(path=str(self.out / name))
            self.result["screenshots"].append(name)
        except Exception:
            pass

    def open(self):
        ws = f"check-{self.tag}-{secrets.token_hex(3)}"
        url = f"{self.lab.base}/lab/workspaces/{ws}/tree/{self.rel}?reset&token={self.lab.token}"
        self.page.goto(url, wait_until="domcontentloaded", timeout=60000)
        self.page.wait_for_function("() => !!window.jupyterapp", timeout=60000)
        self.page.evaluate(JS_HELPERS)
        try:
            self.page.wait_for_function(
                "(path) => { const p = window.__bc.panel(path); return !!p && p.context.isReady &&"
                " p.content.widgets.length > 0; }", arg=self.rel, timeout=60000)
        except Exception:
            raise CheckError("the notebook did not open within 60 s")
        self.page.evaluate("() => { const s = window.jupyterapp.shell;"
                           " s.collapseLeft && s.collapseLeft(); s.collapseRight && s.collapseRight(); }")
        # a fresh kernel, idle and connected
        deadline = time.monotonic() + 120
        while True:
            self.dismiss_dialogs()
            st = self.state()
            if st["status"] == "idle" and st["connection"] == "connected" \
                    and self.page.evaluate("(p) => window.__bc.hook(p)", self.rel):
                break
            if st["status"] in ("dead", "unknown") and time.monotonic() > deadline - 90:
                raise CheckError(f"the kernel did not start (status {st['status']})")
            if time.monotonic() > deadline:
                raise CheckError(f"no idle kernel after 120 s (status {st['status']})")
            time.sleep(0.5)
        self.result["code_cells"] = len(st["cells"])

    def dismiss_dialogs(self):
        """A modal dialog (kernel selection, ...) would block the run: accept its default."""
        dialog = self.page.locator(".jp-Dialog")
        if dialog.count():
            text = dialog.first.inner_text()[:200].replace("\n", " ")
            self.notes.append(f"dialog dismissed: {text}")
            self.page.keyboard.press("Enter")
            time.sleep(0.5)

    def state(self):
        st = self.page.evaluate(JS_STATE, self.rel)
        if not st.get("found"):
            raise CheckError("the notebook panel went away")
        return st

    def run_all(self):
        before = {c["i"]: c["count"] for c in self.state()["cells"]}

        def started():     # a cell marked running, a new count, or the kernel got code
            st = self.state()
            return any(c["state"] == "running" or "*" in c["prompt"] or c["count"] != before[c["i"]]
                       for c in st["cells"]) or self.page.evaluate("() => window.__bc.executeInputs") > 0

        t0 = time.monotonic()
        method = "menu Run > Run All Cells"
        try:
            self.page.evaluate("(p) => window.jupyterapp.shell.activateById(window.__bc.panel(p).id)",
                               self.rel)
            self.page.get_by_role("menuitem", name="Run", exact=True).click(timeout=10000)
            self.page.get_by_role("menuitem", name="Run All Cells", exact=True).click(timeout=10000)
            ok = self.wait_for(started, 10)
        except Exception as err:
            self.notes.append(f"menu click failed: {str(err).splitlines()[0][:200]}")
            ok = False
        if not ok:
            self.page.keyboard.press("Escape")
            method = "command notebook:run-all-cells (menu did not start a run)"
            self.page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
            if not self.wait_for(started, 15):
                raise CheckError("Run All Cells did not start any cell (menu and command tried)")
        self.result["run_method"] = method

        # every code cell executed and the kernel idle, seen three times in a row
        deadline = t0 + self.opts.timeout
        stable = stopped = 0
        while True:
            self.dismiss_dialogs()
            st = self.state()
            running = [c for c in st["cells"] if c["state"] == "running" or "*" in c["prompt"]]
            missing = [c for c in st["cells"] if c["count"] is None]
            if st["status"] in ("dead", "autorestarting", "restarting"):
                raise CheckError(f"the kernel {st['status']} during the run "
                                 f"(cells not run: {[c['i'] for c in missing]})")
            self.result["cells_run"] = sum(c["count"] is not None for c in st["cells"])
            self.result["run_seconds"] = round(time.monotonic() - t0, 1)
            idle = st["status"] == "idle"
            stable = stable + 1 if idle and not running and not missing else 0
            stopped = stopped + 1 if idle and not running and missing else 0
            if stable >= 3:
                break
            if stopped >= 8:     # idle for 4 s with cells left: the run stopped (after an error)
                self.problem("execution stopped", "cells never run: "
                             + ", ".join(str(c["i"]) for c in missing))
                break
            if time.monotonic() > deadline:
                where = running[0]["i"] if running else None
                self.problem("timeout", f"Run All not finished after {self.opts.timeout:.0f} s: "
                             f"{len(missing)} of {len(st['cells'])} code cells without an execution "
                             "count" + (f", cell {where} still running" if where is not None else ""),
                             where)
                return False       # (its kernel is shut down with the session afterwards)
            time.sleep(0.5)
        self.result["run_seconds"] = round(time.monotonic() - t0, 1)
        self.result["cells_run"] = sum(c["count"] is not None for c in st["cells"])
        self.result["code_cells"] = len(st["cells"])
        return True

    def wait_for(self, predicate, timeout, poll=0.25):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(poll)
        return predicate()

    def inspect(self, settle=30):
        # widgets render asynchronously: give "Loading widget..." time to go away
        self.wait_for(lambda: not any("Loading widget..." in c["visible"]
                                      for c in self.page.evaluate(JS_INSPECT, self.rel)), settle, 0.5)
        time.sleep(1.0)
        cells = self.page.evaluate(JS_INSPECT, self.rel)
        figures = 0
        per_cell = []
        for c in cells:
            figures += c["images"]
            i, n = c["i"], c["count"]
            errors = [o for o in c["outputs"] if o["type"] == "error"]
            for o in errors:
                self.problem("error output", f"{o['ename']}: {o['evalue']}", i, n)
            for label, line in text_problems(c["text"], c["visible"]):
                if not (errors and label == "Traceback"):     # that is the error output above
                    self.problem(label, line, i, n)
            for s in c["stderr"]:
                if "Traceback" not in s and s.strip():
                    self.notes.append(f"cell {i}: stderr: {snippet(s, s.strip().splitlines()[0])}")
            wants_widget = any("application/vnd.jupyter.widget-view+json" in o["mimes"]
                               for o in c["outputs"])
            if wants_widget and not c["widgets"] and "Error displaying widget" not in c["text"]:
                self.problem("widget not rendered", snippet(c["visible"], c["visible"].strip()[:60])
                             if c["visible"].strip() else "empty output", i, n)
            if c["broken_images"]:
                self.problem("broken image", f"{c['broken_images']} image(s) did not load", i, n)
            for note in NOTE_TEXT:
                if note in c["text"]:
                    self.notes.append(f"cell {i}: {snippet(c['visible'] or c['text'], note)}")
            per_cell.append({"cell": i, "count": n, "images": c["images"],
                             "outputs": [o["type"] for o in c["outputs"]]})
        self.result["figures"] = figures
        self.result["cells"] = per_cell
        answers = self.page.evaluate(JS_ANSWERS, self.rel)
        for a in answers:
            if a["visible"]:
                self.problem("visible answer", a["visible"], a["i"])
        self.result["answers_hidden"] = sum(not a["visible"] for a in answers)

    def screenshot_notebook(self):
        """The whole notebook: make the viewport as tall as the notebook, shoot, restore."""
        name = f"{self.tag}_notebook.png"
        h = self.page.evaluate(JS_NOTEBOOK_HEIGHT, self.rel)
        height = min(MAX_SCREENSHOT_HEIGHT, VIEWPORT["height"] - h["client"] + h["content"])
        try:
            self.page.set_viewport_size({"width": VIEWPORT["width"], "height": max(height, 600)})
            self.page.evaluate(JS_SCROLL_TOP, self.rel)
            time.sleep(1.0)
            self.page.screenshot(path=str(self.out / name))
            self.result["screenshots"].append(name)
        finally:
            self.page.set_viewport_size(VIEWPORT)
            time.sleep(0.5)

    # -- dashboards -------------------------------------------------------------------------------

    def check_dashboards(self):
        dashes = self.page.evaluate(JS_DASHBOARDS, self.rel)
        for d in dashes:
            enabled = [c for c in d["controls"] if c["kind"] != "button" and not c["disabled"]]
            moves = enabled if self.opts.all_controls else enabled[:1]
            train = next((c for c in d["controls"] if c["kind"] == "button" and c["label"] == "Train"),
                         None)
            if train:
                moves.append(train)
            info = {"dashboard": int(d["id"]) + 1, "cell": d["cell"],
                    "controls": [f"{c['label'] or '?'} ({c['kind']}{', disabled' if c['disabled'] else ''})"
                                 for c in d["controls"]], "moves": []}
            self.result["dashboards"].append(info)
            if not moves:
                self.problem("dashboard without an enabled control", "", d["cell"])
                continue
            for k, ctl in enumerate(moves):
                info["moves"].append(self.move(d, ctl, k + 1))

    def kernel_state(self):
        return self.state()["status"]

    def signature(self, dash_id):
        sig = self.page.evaluate(JS_SIGNATURE, dash_id)
        if sig is None:
            raise CheckError(f"dashboard {int(dash_id) + 1} disappeared from the page")
        return sig

    def move(self, d, ctl, k):
        dash_id, cell = d["id"], d["cell"]
        number = int(dash_id) + 1
        box = self.page.locator(f'[data-bc-dash="{dash_id}"]')
        el = self.page.locator(f'[data-bc-ctl="{ctl["ref"]}"]')
        is_train = ctl["kind"] == "button"
        timeout = self.opts.train_wait if is_train else self.opts.wait
        # start from a quiet kernel and a settled dashboard
        self.wait_for(lambda: self.kernel_state() == "idle", timeout)
        box.scroll_into_view_if_needed()
        time.sleep(0.3)
        stem = f"{self.tag}_dash{number}_move{k}"
        box.screenshot(path=str(self.out / f"{stem}_before.png"))
        self.result["screenshots"].append(f"{stem}_before.png")
        before = self.signature(dash_id)
        old_bad = {line for _, line in text_problems(before["all_text"], before["visible"])}
        readout_before = self.page.evaluate(JS_READOUT, ctl["ref"])
        rec = {"control": ctl["label"] or "?", "kind": ctl["kind"], "readout_before": readout_before}
        # an earlier move of this run may have disabled the control (it does nothing there)
        if el.evaluate("(c) => !!(c.querySelector(':disabled, [disabled]') || "
                       "c.classList.contains('jupyter-widgets-disabled') || "
                       "c.querySelector('[aria-disabled=\"true\"]'))"):
            rec["skipped"] = "disabled by an earlier move, not moved"
            return rec

        t0 = time.monotonic()
        if ctl["kind"] == "slider":
            handle = el.locator(".noUi-handle").first
            now = float(handle.get_attribute("aria-valuenow") or 0)
            top = float(handle.get_attribute("aria-valuemax") or 0)
            lo_hi = el.locator(".noUi-handle").count() > 1
            if lo_hi:   # range slider: move the lower handle towards the upper one
                top = float(el.locator(".noUi-handle").nth(1).get_attribute("aria-valuenow") or top)
            key = "ArrowLeft" if now >= top - 1e-9 else "ArrowRight"
            handle.focus()
            t0 = time.monotonic()
            for _ in range(self.opts.steps):
                handle.press(key)
            handle.evaluate("(h) => h.blur()")           # released: the change is sent
            rec["action"] = f"{key} x{self.opts.steps}"
        elif ctl["kind"] == "dropdown":
            select = el.locator("select")
            idx = select.evaluate("(s) => s.selectedIndex")
            n = select.evaluate("(s) => s.options.length")
            if n < 2:
                rec.update(changed=False, action="none (one option)")
                self.problem("dashboard control cannot be moved", f"{ctl['label']}: one option", cell)
                return rec
            t0 = time.monotonic()
            select.select_option(index=(idx + 1) % n)
            rec["action"] = f"select option {(idx + 1) % n}"
        elif ctl["kind"] == "checkbox":
            t0 = time.monotonic()
            el.locator("input").click()
            rec["action"] = "tick/untick"
        elif ctl["kind"] == "toggle":
            target = el.locator("button:not(.mod-active):not([disabled])").first
            rec["action"] = f"click '{target.inner_text().strip()}'"
            t0 = time.monotonic()
            target.click()
        else:
            t0 = time.monotonic()
            el.click()
            rec["action"] = "click"

        # wait for the image to change; a control that only changes text counts once the text changed
        # and the kernel is idle (a Train click must change the image)
        latency = None
        changed_what = None
        deadline = t0 + timeout
        text_since = None
        while time.monotonic() < deadline:
            sig = self.signature(dash_id)
            now = time.monotonic()
            if sig["img"] != before["img"] and sig["n_img"]:
                latency, changed_what = now - t0, "image"
                break
            if (not is_train or not sig["n_img"]) and (sig["text"] != before["text"]
                                                       or sig["img"] != before["img"]):
                text_since = text_since or now
                if self.kernel_state() == "idle" and now - text_since > 1.0:
                    latency, changed_what = text_since - t0, "text"
                    break
            if any(line not in old_bad for _, line in text_problems(sig["all_text"], sig["visible"])):
                latency, changed_what = now - t0, "error text"
                break       # an error appeared: reported below, no point in waiting longer
            time.sleep(0.1)
        # settle: kernel idle and nothing changing for a second (bounded)
        last, quiet_since = self.signature(dash_id), time.monotonic()
        settle_end = quiet_since + (timeout if changed_what else 5)
        while time.monotonic() < settle_end:
            time.sleep(0.25)
            sig = self.signature(dash_id)
            if sig["img"] != last["img"] or sig["text"] != last["text"]:
                last, quiet_since = sig, time.monotonic()
            elif self.kernel_state() == "idle" and time.monotonic() - quiet_since > 1.0:
                break
        after = self.signature(dash_id)
        rec["readout_after"] = self.page.evaluate(JS_READOUT, ctl["ref"])
        rec["changed"] = changed_what is not None
        rec["changed_what"] = changed_what
        rec["latency_s"] = round(latency, 2) if latency is not None else None
        rec["images_before"], rec["images_after"] = before["n_img"], after["n_img"]
        box.screenshot(path=str(self.out / f"{stem}_after.png"))
        self.result["screenshots"].append(f"{stem}_after.png")

        where = f"dashboard {number} ({ctl['label']} {rec['action']})"
        if changed_what is None:
            self.problem("dashboard did not change", f"{where}: no new image or output within "
                         f"{timeout:.0f} s", cell)
        if before["n_img"] and not after["n_img"]:
            self.problem("dashboard lost its figure", where, cell)
        for label, line in text_problems(after["all_text"], after["visible"]):
            if line not in old_bad:
                self.problem(label, f"{where}: {line}", cell)
        for note in NOTE_TEXT:
            if note in after["all_text"]:
                self.notes.append(f"{where}: {snippet(after['visible'], note)}")
        rec["problems"] = sum(1 for p in self.problems if where in p["detail"])
        return rec

    def kernel_messages(self):
        """Errors of widget callbacks (not in any cell) that the kernel sent during the check."""
        msgs = self.page.evaluate("() => window.__bc.messages")
        for m in msgs:
            if m["parent"] == "execute_request" or m["inOutput"]:
                continue    # shown in a cell or an Output widget: checked there
            if m["type"] == "error":
                self.problem("error in a widget callback, shown in no output (log console only)",
                             f"{m['text']} (from {m['parent']})")
            elif "Traceback" in m["text"]:
                self.problem("Traceback outside a cell", snippet(m["text"], "Traceback"))


# --- reporting --------------------------------------------------------------------------------------

def print_notebook(r):
    cells = f"{r.get('cells_run', 0)}/{r.get('code_cells', '?')}"
    print(f"{r['notebook']}: cells run {cells}, figures {r.get('figures', 0)}, "
          f"problems {len(r['problems'])}, {r['seconds']:.0f} s "
          f"(run all {r.get('run_seconds', '?')} s)", flush=True)
    for p in r["problems"]:
        where = f"cell {p['cell']}" + (f" [{p['count']}]" if p.get("count") else "") \
            if p["cell"] is not None else "notebook"
        print(f"  PROBLEM {where}: {p['kind']}" + (f": {p['detail']}" if p["detail"] else ""),
              flush=True)
    for note in r["notes"]:
        print(f"  note: {note}", flush=True)
    for d in r["dashboards"]:
        for m in d["moves"]:
            if m.get("skipped"):
                print(f"  dashboard {d['dashboard']} (cell {d['cell']}): {m['control']} "
                      f"[{m['kind']}]: {m['skipped']}", flush=True)
                continue
            lat = f"{m['latency_s']:.2f} s" if m.get("latency_s") is not None else "-"
            changed = (f"yes ({m['changed_what']})" if m.get("changed") else "no")
            print(f"  dashboard {d['dashboard']} (cell {d['cell']}): {m['control']} [{m['kind']}] "
                  f"{m.get('action', '')}: {m.get('readout_before')!r} -> {m.get('readout_after')!r}, "
                  f"changed {changed}, latency {lat}", flush=True)


def file_digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--fast", dest="fast", action="store_true", default=True,
                      help="FLOSSLAB_FAST=1 (default)")
    mode.add_argument("--full", dest="fast", action="store_false", help="FLOSSLAB_FAST=0")
    ap.add_argument("--out", default="/tmp/browser_check", help="screenshots and summary.json")
    ap.add_argument("--timeout", type=float, default=None,
                    help="seconds for Run All per notebook (default 300 fast, 1800 full)")
    ap.add_argument("--wait", type=float, default=None,
                    help="seconds for a dashboard to react (default 30 fast, 180 full)")
    ap.add_argument("--train-wait", type=float, default=None,
                    help="seconds for a Train click (default 120 fast, 900 full)")
    ap.add_argument("--steps", type=int, default=2, help="arrow-key steps per slider move")
    ap.add_argument("--all-controls", action="store_true",
                    help="move every enabled control of every dashboard, not only its first")
    ap.add_argument("notebooks", nargs="*", help="default: notebooks/*.ipynb")
    opts = ap.parse_args(argv)
    opts.timeout = opts.timeout or (300 if opts.fast else 1800)
    opts.wait = opts.wait or (30 if opts.fast else 180)
    opts.train_wait = opts.train_wait or (120 if opts.fast else 900)

    notebooks = [Path(n) for n in opts.notebooks] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    for n in notebooks:
        if not n.is_file() or n.suffix != ".ipynb":
            ap.error(f"not a notebook: {n}")
        try:
            n.resolve().relative_to(ROOT)
        except ValueError:
            ap.error(f"{n} is not inside {ROOT} (the server's root)")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        print("chromium not found (apt-get install -y chromium)", file=sys.stderr)
        return 2
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("playwright not importable (pip install playwright)", file=sys.stderr)
        return 2

    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    for old in list(out.glob("*.png")) + [out / "summary.json"]:
        old.unlink(missing_ok=True)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):   # never leave a server behind
        signal.signal(sig, stop_everything)

    digests = {n: file_digest(n) for n in notebooks}
    originals = ACTIVE["originals"] = {n: n.read_bytes() for n in notebooks}
    results, t_start = [], time.monotonic()
    mode_name = "fast" if opts.fast else "full"
    print(f"browser check: {len(notebooks)} notebook(s), {mode_name} mode, screenshots in {out}",
          flush=True)
    setup_error = None
    try:
        with LabServer(opts.fast, out / "jupyter.log") as lab, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, headless=True,
                                         args=CHROMIUM_ARGS)
            try:
                for nb in notebooks:
                    r = NotebookCheck(lab, browser, nb, out, opts).run()
                    lab.shutdown_sessions()
                    results.append(r)
                    print_notebook(r)
            finally:
                browser.close()
    except CheckError as err:
        setup_error = str(err)
        print(f"SETUP FAILED: {err}", file=sys.stderr)
    finally:
        for n in notebooks:     # the check must never change a notebook on disk
            if n.exists() and file_digest(n) != digests[n]:
                n.write_bytes(originals[n])
                msg = {"cell": None, "count": None, "kind": "notebook file was modified on disk",
                       "detail": "restored the original bytes"}
                for r in results:
                    if Path(r["notebook"]).name == n.name:
                        r["problems"].append(msg)
                print(f"  PROBLEM {n.name}: notebook file was modified on disk (restored)")

    n_problems = sum(len(r["problems"]) for r in results)
    bad = [Path(r["notebook"]).stem for r in results if r["problems"]]
    n_dash = sum(len(r["dashboards"]) for r in results)
    n_moves = sum(not m.get("skipped") for r in results for d in r["dashboards"]
                  for m in d["moves"])
    n_changed = sum(bool(m.get("changed")) for r in results for d in r["dashboards"]
                    for m in d["moves"])
    total = time.monotonic() - t_start
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    summary = {"load_average_1min_at_end": load, "cpus": os.cpu_count(), "mode": mode_name,
               "notebooks": results, "problems": n_problems,
               "notebooks_with_problems": bad, "dashboards": n_dash, "moves": n_moves,
               "moves_changed": n_changed, "seconds": round(total, 1), "setup_error": setup_error}
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    status = "FAIL" if n_problems or setup_error else "OK"
    print(f"SUMMARY {status}: {len(results)}/{len(notebooks)} notebooks checked ({mode_name}), "
          f"{n_problems} problem(s)" + (f" in {', '.join(bad)}" if bad else "")
          + f"; {n_dash} dashboards, {n_changed}/{n_moves} moves changed the output; "
          f"{total:.0f} s" + (f" (load {load:.1f} on {os.cpu_count()} CPUs)" if load is not None else "")
          + f"; details in {out / 'summary.json'}", flush=True)
    if setup_error:
        return 2
    return 1 if n_problems else 0


if __name__ == "__main__":
    sys.exit(main())
