"""Tables of the reproduction, computed from the committed runs, and kept in the docs.

Every number of the results pages is a table printed here from ``runs.jsonl`` files (one finished
training run per line, :mod:`flosslab.paper.sweep`), never typed by hand: a page marks each table
with ``<!-- table: NAME -->`` ... ``<!-- /table -->`` and

    python -m flosslab report --write docs/results.md     # fill in the tables
    python -m flosslab report --check docs/results.md     # exit 1 if one is stale

rewrites or checks them (``tests/paper/test_report.py`` runs the check). A table names its runs files
relative to a *root*: the repository's root, where ``docs/results/`` holds the committed runs. The
functions take it as ``root`` (default: the checkout this module lives in); the command line's
``--root`` defaults to the current folder.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as onp

from ..core.errors import FlosslabError
from ..core.trainconfig import PAPER_SCHEDULES, SCHEDULE_LABELS, flossed_k_label
from .budgets import VARIANTS
from .stats import bootstrap_horizon, describe_horizon, quartiles

#: The checkout this module lives in: the default root of the runs files.
ROOT = Path(__file__).resolve().parents[2]
RESULTS = "docs/results"
PAPER_RUNS = f"{RESULTS}/paper_budget"
LEVELS = (0.9, 0.8)


def check_root(root) -> Path:
    """``root`` as a Path, if it holds the committed runs (``docs/results/``); else one error that
    says where to run from."""
    root = Path(root)
    if not (root / RESULTS).is_dir():
        raise FlosslabError(f"no reproduction runs under {root.resolve()} ({RESULTS}/ is missing): "
                            "run this in a checkout of flosslab's repository, or give --root "
                            "FOLDER, the checkout's root")
    return root


def load_runs(*paths, root=ROOT) -> list:
    """Every record of the given ``runs.jsonl`` files (paths relative to ``root``)."""
    records = []
    for path in paths:
        full = Path(root) / path
        if not full.exists():
            raise FlosslabError(f"no runs file at {path} under {root}; run the sweep that writes "
                                "it first")
        for line in full.read_text().splitlines():
            if line.strip():
                records.append(json.loads(line))
    return records


def accuracies(records, task="xor", variant="") -> dict:
    """``{schedule: {delay: [final accuracy of each seed, by seed]}}`` of one task and variant."""
    by_schedule = compact_runs(records, digits=None).get(variant, {}).get(task, {})
    return {s: {int(d): v for d, v in by_delay.items()} for s, by_delay in by_schedule.items()}


def median_interval(values, coverage: float = 0.9, n_boot: int = 2000, seed: int = 0):
    """The median and a ``coverage`` bootstrap interval of the median over seeds (percentile
    method, the seeds resampled with replacement)."""
    v = onp.asarray(values, dtype=float)
    rng = onp.random.default_rng(seed)
    boot = onp.median(v[rng.integers(0, len(v), size=(n_boot, len(v)))], axis=1)
    tail = (1.0 - coverage) / 2
    low, high = onp.quantile(boot, [tail, 1.0 - tail])
    return float(onp.median(v)), float(low), float(high)


def seed_cells(values) -> str:
    """``seeds | median [90 % interval] | seeds >= 0.9 | seeds >= 0.8`` of one row."""
    med, low, high = median_interval(values)
    counts = " | ".join(f"{sum(v >= level for v in values)} of {len(values)}" for level in LEVELS)
    return f"{len(values)} | {med:.3f} [{low:.3f}, {high:.3f}] | {counts}"


def sweep_cell(values) -> str:
    q = quartiles(values)
    n = len(values)
    return (f"{q['median']:.2f} [{q['q25']:.2f}-{q['q75']:.2f}] "
            f"{sum(v >= 0.9 for v in values)}/{n}")


def sweep_table(acc: dict, schedules=PAPER_SCHEDULES) -> str:
    """Median final accuracy [quartiles] and seeds >= 0.9 / seeds, a row per schedule."""
    delays = sorted({d for s in schedules for d in acc.get(s, {})})
    lines = ["| schedule | " + " | ".join(f"d = {d}" for d in delays) + " |",
             "|---|" + "---|" * len(delays)]
    for s in schedules:
        if s in acc:
            cells = [sweep_cell(acc[s][d]) if d in acc[s] else "" for d in delays]
            lines.append(f"| {SCHEDULE_LABELS[s]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def delay_table(acc: dict, delay: int, schedules=PAPER_SCHEDULES) -> str:
    """At one delay: median with its 90 % bootstrap interval, seeds >= 0.9 and >= 0.8, every seed."""
    lines = ["| schedule | seeds | median [90 % interval] | seeds >= 0.9 | seeds >= 0.8 | "
             "every seed (by seed) |", "|---|---|---|---|---|---|"]
    for s in schedules:
        values = acc.get(s, {}).get(delay)
        if not values:
            continue
        every = ", ".join(f"{v:.2f}" for v in values)
        lines.append(f"| {SCHEDULE_LABELS[s]} | {seed_cells(values)} | {every} |")
    return "\n".join(lines)


def horizon_table(acc: dict, schedules=PAPER_SCHEDULES) -> str:
    """Horizon at 0.9 with its 90 % bootstrap interval over seeds, for each schedule."""
    lines = ["| schedule | delays swept (seeds) | horizon at 0.9 [90 % interval] |", "|---|---|---|"]
    for s in schedules:
        by_delay = acc.get(s)
        if not by_delay:
            continue
        h = bootstrap_horizon(by_delay, 0.9)
        swept = ", ".join(f"{d} ({len(v)})" for d, v in sorted(by_delay.items()))
        text = describe_horizon(h, min(by_delay), 0.9)
        lines.append(f"| {SCHEDULE_LABELS[s]} | {swept} | {text} |")
    return "\n".join(lines)


def ablation_table(base: dict, variants: dict, delay: int, schedule: str = "inter") -> str:
    """One budget setting changed at a time, at one delay: median, seeds >= 0.9, and Fisher's exact
    test of that count against the budget itself (two-sided p: how often seed counts this
    different arise when the setting changes nothing), every seed."""
    from scipy.stats import fisher_exact
    lines = ["| setting | seeds | median [90 % interval] | seeds >= 0.9 | against the budget: "
             "Fisher p | every seed (by seed) |", "|---|---|---|---|---|---|"]
    ref = base.get(schedule, {}).get(delay) or []
    ref_hits = sum(v >= 0.9 for v in ref)
    for label, acc in [(VARIANTS[""].label, base)] + list(variants.items()):
        values = acc.get(schedule, {}).get(delay)
        if not values:
            lines.append(f"| {label} | 0 | not run | | | |")
            continue
        med, low, high = median_interval(values)
        hits = sum(v >= 0.9 for v in values)
        if acc is base or not ref:
            test = ""
        else:
            table = [[hits, len(values) - hits], [ref_hits, len(ref) - ref_hits]]
            test = f"{fisher_exact(table)[1]:.2f}"
        lines.append(f"| {label} | {len(values)} | {med:.3f} [{low:.3f}, {high:.3f}] | "
                     f"{hits} of {len(values)} | {test} | " + ", ".join(f"{v:.2f}" for v in values)
                     + " |")
    return "\n".join(lines)


def fisher_p(values, reference, level: float = 0.9) -> float:
    """Two-sided p of Fisher's exact test on the seeds >= ``level`` of ``values`` against those of
    ``reference``: how often seed counts this different arise when nothing differs."""
    from scipy.stats import fisher_exact
    a, b = sum(v >= level for v in values), sum(v >= level for v in reference)
    return float(fisher_exact([[a, len(values) - a], [b, len(reference) - b]])[1])


def comparison_table(base: dict, other: dict, delay: int, label: str,
                     schedules=("none", "pre", "inter")) -> str:
    """At one delay, for each schedule: the budget itself and ``other`` (a variant, named
    ``label``): seeds, median [90 % interval], seeds >= 0.9 and >= 0.8, Fisher's p of the variant's
    count >= 0.9 against the budget's, every seed."""
    lines = ["| schedule | setting | seeds | median [90 % interval] | seeds >= 0.9 | seeds >= 0.8 | "
             "against the budget: Fisher p | every seed (by seed) |",
             "|---|---|---|---|---|---|---|---|"]
    for s in schedules:
        ref = base.get(s, {}).get(delay) or []
        for name, acc in (("the paper budget itself", base), (label, other)):
            values = acc.get(s, {}).get(delay)
            if not values:
                lines.append(f"| {SCHEDULE_LABELS[s]} | {name} | 0 | not run | | | | |")
                continue
            test = f"{fisher_p(values, ref):.2f}" if acc is other and ref else ""
            lines.append(f"| {SCHEDULE_LABELS[s]} | {name} | {seed_cells(values)} | {test} | "
                         + ", ".join(f"{v:.2f}" for v in values) + " |")
    return "\n".join(lines)


