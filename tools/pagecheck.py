"""Load built HTML pages in headless Chromium and report what mermaid made of them.

Used by ``tests/test_browser.py`` (every example page must render every diagram, with no network request)
and by ``nox -s screenshots`` (pictures of the rendered pages for the docs). Needs Debian's ``chromium``.

How it checks:

* the built site is served on a loopback port by a thread of this process;
* Chromium runs headless with a proxy on another loopback port: Chromium never proxies loopback, so any
  request that reaches the proxy is a request to the network, recorded and refused;
* ``--dump-dom`` after a virtual-time budget gives the DOM once mermaid has run: each ``pre.mermaid`` must
  hold an ``<svg>`` that is not mermaid's error picture; console errors are read from Chromium's log.

Usage: ``python tools/pagecheck.py SITE_DIR [--screenshots OUT_DIR]``
"""

from __future__ import annotations

import argparse
import functools
import http.server
import re
import shutil
import socketserver
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM_FLAGS = [
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
    "--mute-audio",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--safebrowsing-disable-auto-update",
    "--no-pings",
    "--disable-features=NetworkTimeServiceQuerying,OptimizationHintsFetching,Translate,MediaRouter",
    "--enable-logging=stderr",
    "--v=0",
]

#: Chromium's own service endpoints (updates, clock, sign-in), contacted whatever the page does. A request to
#: any other host is the page's (a CDN script, a web font) and fails the check.
BROWSER_HOSTS = ("update.googleapis.com", "clients2.google.com", "accounts.google.com")


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


class _Proxy(http.server.BaseHTTPRequestHandler):
    """Records every request Chromium tries to send off the machine, and refuses it."""

    seen: list[str]

    def _refuse(self) -> None:
        self.seen.append(f"{self.command} {self.path}")
        self.send_response(403)
        self.end_headers()

    do_GET = do_POST = do_HEAD = do_CONNECT = do_PUT = do_OPTIONS = _refuse

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


@contextmanager
def _serve(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[int]:
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class PageResult:
    page: str
    diagrams: int = 0
    rendered: int = 0
    errors: list[str] = field(default_factory=list)
    numbers: list[list[int]] = field(default_factory=list)  # autonumbers shown, per sequence diagram


@dataclass
class SiteResult:
    pages: list[PageResult]
    requests: list[str]

    @property
    def network(self) -> list[str]:
        """Requests that left (or tried to leave) the machine on a page's behalf."""
        return [r for r in self.requests if not any(h in r.split()[1] for h in BROWSER_HOSTS)]

    @property
    def ok(self) -> bool:
        return not self.network and all(not p.errors and p.rendered == p.diagrams for p in self.pages)


_PRE = re.compile(r'<pre[^>]*class="mermaid[^"]*"[^>]*>(.*?)</pre>', re.S)


def _inspect(page: str, dom: str, log: str) -> PageResult:
    result = PageResult(page)
    for body in _PRE.findall(dom):
        result.diagrams += 1
        if "<svg" in body and 'aria-roledescription="error"' not in body and "Syntax error" not in body:
            result.rendered += 1
            if 'aria-roledescription="sequence"' in body:
                result.numbers.append([int(n) for n in re.findall(r'class="sequenceNumber"[^>]*>(\d+)<', body)])
        else:
            result.errors.append(f"diagram {result.diagrams} did not render: {body[:200]!r}")
    for line in log.splitlines():
        if "CONSOLE" in line and re.search(r"error|failed|Uncaught", line, re.I):
            result.errors.append(line.strip()[:300])
    return result


def check_site(site: Path, screenshots: Path | None = None, budget_ms: int = 15000) -> SiteResult:
    """Load every page of ``site`` that holds a mermaid diagram; optionally save a screenshot of each."""
    browser = chromium()
    if browser is None:
        raise RuntimeError("chromium not found (Debian: apt-get install chromium)")
    pages = sorted(site.rglob("*.html"))
    seen: list[str] = []
    proxy = type("Proxy", (_Proxy,), {"seen": seen})
    results = []
    with (
        _serve(functools.partial(_Quiet, directory=str(site))) as port,
        _serve(proxy) as proxy_port,
        tempfile.TemporaryDirectory() as profile,
    ):
        for page in pages:
            rel = page.relative_to(site).as_posix()
            url = f"http://127.0.0.1:{port}/{rel}"
            common = [
                browser,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                f"--proxy-server=http://127.0.0.1:{proxy_port}",
                f"--virtual-time-budget={budget_ms}",
            ]
            run = subprocess.run([*common, "--dump-dom", url], capture_output=True, text=True, timeout=120, check=False)
            results.append(_inspect(rel, run.stdout, run.stderr))
            if screenshots is not None:
                screenshots.mkdir(parents=True, exist_ok=True)
                out = screenshots / (rel.replace("/", "_").removesuffix(".html") + ".png")
                subprocess.run(
                    [*common, "--window-size=1280,1700", "--hide-scrollbars", f"--screenshot={out}", url],
                    capture_output=True,
                    timeout=120,
                    check=False,
                )
    return SiteResult(results, seen)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", type=Path)
    parser.add_argument("--screenshots", type=Path)
    args = parser.parse_args()
    result = check_site(args.site, args.screenshots)
    for page in result.pages:
        print(f"{page.page}: {page.rendered}/{page.diagrams} diagrams rendered")
        for error in page.errors:
            print(f"  {error}")
    for request in result.network:
        print(f"network request: {request}")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
