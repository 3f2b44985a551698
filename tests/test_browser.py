"""A real-browser test: JupyterLab + headless Chromium run ``tests/browser/widget_demo.ipynb``, move the
pruning explorer's slider, and check that the kernel saw the new value and the figure changed.

What happens:

1. JupyterLab starts as a subprocess on 127.0.0.1 (a free port, a random token, a temporary root holding a
   copy of the notebook, temporary config/settings/workspace/runtime folders, no browser, no news or update
   checks, the read-only extension manager: nothing leaves the machine).
2. Playwright (PyPI ``playwright``, driving Debian's ``/usr/bin/chromium``: never ``playwright install``)
   opens the notebook, runs "Run > Run All Cells" from the menu and waits for the last cell to print
   ``STATE slider=… kept=…/… png_sha256=…`` (what the kernel holds).
3. The slider handle is focused and moved one step with the arrow key (0.30 → 0.35, ⌈16 r⌉: 5 → 6 kept).
   The browser's readout and the picture (<img>, a blob of the PNG the kernel sent) must change.
4. The last cell is run again from the UI; its new line must report the browser's value, 6 of 16 kept, and
   a PNG hash that differs from before and equals the SHA-256 of the bytes the browser now shows.

Screenshots (``before.png``, ``after.png``, and ``failure.png`` on an error), JupyterLab's log and ``run.json``
(seconds per phase, the PNG's size and its size on screen) go to ``ctrviz-out/browser/``. JupyterLab and its
kernel are always stopped (their process group).

Missing Chromium, playwright or JupyterLab skips the test with the reason, unless ``CTRVIZ_REQUIRE_BROWSER=1``
(set by ``make test``), where it fails. Run it alone: ``make test PYTEST_ARGS="-m browser"``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "tests" / "browser" / "widget_demo.ipynb"
ARTIFACTS = ROOT / "ctrviz-out" / "browser"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-proxy-server"]
REQUIRED = os.environ.get("CTRVIZ_REQUIRE_BROWSER") == "1"

SERVER_START_S = 120          # JupyterLab answering /api/status
RUN_ALL_S = 300               # every cell run (the kernel imports torch: slow on a busy 2-core machine)
STEP_S = 90                   # any other wait in the browser
QUEUED_S, QUEUE_TRIES = 30, 3  # Run All Cells: until the first code cell is queued, and how many clicks
STOP_S = 20                   # SIGTERM → SIGKILL

STATE = re.compile(r"STATE slider=(?P<slider>[0-9.]+) kept=(?P<kept>\d+)/(?P<total>\d+) "
                   r"png_sha256=(?P<png>[0-9a-f]{64})")
SHA256_OF_IMG = """async (img) => {
    const bytes = await (await fetch(img.src)).arrayBuffer();
    const digest = await crypto.subtle.digest("SHA-256", bytes);
    return Array.from(new Uint8Array(digest), b => b.toString(16).padStart(2, "0")).join("");
}"""

pytestmark = pytest.mark.browser


# ---------------------------------------------------------------- prerequisites ------------------------------


def _missing() -> list[str]:
    """What the test needs and this machine lacks, each with how to get it."""
    missing = []
    if not os.access(CHROMIUM, os.X_OK):
        missing.append(f"{CHROMIUM} (apt-get install -y --no-install-recommends chromium; `make test` does it)")
    for module, extra in (("playwright.sync_api", "browser"), ("jupyterlab", "lab"), ("ipywidgets", "lab"),
                          ("jupyterlab_widgets", "lab")):
        try:
            __import__(module)
        except ImportError:
            missing.append(f"Python module {module} (pip install -e '.[{extra}]')")
    return missing


@pytest.fixture(scope="module")
def prerequisites() -> None:
    missing = _missing()
    if not missing:
        return
    reason = "the browser test needs " + "; ".join(missing)
    if REQUIRED:
        pytest.fail(reason + " — CTRVIZ_REQUIRE_BROWSER=1 makes that a failure", pytrace=False)
    pytest.skip(reason + " (set CTRVIZ_REQUIRE_BROWSER=1 to fail instead of skipping)")


# ---------------------------------------------------------------- JupyterLab ---------------------------------


@dataclass
class Lab:
    url: str
    token: str
    log: Path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(path: Path, chars: int = 4000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else "(no log)"


def _wait_until_up(proc: subprocess.Popen, url: str, token: str, log: Path) -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))       # never via a proxy
    request = urllib.request.Request(f"{url}/api/status", headers={"Authorization": f"token {token}"})
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"JupyterLab exited with status {proc.returncode} before answering:\n{_tail(log)}")
        try:
            with opener.open(request, timeout=5) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    pytest.fail(f"JupyterLab did not answer {url}/api/status within {SERVER_START_S} s:\n{_tail(log)}")


def _stop(proc: subprocess.Popen) -> None:
    """Stop JupyterLab and its kernels: the process group it leads (started with start_new_session)."""
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, STOP_S), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture
def jupyter_lab(prerequisites: None, tmp_path: Path) -> Iterator[Lab]:
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(NOTEBOOK, root / NOTEBOOK.name)
    settings = tmp_path / "lab-settings"
    news = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    news.parent.mkdir(parents=True)
    news.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}           # kernels keep inline figures
    env.update(JUPYTER_CONFIG_DIR=str(tmp_path / "config"), JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
               JUPYTERLAB_SETTINGS_DIR=str(settings), JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"),
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])))
    env.setdefault("OMP_NUM_THREADS", "1")
    port, token = _free_port(), secrets.token_hex(24)
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
           f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
           f"--ServerApp.root_dir={root}", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
           "--LabApp.extension_manager=readonly", *(["--allow-root"] if os.geteuid() == 0 else [])]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for stale in ("before.png", "after.png", "failure.png", "run.json"):
        (ARTIFACTS / stale).unlink(missing_ok=True)
    log = ARTIFACTS / "jupyterlab.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_until_up(proc, url, token, log)
        yield Lab(url, token, log)
    finally:
        _stop(proc)


# ---------------------------------------------------------------- the test -----------------------------------


def _state(text: str) -> dict[str, Any]:
    found = STATE.findall(text)
    assert found, f"no STATE line in the last cell's output: {text!r}"
    slider, kept, total, png = found[-1]
    return {"slider": float(slider), "kept": int(kept), "total": int(total), "png": png}


def _run_all_cells(page: Any, cells: Any) -> None:
    """Run > Run All Cells, again if the first code cell was not queued: on a busy machine a click that lands while
    the freshly opened notebook is still settling can be lost (seen once in `make test`: every prompt still "[ ]:",
    the kernel idle, after the 300 s wait)."""
    from playwright.sync_api import expect

    prompt = cells.nth(1).locator(".jp-InputPrompt")
    for attempt in range(QUEUE_TRIES):
        page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
        page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
        try:
            expect(prompt).to_have_text(re.compile(r"\[(\*|\d+)\]"), timeout=QUEUED_S * 1000)   # queued or run
            return
        except AssertionError:
            if attempt == QUEUE_TRIES - 1:
                raise


def test_moving_the_pruning_slider_in_jupyterlab_reaches_the_kernel(jupyter_lab: Lab) -> None:
    from playwright.sync_api import expect, sync_playwright

    record: dict[str, Any] = {"seconds": {}}                    # written to run.json: phase timings, image size
    clock = time.monotonic()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.monotonic()
        record["seconds"][name] = round(now - clock, 2)
        clock = now

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True, timeout=60_000)
        page = browser.new_page(viewport={"width": 1280, "height": 2400})         # the whole notebook in view
        page.set_default_timeout(STEP_S * 1000)                                  # actions (click, evaluate, …)
        expect.set_options(timeout=STEP_S * 1000)                                # assertions (default 5 s)
        try:
            page.goto(f"{jupyter_lab.url}/doc/tree/{NOTEBOOK.name}?reset&token={jupyter_lab.token}")
            cells = page.locator(".jp-NotebookPanel .jp-Cell")
            expect(cells).to_have_count(4)
            expect(page.locator(".jp-NotebookPanel .jp-Notebook-ExecutionIndicator[data-status='idle']")
                   ).to_have_count(1)                                                      # kernel started
            lap("open_notebook_s")

            _run_all_cells(page, cells)
            last_output = cells.nth(3).locator(".jp-OutputArea-output")
            expect(last_output).to_contain_text("STATE", timeout=RUN_ALL_S * 1000)
            before = _state(last_output.inner_text())
            lap("run_all_cells_s")

            handle = page.locator(".widget-slider .noUi-handle")
            readout = page.locator(".widget-slider .widget-readout")
            image = page.locator("img.widget-image")
            info = page.locator(".widget-html-content", has_text="kept")
            expect(handle).to_be_visible()
            expect(readout).to_have_text("0.30")
            expect(info).to_contain_text("kept 5 of 16")
            shown_before = image.evaluate(SHA256_OF_IMG)
            assert before == {"slider": 0.3, "kept": 5, "total": 16, "png": shown_before}, (before, shown_before)
            page.screenshot(path=ARTIFACTS / "before.png", full_page=True)

            src_before = image.get_attribute("src")
            handle.focus()
            page.keyboard.press("ArrowRight")                                      # one step: 0.30 → 0.35
            expect(readout).to_have_text("0.35")
            expect(info).to_contain_text("kept 6 of 16")                           # the kernel recomputed …
            expect(image).not_to_have_attribute("src", src_before)                 # … and sent a new PNG
            shown_after = image.evaluate(SHA256_OF_IMG)
            record["image_px"] = image.evaluate("i => ({png: [i.naturalWidth, i.naturalHeight], "
                                                "shown: [i.clientWidth, i.clientHeight]})")
            value_shown = float(readout.inner_text())
            lap("move_slider_s")

            prompt = cells.nth(3).locator(".jp-InputPrompt")
            count_before = prompt.inner_text()
            cells.nth(3).locator(".jp-InputArea-editor").click()
            page.keyboard.press("Control+Enter")                                   # run the STATE cell again
            expect(prompt).not_to_have_text(count_before)
            expect(prompt).to_have_text(re.compile(r"^\[\d+\]:$"))                   # [*] → its new count
            after = _state(last_output.inner_text())
            lap("rerun_state_cell_s")
            page.screenshot(path=ARTIFACTS / "after.png", full_page=True)
        except Exception:
            page.screenshot(path=ARTIFACTS / "failure.png", full_page=True)
            raise
        finally:
            (ARTIFACTS / "run.json").write_text(json.dumps(record, indent=1) + "\n")
            browser.close()

    assert after["slider"] == value_shown == 0.35, (after, value_shown)           # the kernel has the browser's r
    assert (after["kept"], after["total"]) == (6, 16)                               # ⌈16 · 0.35⌉ of |α| = 1…16
    assert after["png"] != before["png"]                                            # the figure changed …
    assert after["png"] == shown_after                                              # … and the browser shows it