def author_summary_table(pairs, schedule: str = "inter") -> str:
    """A row per delay: the budget's and the author's own training's median and seeds >= 0.9 for
    ``schedule``, and Fisher's p; ``pairs`` is ``[(delay, budget accuracies, author's)]``."""
    lines = [f"| XOR, {SCHEDULE_LABELS[schedule]} | the paper budget: median, seeds >= 0.9 | "
             "the author's own training: median, seeds >= 0.9 | Fisher p |", "|---|---|---|---|"]
    for delay, base, other in pairs:
        a, b = base.get(schedule, {}).get(delay), other.get(schedule, {}).get(delay)
        def cell(v):
            return (f"{onp.median(v):.2f}, {sum(x >= 0.9 for x in v)} of {len(v)}" if v
                                  else "not run")
        test = f"{fisher_p(b, a):.2f}" if a and b else ""
        lines.append(f"| d = {delay} | {cell(a)} | {cell(b)} | {test} |")
    return "\n".join(lines)


def rank_table(records, delay: int = 20, task: str = "xor") -> str:
    """Effective rank of dL/dW (clipped) and of Adam's step on W (the author's ``svdvals(gs[J])``):
    the range over evaluations of the median over seeds, a row per schedule."""
    lines = ["| schedule | seeds | effective rank of dL/dW: median over seeds, lowest-highest over "
             "training | of Adam's step on W |", "|---|---|---|---|"]
    for s in ("none", "pre", "inter"):
        rows = [r for r in records if r["schedule"] == s and r["delay"] == delay
                and r["task"] == task]
        if not rows:
            continue
        spans = []
        for key in ("grad_rank", "step_rank"):
            med = onp.median(onp.asarray([r[key] for r in rows], dtype=float), axis=0)
            spans.append(f"{med.min():.1f}-{med.max():.1f}")
        lines.append(f"| {SCHEDULE_LABELS[s]} | {len(rows)} | {spans[0]} | {spans[1]} |")
    return "\n".join(lines)


