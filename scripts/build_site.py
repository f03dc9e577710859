"""The series as static HTML, for readers without a kernel: every notebook and solution as
saved (outputs included; a console cell shows the PNG of its last view), the seminar guide,
and an index page.

    python scripts/build_site.py                  # into build/site/
    python scripts/build_site.py --out DIR notebooks/00_console.ipynb

Offline: nothing is downloaded while building. Figures are embedded in the pages; formulas
are typeset by MathJax when the reader is online and shown as LaTeX source when not.
"""

from __future__ import annotations

import argparse
import html
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "seminar.md"
STYLE = "<style>body{font:18px/1.5 sans-serif;max-width:50em;margin:2em auto}table{border-collapse:collapse}" \
        "td,th{border:1px solid #ccc;padding:.2em .5em;vertical-align:top}</style>"


def guide_page(guide: Path, out: Path) -> Path:
    """The seminar guide (Markdown) as one HTML page, rendered offline by mistune (nbconvert's own)."""
    import mistune

    render = mistune.create_markdown(plugins=["table"])
    text = guide.read_text()
    title = text.strip().splitlines()[0].lstrip("#").strip()
    page = out / "seminar.html"
    page.write_text(f"<!doctype html><meta charset='utf-8'><title>{html.escape(title)}</title>{STYLE}\n{render(text)}")
    return page


def title_of(path: Path) -> str:
    """The notebook's first heading (its title), or its file name."""
    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] == "markdown":
            first = "".join(cell["source"]).strip().splitlines()[0]
            if first.startswith("#"):
                return first.lstrip("#").strip()
    return path.stem


def build(notebooks: list[Path], out: Path) -> list[Path]:
    """Write one HTML page per notebook and ``index.html`` into ``out``; returns the pages."""
    from nbconvert import HTMLExporter

    out.mkdir(parents=True, exist_ok=True)
    exporter = HTMLExporter(template_name="lab")
    pages = []
    for notebook in notebooks:
        body, _ = exporter.from_filename(str(notebook))
        folder = out / "solutions" if notebook.parent.name == "solutions" else out  # the notebooks' own layout
        folder.mkdir(exist_ok=True)
        page = folder / f"{notebook.stem}.html"
        page.write_text(body.replace(".ipynb\"", ".html\"").replace(".ipynb)", ".html)"))  # links between notebooks
        pages.append(page)
    items = "\n".join(f'<li><a href="{p.relative_to(out)}">{html.escape(title_of(n))}</a></li>' for n, p in zip(notebooks, pages))
    guide = guide_page(GUIDE, out)
    (out / "index.html").write_text(
        f"<!doctype html><meta charset='utf-8'><title>Deep Leakage from Gradients: the series</title>{STYLE}"
        f"<h1>Deep Leakage from Gradients: a notebook series</h1><ol>{items}</ol>\n"
        f'<p>For instructors: <a href="{guide.name}">a 90-minute seminar plan</a>.</p>\n')
    return pages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", help="notebooks to include (default: every one in notebooks/)")
    parser.add_argument("--out", default=str(ROOT / "build" / "site"), help="output folder (default build/site)")
    args = parser.parse_args(argv)
    notebooks = [Path(n) for n in args.notebooks] or (sorted((ROOT / "notebooks").glob("*.ipynb"))
                                                      + sorted((ROOT / "notebooks" / "solutions").glob("*.ipynb")))
    missing = [str(n) for n in notebooks if not n.is_file()]
    if missing:
        print(f"build_site: no such notebook: {', '.join(missing)}", file=sys.stderr)
        return 2
    pages = build(notebooks, Path(args.out))
    print(f"{len(pages)} pages and index.html in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
