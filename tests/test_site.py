"""The static edition: a notebook becomes a page with its figures, and a console cell its picture."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_console_page_shows_its_last_view_as_a_picture(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_site.py"), "--out", str(tmp_path),
                           str(ROOT / "notebooks" / "00_console.ipynb")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    page = (tmp_path / "00_console.html").read_text()
    assert "data:image/png;base64," in page  # the console's view, saved beside the widget
    assert "widget-view+json" not in page  # no empty widget placeholder for a reader without a kernel
    assert 'href="00_console.html"' in (tmp_path / "index.html").read_text()
    guide = (tmp_path / "seminar.html").read_text()  # the seminar guide comes with every build
    assert 'href="seminar.html"' in (tmp_path / "index.html").read_text()
    assert "<h2>The plan, minute by minute</h2>" in guide and "<table>" in guide


def test_a_missing_notebook_is_one_line_and_exit_2(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_site.py"), "--out", str(tmp_path), "nope.ipynb"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stderr.strip() == "build_site: no such notebook: nope.ipynb"


def test_the_stated_runtimes_are_the_measured_ones():
    """The README's runtime column and the seminar guide's table are written from the timings file."""
    import importlib.util
    import json
    import re

    spec = importlib.util.spec_from_file_location("execute_notebooks", ROOT / "scripts" / "execute_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    stored = json.loads((ROOT / "results" / "notebook_timings.json").read_text())
    guide = (ROOT / "docs" / "seminar.md").read_text()
    assert module.timing_table(stored) in guide
    readme = (ROOT / "README.md").read_text()
    for name, timing in stored["notebooks"].items():
        if name.endswith("_solutions"):
            continue  # the README's table lists the series; the solutions are timed in the same file
        row = re.search(rf"^\| [^|]+ \| \[`{re.escape(name)}`\].*\| (\d+) s \|$", readme, re.M)
        assert row and int(row.group(1)) == round(timing["seconds"]), name
        if name == "00_console":
            continue  # the console is an app page, not a lesson with an introduction
        intro = json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text())["cells"][0]
        stated = module.RUNTIME.search("".join(intro["source"]))
        assert stated and stated.group(0).startswith(f"**Runtime:** {round(timing['seconds'])} s when last executed"), name