def edge_table(acc: dict, delays, schedule: str = "inter") -> str:
    """One schedule across delays: seeds, median [90 % interval], seeds >= 0.9 and >= 0.8."""
    lines = ["| delay d | seeds | median [90 % interval] | seeds >= 0.9 | seeds >= 0.8 |",
             "|---|---|---|---|---|"]
    for d in delays:
        values = acc.get(schedule, {}).get(d)
        if not values:
            lines.append(f"| {d} | 0 | not run | | |")
            continue
        lines.append(f"| {d} | {seed_cells(values)} |")
    return "\n".join(lines)


def _merged(*paths, task="xor", variant="", root=ROOT):
    return accuracies(load_runs(*paths, root=root), task, variant)


#: The runs file of each variant measured at the paper budget (labels: :data:`VARIANTS`).
ABLATION_FILES = {
    "floss200": "ablation_floss200_runs.jsonl",
    "clip1": "ablation_clip1_runs.jsonl",
    "late_episodes": "ablation_late_episodes/runs.jsonl",
    "seq_d50": "ablation_seq_d50/runs.jsonl",
    "floss_qr_auto": "ablation_floss_qr_auto/runs.jsonl",
}
#: ``{table label: (variant, runs file)}``, the labels from :data:`flosslab.paper.budgets.VARIANTS`.
ABLATIONS = {VARIANTS[v].label: (v, f) for v, f in ABLATION_FILES.items()}


