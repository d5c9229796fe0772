"""The results pages' tables against a fresh computation from the committed runs, and the table
functions against direct counts."""
from pathlib import Path

import numpy as np
import pytest

from flosslab.paper import report

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "docs" / "results.md", ROOT / "README.md"]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_table_in_the_docs_is_recomputed_from_the_runs(page):
    text = page.read_text()
    assert "<!-- table:" in text or page.name == "README.md"
    assert report.stale_tables(text) == [], \
        f"run: python -m flosslab report --write {page.relative_to(ROOT)}"


def test_a_changed_number_is_caught():
    text = (ROOT / "docs" / "results.md").read_text()
    name = "paper-xor"
    fresh = report.TABLES[name]()
    changed = fresh.replace("8/10", "9/10", 1)
    assert changed != fresh
    page = f"<!-- table: {name} -->\n{changed}\n<!-- /table -->"
    assert report.stale_tables(page) == [name]
    assert report.stale_tables(report.fill(page)) == []
    assert text.count("<!-- /table -->") == text.count("<!-- table:")


def test_delay_table_counts_and_interval_against_direct_computation():
    values = [0.99, 0.5, 0.85, 0.95, 0.91, 0.5, 0.79, 1.0]
    row = report.delay_table({"inter": {70: values}}, 70).splitlines()[2]
    assert "| 4 of 8 |" in row                     # >= 0.9: 0.99, 0.95, 0.91, 1.0
    assert "| 5 of 8 |" in row                     # >= 0.8: and 0.85
    med, low, high = report.median_interval(values)
    assert med == np.median(values)
    # the bootstrap median of 8 values is one of the values or a midpoint of two: its quantiles lie
    # within the range of the data, and a constant sample has a zero-width interval
    assert min(values) <= low <= med <= high <= max(values)
    assert report.median_interval([0.7] * 5) == (0.7, 0.7, 0.7)


def test_sweep_table_cell_is_median_quartiles_and_count():
    values = [0.5, 0.6, 0.95, 0.99]
    cell = report.sweep_cell(values)
    q25, q50, q75 = np.percentile(values, [25, 50, 75])
    assert cell == f"{q50:.2f} [{q25:.2f}-{q75:.2f}] 2/4"


def test_horizon_below_the_range_is_said_in_words():
    table = report.horizon_table({"none": {32: [0.5, 0.5, 0.5], 40: [0.5, 0.5, 0.5]}})
    assert "below 32 (no swept delay reaches 0.9)" in table


def test_shipped_paper_runs_equal_the_committed_runs_files():
    """The course reads the paper budget's accuracies from the package; they must be those of the
    committed runs (python -m flosslab report --ship rewrites them)."""
    import json
    assert json.loads(report.SHIPPED_RUNS.read_text()) == report.paper_runs_from_files()


def test_shipped_tables_equal_the_tables_from_the_runs():
    shipped = report.shipped_accuracies()
    assert report.horizon_table(shipped) == report.TABLES["paper-horizons"]()
    assert report.delay_table(shipped, 70) == report.TABLES["paper-d70"]()


def test_filling_an_empty_table_keeps_the_text_around_it():
    page = ("a\n<!-- table: paper-xor -->\n<!-- /table -->\n\nkept text\n\n"
            "<!-- table: default-xor -->\n<!-- /table -->\nb")
    filled = report.fill(page)
    assert "kept text" in filled and filled.startswith("a\n") and filled.endswith("\nb")
    assert filled.count("<!-- /table -->") == 2 and report.stale_tables(filled) == []


