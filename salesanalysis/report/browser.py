"""Headless Chromium for the report: print pages to PDF, measure what overflows.

Chromium is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``: JSON
messages ending in a NUL byte on file descriptors 3 and 4), so nothing but the standard library
is needed and no network port is opened. One browser serves every page of a run.

The browser is the system's (``/usr/bin/chromium``, installed by ``.ci/install-chromium.sh``);
:func:`find_chromium` says where it is, or None.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from salesanalysis.errors import SalesAnalysisError
from salesanalysis.i18n import tr

__all__ = [
    "Browser",
    "BrowserError",
    "Overflow",
    "find_chromium",
    "overflow_report",
    "print_pdfs",
    "pdf_page_count",
]

_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "chrome")
_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--metrics-recording-only",
    "--no-default-browser-check",
    "--mute-audio",
    "--hide-scrollbars",
    "--remote-debugging-pipe",
]
A4_LANDSCAPE_IN = (11.69, 8.27)
A4_PORTRAIT_IN = (8.27, 11.69)


class BrowserError(SalesAnalysisError):
    """Chromium is missing, did not start or did not answer (exit 2)."""

    exit_code = 2
    title = "Browser error"


def find_chromium() -> str | None:
    """The path of a Chromium (or Chrome) executable, or None."""
    env = os.environ.get("SALESANALYSIS_CHROMIUM")
    if env and Path(env).exists():
        return env
    for name in _CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass(frozen=True)
class Overflow:
    """An element wider than its container (or the window) on a page."""

    page: str
    tag: str
    label: str  # the table's caption or first header, the image's alt, else its id/class
    width: float  # px
    room: float  # px the container gives it
    over: float  # px cut or scrolled

    def __str__(self) -> str:
        return (
            f"{self.page}: <{self.tag}> {self.label!r} is {self.width:.0f} px wide, "
            f"{self.over:.0f} px more than its container ({self.room:.0f} px)"
        )


_OVERFLOW_JS = r"""
(() => {
  const out = [];
  const vw = document.documentElement.clientWidth;
  const label = (el) => {
    const cap = el.querySelector && el.querySelector('caption');
    const th = el.querySelector && el.querySelector('th');
    const t = (cap && cap.textContent) || el.getAttribute('alt') || (th && th.textContent)
      || el.id || el.className || '';
    return String(t).trim().slice(0, 80);
  };
  const contentRight = (el) => {
    const r = el.getBoundingClientRect();
    const cs = getComputedStyle(el);
    return r.right - parseFloat(cs.paddingRight || 0) - parseFloat(cs.borderRightWidth || 0);
  };
  const root = document.documentElement;
  if (root.scrollWidth > vw + 1) {
    out.push({tag: 'html', label: 'the page scrolls sideways', width: root.scrollWidth,
              room: vw, over: root.scrollWidth - vw});
  }
  const sel = 'table, img, figure, svg, pre, .jp-OutputArea-output, .kpi';
  for (const el of document.querySelectorAll(sel)) {
    if (el.tagName.toLowerCase() === 'svg' && el.parentElement.closest('svg')) continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    const parent = el.parentElement || root;
    const room = contentRight(parent);
    let over = Math.max(r.right - room, r.right - vw, 0);
    const cs = getComputedStyle(el);
    if (cs.overflowX === 'auto' || cs.overflowX === 'scroll' || el.tagName === 'PRE') {
      over = Math.max(over, el.scrollWidth - el.clientWidth);  // scrolls sideways inside
    }
    if (over > 1) {
      out.push({tag: el.tagName.toLowerCase(), label: label(el), width: r.width,
                room: room - r.left, over: over});
    }
  }
  return out;
})()
"""


_LAUNCHER = """
import os, sys
r, w = int(sys.argv[1]), int(sys.argv[2])
hr, hw = os.dup(r), os.dup(w)  # out of the way of 3 and 4 (r or w may be one of them)
os.dup2(hr, 3)
os.dup2(hw, 4)
for fd in {r, w, hr, hw} - {3, 4}:
    os.close(fd)