def _existing(path, root=ROOT):
    return (Path(root) / path).exists()


#: The runs at d = 70 (pre and pre + periodic flossing; no flossing).
D70_FILES = (f"{PAPER_RUNS}/d70/runs.jsonl", f"{PAPER_RUNS}/d70_none/runs.jsonl")


def _paper_d70(root=ROOT):
    return _merged(*[p for p in D70_FILES if _existing(p, root)], root=root)


def _paper_all(root=ROOT):
    """Every shipped run of the budget itself: the sweep, d = 70, d = 66 and 68 (the replicate
    seeds 10-19 at d = 64 are not shipped: the tables at d = 64 compare with the sweep's 10)."""
    extra = (*D70_FILES, EDGE_FILE)
    return _merged(f"{PAPER_RUNS}/runs.jsonl", *[p for p in extra if _existing(p, root)], root=root)


def _ablations(root=ROOT):
    variants = {}
    for label, (variant, name) in ABLATIONS.items():
        path = f"{PAPER_RUNS}/{name}"
        variants[label] = _merged(path, variant=variant, root=root) if _existing(path, root) else {}
    return variants


#: The default budget's XOR d = 20 runs that recorded both effective ranks (issue 24).
RANK_RUNS = f"{RESULTS}/effective_rank_d20/runs.jsonl"
#: The budget's own runs at d = 64 (seeds 0-9 of every schedule; seeds 10-19 of pre + periodic).
D64_FILES = (f"{PAPER_RUNS}/runs.jsonl", f"{PAPER_RUNS}/d64_seeds10_19/runs.jsonl")
#: The author's own training (variant ``author``) at each delay it was run.
AUTHOR_FILES = {d: (f"{PAPER_RUNS}/author_d{d}/runs.jsonl", f"{PAPER_RUNS}/author_d{d}_none/runs.jsonl")
                for d in (70, 64)}
#: The budget at d = 66 and 68 (pre + periodic), placing the edge between 64 and 70.
EDGE_FILE = f"{PAPER_RUNS}/d66_68/runs.jsonl"
#: The author's choices one at a time (pre + periodic), where ``author`` moved a delay.
SINGLE_CHANGES = ("author_readout", "author_adam", "author_init_state", "author_frame")


def _budget_at(delay: int, root=ROOT) -> dict:
    files = D70_FILES if delay == 70 else D64_FILES
    return _merged(*[p for p in files if _existing(p, root)], root=root)


def _author_at(delay: int, root=ROOT) -> dict:
    return _merged(*[p for p in AUTHOR_FILES[delay] if _existing(p, root)], variant="author",
                   root=root)


def _edge(root=ROOT) -> dict:
    files = [p for p in (*D64_FILES, EDGE_FILE, D70_FILES[0]) if _existing(p, root)]
    return _merged(*files, root=root)


def _single_changes(delay: int, root=ROOT) -> dict:
    """``{label: accuracies}``: ``author`` and each single change run at ``delay``."""
    out = {VARIANTS["author"].label: _author_at(delay, root)}
    for v in SINGLE_CHANGES:
        path = f"{PAPER_RUNS}/author_single_d{delay}_{v}/runs.jsonl"
        out[VARIANTS[v].label] = _merged(path, variant=v, root=root) if _existing(path, root) \
            else {}
    return out


def _results(root=ROOT, path=f"{RESULTS}/results.json") -> dict:
    full = Path(root) / path
    if not full.exists():
        raise FlosslabError(f"no {path} under {root}; python -m flosslab reproduce writes it")
    return json.loads(full.read_text())