def test_the_floss_qr_auto_paragraph_reads_the_runs():
    """docs/results.md: floss_qr_auto learns on 11 of 20 seeds at XOR d = 64 (pre + periodic); the
    budget itself on 8 of its 10 and on 7 of the replicate seeds 10-19, 15 of 20 in all; Fisher's
    exact test of 11 of 20 against 15 of 20 gives p 0.32."""
    import json

    from scipy.stats import fisher_exact
    root = Path(__file__).resolve().parents[2] / "docs" / "results" / "paper_budget"

    def learned(path, variant):
        rows = [json.loads(line) for line in (root / path).read_text().splitlines() if line]
        rows = [r for r in rows if r.get("variant", "") == variant and r["task"] == "xor"
                and r["delay"] == 64 and r["schedule"] == "inter"]
        return sum(r["final_accuracy"] >= 0.9 for r in rows), len(rows)

    auto = learned("ablation_floss_qr_auto/runs.jsonl", "floss_qr_auto")
    budget, replicate = learned("runs.jsonl", ""), learned("d64_seeds10_19/runs.jsonl", "")
    assert auto == (11, 20) and budget == (8, 10) and replicate == (7, 10)
    both = budget[0] + replicate[0]
    p = fisher_exact([[auto[0], 20 - auto[0]], [both, 20 - both]])[1]
    assert round(p, 2) == 0.32
    text = (Path(__file__).resolve().parents[2] / "docs" / "results.md").read_text()
    for phrase in ("11 of 20", "7 of 10", "15 of 20", "Fisher p 0.32"):
        assert phrase in text


def _raw(paths, delay, variant=""):
    """{schedule: [final accuracy by seed]} straight from the runs files (no report function)."""
    import json
    out = {}
    for path in paths:
        full = ROOT / path
        if not full.exists():
            continue
        for line in full.read_text().splitlines():
            r = json.loads(line)
            if r["delay"] == delay and r.get("variant", "") == variant and r["task"] == "xor":
                out.setdefault(r["schedule"], {})[r["seed"]] = r["final_accuracy"]
    return {s: [v[k] for k in sorted(v)] for s, v in out.items()}


@pytest.mark.parametrize("delay", [70, 64])
def test_author_tables_recompute_counts_medians_and_fisher_p(delay):
    """Each row of the author-variant table: seeds, median, counts >= 0.9 and >= 0.8 and Fisher's p
    against the budget, recomputed from the runs files with numpy and scipy."""
    from scipy.stats import fisher_exact
    base_files = report.D70_FILES if delay == 70 else report.D64_FILES
    base, author = _raw(base_files, delay), _raw(report.AUTHOR_FILES[delay], delay, "author")
    table = report.TABLES[f"paper-author-d{delay}"]().splitlines()[2:]
    assert len(table) == 6
    for row, (schedule, values, other) in zip(
            table, [(s, v, o) for s in ("none", "pre", "inter")
                    for v, o in ((base.get(s), None), (author.get(s), base.get(s)))]):
        cells = [c.strip() for c in row.strip("|").split("|")]
        if not values:
            assert cells[2:4] == ["0", "not run"]
            continue
        assert cells[2] == str(len(values))
        assert cells[3].startswith(f"{np.median(values):.3f} [")
        hits = sum(v >= 0.9 for v in values)
        assert cells[4] == f"{hits} of {len(values)}"
        assert cells[5] == f"{sum(v >= 0.8 for v in values)} of {len(values)}"
        if other:
            ref = sum(v >= 0.9 for v in other)
            p = fisher_exact([[hits, len(values) - hits], [ref, len(other) - ref]])[1]
            assert cells[6] == f"{p:.2f}"
        else:
            assert cells[6] == ""
        assert cells[7] == ", ".join(f"{v:.2f}" for v in values)


def test_edge_table_recomputes_counts_and_medians():
    rows = report.TABLES["paper-edge"]().splitlines()[2:]
    files = (*report.D64_FILES, report.EDGE_FILE, report.D70_FILES[0])
    for row, delay in zip(rows, (64, 66, 68, 70)):
        values = _raw(files, delay).get("inter")
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[0] == str(delay)
        if not values:
            assert cells[1:3] == ["0", "not run"]
            continue
        assert cells[1] == str(len(values))
        assert cells[2].startswith(f"{np.median(values):.3f} [")
        assert cells[3] == f"{sum(v >= 0.9 for v in values)} of {len(values)}"
        assert cells[4] == f"{sum(v >= 0.8 for v in values)} of {len(values)}"


def test_comparison_table_against_direct_counts():
    from scipy.stats import fisher_exact
    base = {"inter": {70: [0.5] * 8 + [0.95, 0.99]}}
    other = {"inter": {70: [0.99] * 7 + [0.85, 0.5, 0.5]}}
    rows = report.comparison_table(base, other, 70, "X", schedules=("inter",)).splitlines()[2:]
    p = fisher_exact([[7, 3], [2, 8]])[1]
    assert "| 7 of 10 | 8 of 10 |" in rows[1] and f"| {p:.2f} |" in rows[1]
    assert "| 2 of 10 | 2 of 10 |  |" in rows[0]