os.set_inheritable(3, True)
os.set_inheritable(4, True)
os.execv(sys.argv[3], sys.argv[3:])
"""
"""Run by the browser's child process: the DevTools pipe on fds 3 and 4, then Chromium."""


class Browser:
    """One headless Chromium, driven over the DevTools pipe (use as a context manager)."""

    def __init__(self, executable: str | None = None, timeout: float = 60.0) -> None:
        exe = executable or find_chromium()
        if not exe:
            raise BrowserError(
                tr(
                    "no Chromium browser was found (looked for chromium, chromium-browser, "
                    "google-chrome)"
                ),
                fix=tr(
                    "Install it (`bash .ci/install-chromium.sh`, or `apt-get install "
                    "chromium`), or set SALESANALYSIS_CHROMIUM to its path; or run without --pdf."
                ),
            )
        self.timeout = timeout
        self._profile = tempfile.mkdtemp(prefix="sa-chromium-")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # Chromium reads commands on fd 3 and answers on fd 4. A small Python launcher puts the
        # pipe's ends there and execs Chromium (no preexec_fn: which fds a parent process has
        # open, e.g. font files held by matplotlib, must not matter).
        self._proc = subprocess.Popen(
            [
                sys.executable,
                "-I",
                "-S",
                "-c",
                _LAUNCHER,
                str(to_browser_r),
                str(from_browser_w),
                exe,
                *_FLAGS,
                f"--user-data-dir={self._profile}",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(to_browser_r, from_browser_w),
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buf = b""
        self._next = 0
        self._events: list[dict[str, Any]] = []
        try:
            target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            self._session = self.send(
                "Target.attachToTarget", {"targetId": target, "flatten": True}
            )["sessionId"]
            self.send("Page.enable", session=True)
            self.send("Runtime.enable", session=True)
        except BaseException:
            self.close()
            raise

    # -- protocol ---------------------------------------------------------------------------

    def _read_message(self, deadline: float) -> dict[str, Any]:
        import select

        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_browser], [], [], left)[0]:
                raise BrowserError(
                    tr("Chromium did not answer in time"),
                    fix=tr("Run again; check that it starts."),
                )
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise BrowserError(
                    tr("Chromium closed the connection"),
                    fix=tr("Check that `chromium --version` runs."),
                )
            self._buf += chunk
        raw, _, self._buf = self._buf.partition(b"\0")
        return json.loads(raw)

    def send(self, method: str, params: dict[str, Any] | None = None, *, session: bool = False):
        """Send one command and return its result (raise :class:`BrowserError` on an error)."""
        self._next += 1
        msg: dict[str, Any] = {"id": self._next, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = self._session
        data = json.dumps(msg).encode() + b"\0"
        while data:
            data = data[os.write(self._to_browser, data) :]
        deadline = time.monotonic() + self.timeout
        while True:
            answer = self._read_message(deadline)
            if answer.get("id") == self._next:
                if "error" in answer:
                    raise BrowserError(
                        tr("Chromium refused {method}: {reason}").format(
                            method=method, reason=answer["error"].get("message")
                        ),
                        fix=tr("Check the page path; run again with a newer Chromium."),
                    )
                return answer.get("result", {})
            if "method" in answer:
                self._events.append(answer)

    def _wait_event(self, method: str) -> None:
        deadline = time.monotonic() + self.timeout
        while True:
            for i, ev in enumerate(self._events):
                if ev.get("method") == method:
                    del self._events[: i + 1]
                    return
            self._events.clear()
            msg = self._read_message(deadline)
            if "method" in msg:
                self._events.append(msg)

    # -- pages ------------------------------------------------------------------------------

    def open(self, page: Path | str, width: int = 1440, height: int = 900) -> None:
        """Load a page at a window width (``width`` under 600 is laid out as a phone)."""
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
            session=True,
        )
        self._events.clear()
        self.send("Page.navigate", {"url": Path(page).resolve().as_uri()}, session=True)
        self._wait_event("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression on the open page."""
        r = self.send(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=True
        )
        if "exceptionDetails" in r:
            raise BrowserError(
                tr("script failed: {reason}").format(reason=r["exceptionDetails"].get("text"))
            )
        return r.get("result", {}).get("value")

    def overflows(self, page: Path | str, width: int, media: str = "screen") -> list[Overflow]:
        """Tables, images, figures and outputs wider than their container at ``width`` px."""
        self.send("Emulation.setEmulatedMedia", {"media": media}, session=True)
        self.open(page, width)
        found = self.evaluate(_OVERFLOW_JS) or []
        return [
            Overflow(Path(page).name, f["tag"], f["label"], f["width"], f["room"], f["over"])
            for f in found
        ]

    def screenshot(self, page: Path | str, width: int, dest: Path | str, height: int = 0) -> Path:
        """A PNG of the page at a window width (the whole page when ``height`` is 0)."""
        self.send("Emulation.setEmulatedMedia", {"media": "screen"}, session=True)
        self.open(page, width)
        h = height or int(self.evaluate("document.documentElement.scrollHeight") or 900)
        clip = {"x": 0, "y": 0, "width": width, "height": min(h, 16000), "scale": 1}
        r = self.send(
            "Page.captureScreenshot",
            {"format": "png", "clip": clip, "captureBeyondViewport": True},
            session=True,
        )
        dest = Path(dest)
        dest.write_bytes(base64.b64decode(r["data"]))
        return dest

    def pdf(self, page: Path | str, dest: Path | str) -> Path:
        """Print a page to PDF (A4; the page's ``@page`` rule chooses the orientation)."""
        self.send("Emulation.setEmulatedMedia", {"media": "print"}, session=True)
        self.open(page, 1100)
        w, h = A4_PORTRAIT_IN
        r = self.send(
            "Page.printToPDF",
            {
                "printBackground": True,
                "preferCSSPageSize": True,
                "paperWidth": w,
                "paperHeight": h,
                "displayHeaderFooter": False,
            },
            session=True,
        )
        dest = Path(dest)
        tmp = dest.with_name(f".{dest.name}.tmp")
        tmp.write_bytes(base64.b64decode(r["data"]))
        tmp.replace(dest)
        return dest

    def close(self) -> None:
        """Stop the browser and remove its profile."""
        proc = getattr(self, "_proc", None)
        if proc is not None and proc.poll() is None:
            try:
                self.send("Browser.close")
            except (BrowserError, OSError):
                pass
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for fd in (getattr(self, "_to_browser", None), getattr(self, "_from_browser", None)):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._to_browser = self._from_browser = None  # type: ignore[assignment]
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def print_pdfs(pages: Sequence[Path], dest_dir: Path | None = None) -> list[Path]:
    """Print each page to ``<page>.pdf`` beside it (or in ``dest_dir``) with one browser."""
    out = []
    with Browser() as b:
        for page in pages:
            folder = dest_dir or page.parent
            out.append(b.pdf(page, folder / f"{page.stem}.pdf"))
    return out


def pdf_page_count(path: Path | str) -> int:
    """Pages of a PDF written by Chromium (its page objects are not compressed)."""
    import re

    return len(re.findall(rb"/Type\s*/Page(?![s\w])", Path(path).read_bytes()))


def overflow_report(pages: Iterable[Path], widths: Sequence[int] = (1440, 390)) -> list[Overflow]:
    """Every overflow on ``pages`` at each width (one browser)."""
    found: list[Overflow] = []
    with Browser() as b:
        for width in widths:
            for page in pages:
                found += [
                    Overflow(f"{o.page}@{width}", o.tag, o.label, o.width, o.room, o.over)
                    for o in b.overflows(page, width)
                ]
    return found