def _by_k(acc: dict) -> str:
    parts = []
    for key, q in acc.items():
        label = flossed_k_label(key)
        parts.append(f"{label} {q['median']:.2f} ({sum(v >= 0.9 for v in q['all'])} of "
                     f"{len(q['all'])})")
    return ", ".join(parts)


def claims_table(root=ROOT) -> str:
    """The paper's claims, where each was read, what the default budget measured, and what could
    not be checked (numbers from docs/results/results.json)."""
    r = _results(root)
    b = r["b_condition"]
    before, after = b["before"], b["after"]
    xor, copy = r["c_delay"]["xor"], r["c_delay"]["copy"]
    cx, cc = r["c_claims"]["xor"], r["c_claims"]["copy"]

    def horizons(sweep):
        iv = sweep["horizon_0.9_interval"]
        return ", ".join(f"{SCHEDULE_LABELS[s]} {iv[s]['horizon']} [{iv[s]['low']}, {iv[s]['high']}]"
                         for s in PAPER_SCHEDULES)

    def ratio(c):
        return c["horizon_inter"] / c["horizon_none"]

    def count(sweep, s, d):
        return sum(v >= 0.9 for v in sweep["accuracy"][s][str(d)]["all"])

    rank = xor["grad_rank"]
    def span(s):
        return f"{min(rank[s]['20']):.0f}-{max(rank[s]['20']):.0f}"
    f = r["f_cost"]
    ms_n = " / ".join(f"{c['ms']:.1f}" for c in f["by_n"])
    ns = " / ".join(str(c["n"]) for c in f["by_n"])
    big = [int(d) for d in xor["delays"] if all(count(xor, s, d) == 0 for s in PAPER_SCHEDULES)]
    rows = [
        ("condition number of the long-term Jacobian reduced by up to ~30 orders of magnitude",
         "abstract (quoted in the paper summary)",
         f"N = {b['n']}, k = {b['k']}, {b['floss_steps']} flossing steps: log10 kappa over "
         f"{before['times'][-1]} steps {before['log10_condition'][-1]:.1f} -> "
         f"{after['log10_condition'][-1]:.1f}, a drop of {b['log10_condition_drop']:.0f} orders",
         "the paper's window length and network behind its '30'"),
        ("gradients stop vanishing", "the paper summary (mechanism 2)",
         f"dL/dh_1 of a loss at t = {before['times'][-1]}: {before['grad_norm'][0]:.0e} before, "
         f"{after['grad_norm'][0]:.0e} after flossing", "no number stated to compare with"),
        ("delayed XOR from chance to 80-100 % where plain BPTT fails, for delays up to ~70 steps",
         "the paper summary's key results (not a quotation of the paper; no figure named)",
         f"default budget: at d = {cx['delay_where_none_fails']} no flossing "
         f"{cx['none_median_there']:.2f}, preflossing {cx['pre_median_there']:.2f}; the paper budget "
         "at d = 70: the table 'The delay of 70' below",
         "which figure, delay convention and seed count the '70' comes from"),
        ("delayed copy likewise", "the paper summary",
         f"default budget: at d = {cc['delay_where_none_fails']} no flossing "
         f"{cc['none_median_there']:.2f}, preflossing {cc['pre_median_there']:.2f}",
         "the paper's copy delays"),
        ("trainable time horizons 2-4x longer", "the paper summary; the abstract says only that "
         "flossing during training 'can further increase the time horizon'",
         f"default budget, horizon [90 % interval]: XOR {horizons(xor)} ({ratio(cx):.1f}x); copy "
         f"{horizons(copy)} ({ratio(cc):.1f}x)", "how the paper defines a horizon"),
        ("every method fails eventually", "not a claim of the paper: flosslab's check that the "
         "swept delays reach past every schedule",
         f"default budget: every schedule 0 of 10 seeds >= 0.9 at XOR d >= {min(big)}"
         if big else "not reached at the default budget", ""),
        ("flossing raises the effective rank of dL/dW",
         "the paper's text, quoted in the summary: 'gradient flossing increases the effective rank "
         "of the recurrent weight gradient'",
         "XOR d = 20, median over seeds at each evaluation: "
         + ", ".join(f"{SCHEDULE_LABELS[s]} {span(s)}" for s in PAPER_SCHEDULES),
         "the paper's rank measure (entropy effective rank here)"),
        ("more flossed exponents help tasks that need several memory directions",
         "the paper summary (design trade-offs; 'variable temporal complexity')",
         f"parity of order 3 at d = {r['d_k']['delay']}, preflossing k of {r['d_k']['n']}: "
         + _by_k(r["d_k"]["accuracy"]), "the paper's task sizes"),
        ("cost O(N k^2) per QR", "the paper summary (open question 1: 'the computational cost "
         "scales with O(Nk²)')",
         f"flossing step (T = {f['steps']}, QR every step): {ms_n} ms for N = {ns} (k = N/2), "
         f"log-log slope {f['loglog_slope_n_at_k_n_over_2']:.1f}; slope in k "
         f"{f['loglog_slope_k']:.1f}: at these sizes the O(N^2 k) products and overheads dominate",
         "the asymptotic regime"),
    ]
    lines = ["| claim of the paper | read from | measured here (default budget, 10 seeds) | "
             "could not be checked |", "|---|---|---|---|"]
    lines += [f"| {a} | {b_} | {c} | {d} |" for a, b_, c, d in rows]
    return "\n".join(lines)


