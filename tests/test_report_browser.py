"""The HTML report in a real browser: headless Chromium, driven over the DevTools protocol.

Chromium comes from the distribution's packages (``apt-get install
chromium``); ``make test`` does not install it, and these tests are skipped
without it.  The browser is driven through ``--remote-debugging-pipe`` (the
DevTools protocol as NUL-separated JSON on file descriptors 3 and 4), so no
package is needed on the Python side.  For each page: no JavaScript
exception, no console error, no log entry of level error (a resource that
failed to load is one), no failed request; every image decoded (complete,
with a width); and each task's headline table and figures present.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
BASH = shutil.which("bash")
pytestmark = pytest.mark.skipif(CHROMIUM is None or BASH is None, reason="no chromium (apt-get install chromium)")

PAGE_STATE = """JSON.stringify({
  title: document.title,
  images: [...document.images].map(i => ({src: i.getAttribute('src'), ok: i.complete && i.naturalWidth > 0})),
  headlines: [...document.querySelectorAll('table.headline')].map(t => ({task: t.dataset.task,
      rows: t.querySelectorAll('tr').length - 1, bold: t.querySelectorAll('td.best b').length})),
  sections: [...document.querySelectorAll('section.task')].map(s => ({id: s.id,
      figures: [...s.querySelectorAll('figure img')].map(i => i.getAttribute('src'))})),
  links: [...document.querySelectorAll('a')].map(a => a.getAttribute('href')),
  headings: [...document.querySelectorAll('h2')].map(h => h.textContent)
})"""


class Browser:
    """Headless Chromium over ``--remote-debugging-pipe``: open a page, collect its errors, read its DOM."""

    def __init__(self, profile: Path) -> None:
        to_chrome, self._out = os.pipe()   # we write, chromium reads on fd 3
        self._in, from_chrome = os.pipe()  # chromium writes on fd 4, we read
        args = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
                "--remote-debugging-pipe", f"--user-data-dir={profile}", "about:blank"]
        # bash puts the pipe ends on fds 3 and 4 (through fds above both, so neither is overwritten first)
        hi = max(to_chrome, from_chrome) + 1
        shell = (f'exec {hi}<&{to_chrome} {hi + 1}>&{from_chrome} {to_chrome}<&- {from_chrome}>&-; '
                 f'exec "$0" "$@" 3<&{hi} 4>&{hi + 1} {hi}<&- {hi + 1}>&-')
        self.proc = subprocess.Popen([BASH, "-c", shell, CHROMIUM, *args], pass_fds=(to_chrome, from_chrome),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_chrome)
        os.close(from_chrome)
        self._buffer = b""
        self._id = 0
        self.events: list[dict[str, Any]] = []
        try:
            target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
            self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Runtime", "Log", "Network", "Page"):
                self.call(f"{domain}.enable", session=True)
        except BaseException:
            self.close()
            raise

    def _message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._in], [], [], left)[0]:
                raise TimeoutError("chromium did not answer in time")
            chunk = os.read(self._in, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed its pipe")
            self._buffer += chunk
        raw, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(raw)

    def call(self, method: str, params: dict | None = None, *, session: bool = False,
             timeout: float = 30.0) -> dict[str, Any]:
        self._id += 1
        msg: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = self.session
        os.write(self._out, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._message(deadline)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, event: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            msg = self._message(deadline)
            self.events.append(msg)
            if msg.get("method") == event:
                return

    def open(self, url: str) -> tuple[dict[str, Any], list[str]]:
        """Load ``url``; ``(the page's state (PAGE_STATE), its errors)``."""
        self.events.clear()
        self.call("Page.navigate", {"url": url}, session=True)
        self.wait_for("Page.loadEventFired")
        state = json.loads(self.call("Runtime.evaluate", {"expression": PAGE_STATE, "returnByValue": True},
                                     session=True)["result"]["value"])
        return state, errors(self.events)

    def close(self) -> None:
        try:
            self.call("Browser.close", timeout=5)
        except (RuntimeError, TimeoutError, OSError, ValueError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._out)
        os.close(self._in)


def errors(events: list[dict[str, Any]]) -> list[str]:
    """Every error a page produced: exceptions, console errors, error log entries, failed requests."""
    out = []
    for e in events:
        method, p = e.get("method"), e.get("params", {})
        if method == "Runtime.exceptionThrown":
            out.append("exception: " + p["exceptionDetails"].get("text", ""))
        elif method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            out.append("console: " + " ".join(str(a.get("value", a.get("description", ""))) for a in p["args"]))
        elif method == "Log.entryAdded" and p["entry"].get("level") == "error":
            out.append(f"log ({p['entry'].get('source')}): {p['entry'].get('text')} {p['entry'].get('url', '')}")
        elif method == "Network.loadingFailed":
            out.append(f"request failed: {p.get('errorText')}")
    return out


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    b = Browser(tmp_path_factory.mktemp("chromium-profile"))
    yield b
    b.close()


def test_the_checker_sees_a_broken_page(browser, tmp_path):
    """The checks can fail: a missing image, a console error and an exception are all caught."""
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><html><head><title>x</title></head><body><img src=\"missing.png\">"
                    "<script>console.error('boom'); undefinedFunction();</script></body></html>")
    state, errs = browser.open(page.as_uri())
    assert state["images"] == [{"src": "missing.png", "ok": False}]
    assert any("boom" in e for e in errs)
    assert any(e.startswith("exception") for e in errs)
    assert any("missing.png" in e or "ERR_FILE_NOT_FOUND" in e for e in errs)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """A report of two real arm tasks (a sweep of reach over osc.kp, a postural run), written by bench report."""
    from bench.cli import main

    folder = tmp_path_factory.mktemp("browser-report")
    db = str(folder / "r.sqlite")
    assert main(["sweep", "arm2", "osc", "reach", "--seeds", "2", "--set", "osc.kp=100,200",
                 "--set", "reach.targets=4", "--db", db, "-j", "1", "-q"]) == 0
    assert main(["run", "arm2", "osc", "postural", "--set", "postural.targets=2", "--set", "postural.hold=0.2",
                 "--set", "postural.timeout=0.5", "--db", db, "-q"]) == 0
    assert main(["report", "--db", db, "--format", "html", "--out", str(folder / "rep")]) == 0
    return folder / "rep"


def test_the_report_loads_cleanly_with_every_table_and_figure(browser, report):
    state, errs = browser.open((report / "index.html").as_uri())
    assert errs == []
    assert state["images"] and all(i["ok"] for i in state["images"]), state["images"]
    tables = {h["task"]: h for h in state["headlines"]}
    assert set(tables) == {"reach", "postural"}
    assert tables["reach"]["rows"] == 2 and tables["reach"]["bold"] >= 1  # two gains: one is the best
    sections = {s["id"]: s["figures"] for s in state["sections"]}
    assert set(sections) == {"task-reach", "task-postural"}
    assert any("against-osc.kp" in src for src in sections["task-reach"])   # the metric against the swept gain
    assert any("reach-paths" in src for src in sections["task-reach"])
    assert any(src.startswith("animations/") for src in sections["task-postural"])
    assert "Across tasks" in state["headings"]
    assert "history.html" in state["links"]


def test_the_history_page_loads_cleanly(browser, report):
    state, errs = browser.open((report / "history.html").as_uri())
    assert errs == []
    assert "index.html" in state["links"]
    assert state["images"] and all(i["ok"] for i in state["images"]), state["images"]
    assert any("history-reach-final_distance_mean" in i["src"] for i in state["images"])
    assert any("history-postural-hold_error_mean" in i["src"] for i in state["images"])