def test_author_summary_recomputes_medians_counts_and_fisher_p():
    from scipy.stats import fisher_exact
    rows = report.TABLES["paper-author-summary"]().splitlines()[2:]
    for row, delay in zip(rows, (70, 64)):
        base_files = report.D70_FILES if delay == 70 else report.D64_FILES
        base = _raw(base_files, delay)["inter"]
        author = _raw(report.AUTHOR_FILES[delay], delay, "author").get("inter")
        cells = [c.strip() for c in row.strip("|").split("|")]
        def hits(v):
            return sum(x >= 0.9 for x in v)
        assert cells[1] == f"{np.median(base):.2f}, {hits(base)} of {len(base)}"
        if not author:
            assert cells[2] == "not run"
            continue
        assert cells[2] == f"{np.median(author):.2f}, {hits(author)} of {len(author)}"
        p = fisher_exact([[hits(author), len(author) - hits(author)],
                          [hits(base), len(base) - hits(base)]])[1]
        assert cells[3] == f"{p:.2f}"


def test_rank_table_recomputes_the_medians_from_the_runs():
    import json
    rows = report.TABLES["effective-rank-both"]().splitlines()[2:]
    records = [json.loads(line) for line in (ROOT / report.RANK_RUNS).read_text().splitlines()]
    assert len(rows) == 3
    for row, s in zip(rows, ("none", "pre", "inter")):
        mine = [r for r in records if r["schedule"] == s]
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[1] == str(len(mine))
        for cell, key in zip(cells[2:], ("grad_rank", "step_rank")):
            per_epoch = [np.median([r[key][j] for r in mine]) for j in range(len(mine[0][key]))]
            assert cell == f"{min(per_epoch):.1f}-{max(per_epoch):.1f}"


def test_the_author_d70_paragraph_reads_the_runs():
    """docs/results.md: at d = 70 (pre + periodic) the author's training has median 0.505, 1 of 20
    >= 0.9 (budget 5 of 20, Fisher p 0.18), 6 of 20 >= 0.8, 9 of 20 end above 0.6 (budget 5 of 20);
    its learners first pass 0.6 between epochs 500 and 2750, the budget's by epoch 500; seed 3 is
    0.68 at epoch 500, 0.90 at 2000, 0.93 at the end; the other learners end between 0.68 and 0.88."""
    import json

    from scipy.stats import fisher_exact

    def runs(path, variant):
        rows = [json.loads(line) for line in (ROOT / path).read_text().splitlines() if line]
        return {r["seed"]: r for r in rows if r["schedule"] == "inter" and r["delay"] == 70
                and r.get("variant", "") == variant}

    author = runs(report.AUTHOR_FILES[70][0], "author")
    budget = runs(report.D70_FILES[0], "")
    final = {s: r["final_accuracy"] for s, r in author.items()}
    assert len(author) == len(budget) == 20
    assert f"{np.median(list(final.values())):.3f}" == "0.505"
    def count(rows, level):
        return sum(r["final_accuracy"] >= level for r in rows.values())
    assert (count(author, 0.9), count(budget, 0.9)) == (1, 5)
    assert (count(author, 0.8), count(budget, 0.8)) == (6, 5)
    assert (count(author, 0.6), count(budget, 0.6)) == (9, 5)
    assert round(fisher_exact([[1, 19], [5, 15]])[1], 2) == 0.18

    def first_above(r, level=0.6):
        return next(e for e, a in zip(r["eval_epochs"], r["accuracy"]) if a > level)

    learners = [r for r in author.values() if r["final_accuracy"] > 0.6]
    assert min(map(first_above, learners)) == 500 and max(map(first_above, learners)) == 2750
    assert max(first_above(r) for r in budget.values() if r["final_accuracy"] > 0.6) <= 500
    s3 = author[3]
    at = dict(zip(s3["eval_epochs"], s3["accuracy"]))
    assert (f"{at[500]:.2f}", f"{at[2000]:.2f}", f"{s3['final_accuracy']:.2f}") == ("0.68", "0.90", "0.93")
    others = [r["final_accuracy"] for r in learners if r["seed"] != 3]
    assert (f"{min(others):.2f}", f"{max(others):.2f}") == ("0.68", "0.88")
    text = (ROOT / "docs" / "results.md").read_text()
    for phrase in ("1 of 20 seeds reaches 0.9", "Fisher p 0.18", "9 of 20", "(0.505)"):
        assert phrase in text