#: Every runs file of the author's budget, and the shipped file that holds their final accuracies.
PAPER_RUN_FILES = ("runs.jsonl", "d70/runs.jsonl", "d70_none/runs.jsonl",
                   "ablation_floss200_runs.jsonl", "ablation_clip1_runs.jsonl",
                   "ablation_late_episodes/runs.jsonl", "ablation_seq_d50/runs.jsonl",
                   "ablation_floss_qr_auto/runs.jsonl", "d66_68/runs.jsonl", "author_d70/runs.jsonl",
                   "author_d70_none/runs.jsonl",
                   "author_d64/runs.jsonl", "author_d64_none/runs.jsonl",
                   *[f"author_single_d{d}_{v}/runs.jsonl" for d in (70, 64)
                     for v in ("author_readout", "author_adam", "author_init_state",
                               "author_frame")])
SHIPPED_RUNS = Path(__file__).parent / "data" / "paper_runs.json"


def compact_runs(records, digits: int | None = 6) -> dict:
    """``{variant: {task: {schedule: {delay: [final accuracy by seed]}}}}``, the part of a sweep's
    records the course and the tables need (variant "" is the budget itself); accuracies rounded to
    ``digits`` for the shipped file, or kept whole with ``None``."""
    out = {}
    for r in sorted(records, key=lambda r: (r.get("variant", ""), r["task"], r["schedule"],
                                            int(r["delay"]), r["seed"])):
        (out.setdefault(r.get("variant", ""), {}).setdefault(r["task"], {})
         .setdefault(r["schedule"], {}).setdefault(str(int(r["delay"])), [])
         .append(float(r["final_accuracy"]) if digits is None
                 else round(float(r["final_accuracy"]), digits)))
    return out


def paper_runs_from_files(root=ROOT) -> dict:
    paths = [f"{PAPER_RUNS}/{name}" for name in PAPER_RUN_FILES
             if _existing(f"{PAPER_RUNS}/{name}", root)]
    return compact_runs(load_runs(*paths, root=root))


def ship_paper_runs(root=ROOT) -> Path:
    """Write the compact final accuracies of every paper-budget run into the package's data."""
    SHIPPED_RUNS.write_text(json.dumps(paper_runs_from_files(root), indent=1, sort_keys=True)
                            + "\n")
    return SHIPPED_RUNS


def shipped_accuracies(variant: str = "", task: str = "xor") -> dict:
    """``{schedule: {delay (int): [accuracies]}}`` from the shipped file (works where flosslab is
    installed without the repository's docs/)."""
    data = json.loads(SHIPPED_RUNS.read_text())
    by_schedule = data.get(variant, {}).get(task, {})
    return {s: {int(d): v for d, v in by_delay.items()} for s, by_delay in by_schedule.items()}


