"""Developer sessions: ``python3 -m nox -s tests | docs | lint | bench``."""

from __future__ import annotations

import os

import nox

nox.options.sessions = ["lint", "tests", "docs"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite (sphinx.testing builds, engine unit tests, the resolution corpus)."""
    session.install("-e", ".[test]")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session
def docs(session: nox.Session) -> None:
    """Build example_docs (the extension's own documentation) with warnings as errors."""
    session.install("-e", ".[docs]")
    session.run(
        "sphinx-build", "-W", "--keep-going", "-b", "html", "example_docs", "example_docs/_build/html", *session.posargs
    )


@nox.session
def lint(session: nox.Session) -> None:
    """ruff lint and format check."""
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def screenshots(session: nox.Session) -> None:
    """Build example_docs, check every page in headless Chromium, and refresh example_docs/screenshots/."""
    session.install("-e", ".[docs]")
    tmp = session.create_tmp()
    session.run("sphinx-build", "-q", "-b", "html", "example_docs", f"{tmp}/html")
    session.run("python", "tools/pagecheck.py", f"{tmp}/html", "--screenshots", f"{tmp}/shots")
    for page in ("index", "selftrace", "myst"):
        session.run("cp", f"{tmp}/shots/{page}.png", f"example_docs/screenshots/{page}.png", external=True)


@nox.session
def bench(session: nox.Session) -> None:
    """Costs: floor, cold, warm and one-file-changed per flow (the real repos when CODETRACE_* are set), the
    peak RSS of a cold build, the scale curve on generated workspaces (posargs go to bench.py: --runs N,
    --sizes 1000,10000, --no-scale), the five real flows' recall against their reference chains; with CODETRACE_PYCG_BENCH (PyCG's micro-benchmark folder), precision
    and recall of this project and of PyCG 0.0.8 on it, per category, side by side."""
    session.install("-e", ".")
    session.run("python", "benchmarks/bench.py", *session.posargs)
    if os.environ.get("CODETRACE_DYNAMO") or os.environ.get("CODETRACE_SGLANG"):
        # recall of the five real flows against their reference chains; a miss is reported, not fatal here
        session.run("python", "benchmarks/flows_real.py", success_codes=[0, 1])
    if os.environ.get("CODETRACE_PYCG_BENCH"):
        session.install("pycg==0.0.8", "setuptools<81")  # PyCG imports pkg_resources
        session.run("python", "benchmarks/pycg_bench.py")
    else:
        session.log("set CODETRACE_PYCG_BENCH to PyCG's micro-benchmark folder to compare with PyCG")
