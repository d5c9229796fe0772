"""The walk from a control to its computation: which flosslab files a call crosses, and whether
it comes back into a file it already passed (a re-entry).

    FLOSSLAB_FAST=1 python benchmarks/control_walk.py gain     # notebook 04's gain slider
    FLOSSLAB_FAST=1 python benchmarks/control_walk.py train    # python -m flosslab train --delay 5

How it counts: ``sys.settrace`` sees every Python call of the walk (the disk cache off, the lesson's
``lru_cache`` cold for the new value); only frames whose file is in the flosslab package count.
A *crossing* is a call whose file differs from that of the nearest flosslab frame calling it; a
*re-entry* a crossing into a file already on the flosslab call stack below its caller (A > B > A).
Two views:

* *delegation paths*: the stack of files at each call from the course (or the command line) into
  the implementation (``engine/`` or ``reference/``), adjacent frames of one file merged: the
  chain a reader follows from the control to the function that computes;
* *every call until the implementation*: all calls made outside ``engine/`` and ``reference/``
  (the helpers of ``core``, the figure's drawing included), with the files they touch.

A call run by the garbage collector (a weakref finalizer) shows up under whatever frame was
running; the printed lists name the functions, so such a line can be told apart.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import sys

os.environ["FLOSSLAB_CACHE"] = "off"

import flosslab  # noqa: E402

PACKAGE = os.path.dirname(os.path.abspath(flosslab.__file__)) + os.sep


def rel(path: str) -> str:
    return path[len(PACKAGE):]


def in_implementation(path: str) -> bool:
    return rel(path).startswith(("engine" + os.sep, "reference" + os.sep))


def walk(start) -> dict:
    files, crossings, reentries, paths = [], 0, [], {}

    def tracer(frame, event, arg):
        nonlocal crossings
        here = frame.f_code.co_filename
        if event != "call" or not here.startswith(PACKAGE):
            return None
        chain, back = [], frame.f_back
        while back is not None:
            if back.f_code.co_filename.startswith(PACKAGE):
                chain.append(back.f_code.co_filename)
            back = back.f_back
        if not chain or any(in_implementation(c) for c in chain):
            return None
        if in_implementation(here):
            path = [rel(c) for c in reversed(chain)] + [rel(here)]
            segments = tuple(p for i, p in enumerate(path) if i == 0 or p != path[i - 1])
            paths[segments] = paths.get(segments, 0) + 1
        if rel(here) not in files:
            files.append(rel(here))
        if here != chain[0]:
            crossings += 1
            if here in chain[1:]:
                reentries.append(f"{rel(chain[0])} > {rel(here)} ({frame.f_code.co_name})")
        return None

    sys.settrace(tracer)
    try:
        start()
    finally:
        sys.settrace(None)
    on_paths = sorted({f for segments in paths for f in segments})
    return {
        "delegation_paths": [{"calls": n, "files": len(set(s)), "crossings": len(s) - 1,
                              "re_entries": len(s) - len(set(s)), "path": " > ".join(s)}
                             for s, n in paths.items()],
        "files_on_delegation_paths": on_paths,
        "until_the_implementation": {"files": len(files), "crossings": crossings,
                                     "re_entries": len(reentries), "file_list": files,
                                     "re_entry_list": reentries},
    }


def gain_slider():
    from flosslab.course import lesson04_flossing as lesson
    from flosslab.course.loss_curves import loss_still_falling
    dash = lesson.flossing_dashboard(still_falling=loss_still_falling)
    return lambda: setattr(dash.controls["gain"], "value", 1.1)


def train_delay():
    from flosslab.cli import main

    def start():
        with contextlib.redirect_stdout(io.StringIO()):
            main(["train", "--delay", "5", "--epochs", "4", "--n", "8", "--k", "4", "--json"])
    return start


if __name__ == "__main__":
    which = sys.argv[1] if len(sys.argv) > 1 else "gain"
    starts = {"gain": gain_slider, "train": train_delay}
    if which not in starts:
        sys.exit(f"control_walk.py: walk 'gain' or 'train', not {which!r}")
    print(json.dumps({"walk": which, **walk(starts[which]())}, indent=1))