def shipped_ablations() -> dict:
    """``{setting label: accuracies}`` of the one-setting ablations, from the shipped file."""
    return {label: shipped_accuracies(variant) for label, (variant, _) in ABLATIONS.items()}


#: The tables a page can hold, by name: each a function of the root of the runs files.
TABLES = {
    "default-copy": lambda root=ROOT: sweep_table(_merged(f"{RESULTS}/runs.jsonl", task="copy",
                                                          root=root)),
    "default-xor": lambda root=ROOT: sweep_table(_merged(f"{RESULTS}/runs.jsonl", root=root)),
    "default-horizons-xor": lambda root=ROOT: horizon_table(_merged(f"{RESULTS}/runs.jsonl",
                                                                    root=root)),
    "default-horizons-copy": lambda root=ROOT: horizon_table(_merged(f"{RESULTS}/runs.jsonl",
                                                                     task="copy", root=root)),
    "paper-xor": lambda root=ROOT: sweep_table(_merged(f"{PAPER_RUNS}/runs.jsonl", root=root)),
    "paper-d70": lambda root=ROOT: delay_table(_paper_d70(root), 70),
    "paper-horizons": lambda root=ROOT: horizon_table(_paper_all(root)),
    "claims": claims_table,
    "paper-ablations-d64": lambda root=ROOT: ablation_table(
        _merged(f"{PAPER_RUNS}/runs.jsonl", root=root), _ablations(root), 64),
    "paper-author-d70": lambda root=ROOT: comparison_table(
        _budget_at(70, root), _author_at(70, root), 70, "the author's own training"),
    "paper-author-d64": lambda root=ROOT: comparison_table(
        _budget_at(64, root), _author_at(64, root), 64, "the author's own training"),
    "paper-edge": lambda root=ROOT: edge_table(_edge(root), (64, 66, 68, 70)),
    "effective-rank-both": lambda root=ROOT: rank_table(load_runs(RANK_RUNS, root=root)),
    "paper-author-summary": lambda root=ROOT: author_summary_table(
        [(d, _budget_at(d, root), _author_at(d, root)) for d in (70, 64)]),
    "paper-author-single-d70": lambda root=ROOT: ablation_table(
        _budget_at(70, root), _single_changes(70, root), 70),
    "paper-author-single-d64": lambda root=ROOT: ablation_table(
        _budget_at(64, root), _single_changes(64, root), 64),
}

#: A marked table; its body never runs past the next marker (an empty table is allowed).
_BLOCK = re.compile(r"(<!-- table: (?P<name>[\w-]+) -->\n)(?P<body>(?:(?!<!-- /?table)[\s\S])*?)"
                    r"(\n?<!-- /table -->)")


def fill(text: str, root=ROOT) -> str:
    """``text`` with every marked table recomputed from the runs under ``root``."""
    def one(match):
        name = match.group("name")
        if name not in TABLES:
            raise FlosslabError(f"unknown table {name!r}; the tables are {', '.join(TABLES)}")
        return match.group(1) + TABLES[name](root) + "\n<!-- /table -->"
    return _BLOCK.sub(one, text)


def stale_tables(text: str, root=ROOT) -> list:
    """Names of the marked tables whose text differs from a fresh computation."""
    fresh = fill(text, root)
    old = {m.group("name"): m.group("body") for m in _BLOCK.finditer(text)}
    new = {m.group("name"): m.group("body") for m in _BLOCK.finditer(fresh)}
    return [name for name in old if old[name] != new[name]]


def paper_delay_figure(path, root=ROOT) -> Path:
    """Accuracy against delay at the author's budget, every delay swept (d = 70 included)."""
    from . import figures
    acc = _paper_all(root)
    sweep = {"n": 80, "k": 75,
             "accuracy": {s: {str(d): quartiles(v) for d, v in sorted(by_delay.items())}
                          for s, by_delay in acc.items()}}
    figures.accuracy_vs_delay({"xor": sweep}, path)
    return Path(path)
