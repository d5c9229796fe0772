"""Progress of long loops (flossing, training): nothing, a tqdm bar, or a function of yours.

Every long loop in flosslab takes ``progress``: False (silent), True (a ``tqdm.auto`` bar: on the
terminal's stderr, or in a notebook), or a callable ``report(done, total, desc, postfix)`` called at
each step (a dashboard uses this to move its own progress widget, from its worker thread).
"""
from __future__ import annotations

from tqdm.auto import tqdm


class CallbackBar:
    """The part of tqdm's interface the loops use, forwarding each update to ``report``."""

    def __init__(self, report, total: int, desc: str):
        self.report, self.total, self.desc = report, total, desc
        self.n, self.postfix = 0, {}

    def update(self, n: int = 1) -> None:
        self.n += n
        self.report(self.n, self.total, self.desc, dict(self.postfix))

    def set_postfix(self, **postfix) -> None:
        self.postfix = postfix

    def close(self) -> None:
        pass


def _in_kernel() -> bool:
    import sys
    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    return shell is not None and getattr(shell, "kernel", None) is not None


def progress_bar(progress, total: int, desc: str, leave: bool = True):
    """A bar for a loop of ``total`` steps according to ``progress`` (see the module's text).

    ``leave=False`` (an inner loop's bar disappears when done) applies on a terminal only: in a
    notebook a closed bar widget would leave an output that refers to a widget that no longer
    exists ("model not found" when the page is reloaded), so bars stay there, completed."""
    if callable(progress):
        return CallbackBar(progress, total, desc)
    return tqdm(total=total, desc=desc, disable=not progress, leave=leave or _in_kernel())
