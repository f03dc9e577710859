"""Driving JupyterLab and Voilà from a test: a server on 127.0.0.1 with a random token that
takes its kernels down with it, headless Chromium through Playwright, and the page helpers the
browser test uses (run all cells from the menu, type a seed, wait for the console's status)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CHROMIUM = os.environ.get("DLG_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("DLG_BROWSER_ARTIFACTS", REPO / "build" / "browser"))
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-breakpad", "--disable-crash-reporter"]
DONE = ("converged after", "stalled after", "diverged after")


def browser_or_skip() -> None:
    missing = []
    try:
        import playwright  # noqa: F401
    except ImportError:
        missing.append("the playwright package (pip install playwright)")
    if not Path(CHROMIUM).exists():
        missing.append("Chromium (Debian: apt-get install chromium)")
    if missing:
        message = "browser test needs " + " and ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(message)  # never skipped in CI
        pytest.skip(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kernels_under(runtime: Path) -> list[int]:
    """Processes whose command line names a connection file in ``runtime`` (our kernels)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if str(runtime) in (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


@contextmanager
def server(command: list[str], home: Path, port: int):
    """Start a Jupyter server (JupyterLab or Voilà) on 127.0.0.1 with a random token; stop it
    and every kernel it started afterwards."""
    env = os.environ | {name: str(home / sub) for name, sub in (("JUPYTER_CONFIG_DIR", "config"),
                                                               ("JUPYTER_RUNTIME_DIR", "runtime"),
                                                               ("JUPYTERLAB_SETTINGS_DIR", "settings"),
                                                               ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"))}
    env.pop("DLG_EXPECT_ARITHMETIC", None)
    (home / "config" / "labconfig").mkdir(parents=True, exist_ok=True)
    (home / "config" / "labconfig" / "page_config.json").write_text(json.dumps(  # no news pop-up, no update check
        {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))
    log = open(home / "server.log", "w")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.time() + 120
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited: {(home / 'server.log').read_text()[-2000:]}")
            try:  # the port answers (a page request would make Voilà start a kernel)
                socket.create_connection(("127.0.0.1", port), timeout=2).close()
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.5)
        yield process
    finally:
        groups = {_group(pid) for pid in kernels_under(home / "runtime")} - {None, os.getpgid(0)}  # kernels + workers
        process.send_signal(signal.SIGINT)
        for _ in range(2):  # Jupyter asks for a second ^C to shut down
            time.sleep(0.5)
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        for _ in range(20):  # the server shuts its kernels down; anything left after 10 s is killed
            if not kernels_under(home / "runtime"):
                break
            time.sleep(0.5)
        for group in groups:  # whatever is left of each kernel's process group (sweep workers included)
            try:
                os.killpg(group, signal.SIGKILL)
            except ProcessLookupError:
                pass
        log.close()


def _group(pid: int) -> int | None:
    """A process's group (a kernel runs in its own, with the sweep workers it starts), if it still lives."""
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def root_flag() -> list[str]:
    return ["--allow-root"] if os.geteuid() == 0 else []


# ----------------------------------------------------------------------------- page helpers


PROMPTS = "() => [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(p => p.textContent.trim())"


def wait_idle(page, timeout: float = 120) -> None:
    """Until every code cell has run (no ``[*]`` prompt, every prompt numbered). On a timeout
    the page is kept as a screenshot and the prompts go into the error."""
    try:
        page.wait_for_function(
            """() => {
                const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(p => p.textContent);
                return prompts.length > 0 && prompts.every(t => /\\[\\d+\\]/.test(t));
            }""", timeout=timeout * 1000, polling=500)
    except Exception as error:
        page.screenshot(path=str(ARTIFACTS / "failure_wait_idle.png"), full_page=True)
        raise AssertionError(f"cells did not all run; prompts: {page.evaluate(PROMPTS)}") from error


def wait_kernel_idle(page) -> None:
    """Until the notebook's kernel has started and is idle (JupyterLab's status text)."""
    page.wait_for_function("() => document.body.textContent.includes('Kernel status: Idle')", timeout=120_000,
                           polling=250)


def run_all_from_menu(page, attempts: int = 3) -> None:
    """Run > Run All Cells, as a person would; tried again if no cell starts within 30 s (a
    menu opened while the page was still settling can swallow the click)."""
    started = """() => [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
                  .some(p => p.textContent.includes('*') || /\\[\\d+\\]/.test(p.textContent))"""
    for attempt in range(attempts):
        page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text=".ipynb").first.click()  # the notebook is current
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        try:
            page.wait_for_function(started, timeout=30_000, polling=250)
            return
        except Exception:
            page.screenshot(path=str(ARTIFACTS / f"run_all_attempt_{attempt + 1}.png"))
            page.keyboard.press("Escape")
    raise AssertionError(f"Run All Cells started no cell after {attempts} tries; prompts: {page.evaluate(PROMPTS)}")


def assert_no_error(page) -> None:
    text = page.locator(".jp-OutputArea, .jp-OutputArea-output, body").first.inner_text()
    for marker in ("Traceback", "Error displaying widget", "Exception in thread"):
        assert marker not in text, f"a cell shows an error: {marker}"


def shot(page, name: str) -> None:
    """A screenshot with the console's controls and view on screen."""
    page.locator(".dlg-console-seed").first.scroll_into_view_if_needed()
    page.evaluate("() => document.querySelector('.dlg-console-seed').scrollIntoView({block: 'start'})")
    page.screenshot(path=str(ARTIFACTS / name))


def console(page, nth: int = 0):
    return page.locator(".dlg-console-status").nth(nth)


def status_text(page, nth: int = 0) -> str:
    return console(page, nth).inner_text()


def view_src(page, nth: int = 0) -> str:
    return page.locator(".dlg-console-view").nth(nth).get_attribute("src") or ""


def watch_frames(page) -> None:
    """Record in the page the time of every change of every console view's picture."""
    page.evaluate("""() => {
        window.__frames = [];
        for (const img of document.querySelectorAll('.dlg-console-view')) {
            new MutationObserver(() => window.__frames.push(performance.now()))
                .observe(img, {attributes: true, attributeFilter: ['src']});
        }
    }""")


def wait_status(page, needles: tuple[str, ...], timeout: float, nth: int = 0) -> float:
    """Seconds until the console's status contains every needle."""
    start = time.perf_counter()
    page.wait_for_function(
        """([n, needles]) => {
            const s = document.querySelectorAll('.dlg-console-status')[n];
            return s && needles.every(x => s.textContent.includes(x));
        }""", arg=[nth, list(needles)], timeout=timeout * 1000, polling="raf")
    return time.perf_counter() - start


def wait_done(page, timeout: float, nth: int = 0) -> None:
    page.wait_for_function(
        """([n, done]) => {
            const s = document.querySelectorAll('.dlg-console-status')[n];
            return s && done.some(x => s.textContent.includes(x));
        }""", arg=[nth, list(DONE)], timeout=timeout * 1000, polling=200)


def type_seed(page, seed: int, nth: int = 0) -> float:
    """Type a seed as a person would; returns the seconds until its first frame is on screen."""
    box = page.locator(".dlg-console-seed input").nth(nth)
    box.fill(str(seed))
    old = view_src(page, nth)
    start = time.perf_counter()
    box.press("Enter")
    page.wait_for_function(
        """([n, old]) => document.querySelectorAll('.dlg-console-view')[n].getAttribute('src') !== old""",
        arg=[nth, old], timeout=30_000, polling="raf")
    wait_status(page, (f"seed {seed}",), 30, nth)
    return time.perf_counter() - start