def test_the_edge_paragraph_reads_the_runs():
    """docs/results.md: pre + periodic flossing learns on 15, 10, 6 and 5 of 20 seeds at d = 64, 66,
    68, 70, with the same counts at 0.8; the median at 66 is 0.742."""
    files = (*report.D64_FILES, report.EDGE_FILE, report.D70_FILES[0])
    counts = {}
    for d in (64, 66, 68, 70):
        values = _raw(files, d)["inter"]
        assert len(values) == 20
        counts[d] = sum(v >= 0.9 for v in values)
        assert counts[d] == sum(v >= 0.8 for v in values)
    assert counts == {64: 15, 66: 10, 68: 6, 70: 5}
    assert f"{np.median(_raw(files, 66)['inter']):.3f}" == "0.742"
    text = (ROOT / "docs" / "results.md").read_text()
    assert "15 of 20 at d = 64, 10 at 66, 6 at 68 and 5 at 70" in text and "median 0.742" in text


def test_the_author_d64_sentence_reads_the_runs():
    """docs/results.md: at d = 64 the author's training reaches 0.9 on 10 of 20 seeds (budget 15 of
    20, Fisher p 0.19), 0.8 on 15 of 20 (budget 15 of 20), median 0.896 against 0.988."""
    from scipy.stats import fisher_exact
    author = _raw(report.AUTHOR_FILES[64], 64, "author")["inter"]
    budget = _raw(report.D64_FILES, 64)["inter"]
    def count(v, level):
        return sum(x >= level for x in v)
    assert (count(author, 0.9), count(budget, 0.9), len(author), len(budget)) == (10, 15, 20, 20)
    assert (count(author, 0.8), count(budget, 0.8)) == (15, 15)
    assert (f"{np.median(author):.3f}", f"{np.median(budget):.3f}") == ("0.896", "0.988")
    assert round(fisher_exact([[10, 10], [15, 5]])[1], 2) == 0.19
    text = (ROOT / "docs" / "results.md").read_text()
    assert "10 of 20 seeds reach 0.9 against the" in text and "median 0.896 against" in text


def test_the_author_preflossing_sentence_reads_the_runs():
    """docs/results.md: preflossing alone, trained as the author does: at d = 70 0 of 20 seeds reach
    0.9, as with the budget (0 of 20); at d = 64 0 of 20 against the budget's 1 of 10."""
    import json

    def pre(path, variant):
        rows = [json.loads(line) for line in (ROOT / path).read_text().splitlines() if line]
        return [r["final_accuracy"] for r in rows if r["schedule"] == "pre" and r["delay"] == 70
                and r.get("variant", "") == variant]

    author, budget = pre(report.AUTHOR_FILES[70][0], "author"), pre(report.D70_FILES[0], "")
    assert len(author) == len(budget) == 20
    assert sum(a >= 0.9 for a in author) == sum(b >= 0.9 for b in budget) == 0
    text = " ".join((ROOT / "docs" / "results.md").read_text().split())
    assert "at d = 70 0 of 20 reach 0.9, as with the budget" in text
    # d = 64: the budget's preflossing ran on seeds 0-9 of the sweep
    author = [r["final_accuracy"] for r in map(json.loads, (ROOT / report.AUTHOR_FILES[64][0])
              .read_text().splitlines()) if r["schedule"] == "pre" and r["variant"] == "author"]
    budget = [r["final_accuracy"] for r in map(json.loads, (ROOT / report.PAPER_RUNS / "runs.jsonl")
              .read_text().splitlines()) if r["schedule"] == "pre" and r["delay"] == 64
              and r.get("variant", "") == ""]
    assert (len(author), sum(a >= 0.9 for a in author)) == (20, 0)
    assert (len(budget), sum(b >= 0.9 for b in budget)) == (10, 1)
    assert "at d = 64 0 of 20 against the budget's 1 of 10" in text
