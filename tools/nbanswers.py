"""Wrap every answer cell (markdown, tagged ``answer``) of the course in a collapsed
``<details>`` block, so that no front end (JupyterLab, VS Code, GitHub, nbviewer, a static site)
shows an answer before the student opens it. Idempotent: a wrapped cell is left alone.

    python tools/nbanswers.py notebooks/*.ipynb
"""
import json
import re
import sys

LEAD = re.compile(r"^\*\*(Answers?)\*\*\s*(\([^)]*\))?\.?\s*|^\*\*(Answers?)\.\*\*\s*")


def wrap(source: str) -> str:
    if source.lstrip().startswith("<details"):
        return source
    match = LEAD.match(source)
    summary, body = "Answer", source
    if match:
        word = match.group(1) or match.group(3)
        note = f" {match.group(2)}" if match.group(2) else ""
        summary, body = f"{word}{note}", source[match.end():]
    return (f"<details>\n<summary><b>{summary}</b> (click to open)</summary>\n\n"
            f"{body.strip()}\n\n</details>")


def main(paths):
    for path in paths:
        with open(path) as f:
            nb = json.load(f)
        for cell in nb["cells"]:
            if "answer" in cell.get("metadata", {}).get("tags", []):
                text = wrap("".join(cell["source"]))
                cell["source"] = text.splitlines(keepends=True)
        with open(path, "w") as f:
            f.write(json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
