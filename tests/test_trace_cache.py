"""The trace cache: warm traces run no resolution, and anything a trace depended on invalidates it.

No timing is asserted: what is counted is work (traces computed, files parsed) and what comes out.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from helpers import PYREPO

from sphinxext.codetrace.model import to_plain
from sphinxext.codetrace.spec import parse_options
from sphinxext.codetrace.trace import Engine
from sphinxext.codetrace.tracecache import RACY_NS, trace_from_plain
from sphinxext.codetrace.workspace import RepoConfig, Workspace

RUSTREPO = Path(__file__).resolve().parent / "fixtures" / "rustrepo"


def _engine(*configs: tuple[str, Path], cache: Path | None, **kwargs) -> Engine:
    workspace, errors = Workspace.from_configs([RepoConfig(name, path) for name, path in configs])
    assert errors == []
    return Engine(workspace, cache, **kwargs)


def _trace(root: Path, cache: Path | None, entry: str, name: str = "app", **options: str):
    engine = _engine((name, root), cache=cache)
    trace = engine.trace(parse_options("t", {"entry": entry, **options}))
    return engine, trace


def _entries(cache: Path) -> list[Path]:
    return sorted(p for p in (cache / "traces").rglob("*.json") if not p.name.startswith("hashes-"))


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def _age(root: Path, seconds: float = 3600) -> None:
    """Move every file's mtime into the past, as in a checkout made a while ago (out of the racy window)."""
    past = os.stat(root).st_mtime - seconds
    for path in root.rglob("*"):
        os.utime(path, (past, past))


@pytest.fixture
def pyrepo(tmp_path: Path) -> Path:
    copy = tmp_path / "pyrepo"
    shutil.copytree(PYREPO, copy)
    return copy


def test_an_unchanged_workspace_is_served_without_resolving_or_parsing(pyrepo: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cold_engine, cold = _trace(pyrepo, cache, "shipyard.flows.pipeline", name="fx")
    assert cold_engine.traced == 1 and cold_engine.index.parsed > 0
    assert len(_entries(cache)) == 1
    warm_engine, warm = _trace(pyrepo, cache, "shipyard.flows.pipeline", name="fx")
    assert warm_engine.traced == 0 and warm_engine.index.parsed == 0
    assert warm_engine.traces is not None and warm_engine.traces.hits == 1
    assert json.dumps(warm.to_json()) == json.dumps(cold.to_json())
    assert warm == cold
    assert warm_engine.last_files == cold_engine.last_files and cold_engine.last_files
    # a different spec is another entry: nothing is shared by mistake
    other_engine, _ = _trace(pyrepo, cache, "shipyard.flows.pipeline", name="fx", depth="1")
    assert other_engine.traced == 1


def test_editing_a_read_file_misses_and_parses_only_that_file(pyrepo: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    engine, cold = _trace(pyrepo, cache, "shipyard.flows.pipeline", name="fx")
    edited = Path(engine.last_files[-1])
    edited.write_text(edited.read_text() + "\n# a comment changes the content, not the flow\n")
    warm_engine, warm = _trace(pyrepo, cache, "shipyard.flows.pipeline", name="fx")
    assert warm_engine.traced == 1
    assert warm_engine.index.parsed == 1  # every other file's facts come from the facts cache
    assert warm.steps == cold.steps
    again, _ = _trace(pyrepo, cache, "shipyard.flows.pipeline", name="fx")
    assert again.traced == 0  # the new entry holds


def test_a_module_that_appears_where_an_import_found_none_misses(tmp_path: Path) -> None:
    root = _write(
        tmp_path / "repo",
        {
            "pkg/__init__.py": "",
            "pkg/main.py": "from pkg.helpers import run\n\n\ndef start():\n    run()\n",
        },
    )
    cache = tmp_path / "cache"
    _, before = _trace(root, cache, "pkg.main.start")
    assert [s.callee for s in before.steps] == [None]  # pkg.helpers does not exist: not resolved
    _write(root, {"pkg/helpers.py": "def run():\n    pass\n"})
    engine, after = _trace(root, cache, "pkg.main.start")
    assert engine.traced == 1
    assert after.steps[0].callee is not None and after.steps[0].callee.name == "pkg.helpers.run"


def test_a_stub_that_appears_misses(tmp_path: Path) -> None:
    root = _write(
        tmp_path / "repo",
        {
            "pkg/__init__.py": "",
            "pkg/fast.py": "def encode(x):\n    return x\n",
            "pkg/main.py": "from pkg.fast import encode\n\n\ndef start(x):\n    encode(x)\n",
        },
    )
    cache = tmp_path / "cache"
    _trace(root, cache, "pkg.main.start")
    _write(root, {"pkg/fast.pyi": "def encode(x: str) -> str: ...\n"})
    engine, _ = _trace(root, cache, "pkg.main.start")
    assert engine.traced == 1  # the stub was probed (and absent) before: its arrival is a change


def test_a_new_subclass_in_a_new_file_misses(tmp_path: Path) -> None:
    """Overrides are found through a text index of every file's class headers: a new file can add one."""
    root = _write(
        tmp_path / "repo",
        {
            "pkg/__init__.py": "",
            "pkg/base.py": "class Store:\n    def get(self, key):\n        return key\n",
            "pkg/main.py": "from pkg.base import Store\n\n\ndef start(store: Store):\n    store.get(1)\n",
        },
    )
    cache = tmp_path / "cache"
    _, before = _trace(root, cache, "pkg.main.start")
    assert "pkg.fancy.FancyStore.get" not in {c.name for s in before.steps for c in (s.candidates or ())}
    _write(
        root,
        {
            "pkg/fancy.py": "from pkg.base import Store\n\n\nclass FancyStore(Store):\n    def get(self, key):\n"
            "        return key\n"
        },
    )
    engine, after = _trace(root, cache, "pkg.main.start")
    assert engine.traced == 1
    assert "pkg.fancy.FancyStore.get" in {c.name for s in after.steps for c in s.candidates}


def test_a_rust_mod_file_that_appears_misses(tmp_path: Path) -> None:
    root = _write(
        tmp_path / "crate",
        {
            "Cargo.toml": '[package]\nname = "tiny"\nversion = "0.1.0"\n',
            "src/lib.rs": "mod extra;\n\npub fn start() {\n    extra::go();\n}\n",
        },
    )
    cache = tmp_path / "cache"
    _, before = _trace(root, cache, "tiny::start", name="rs")
    assert before.steps[0].callee is None
    _write(root, {"src/extra.rs": "pub fn go() {}\n"})
    engine, after = _trace(root, cache, "tiny::start", name="rs")
    assert engine.traced == 1
    assert after.steps[0].callee is not None and after.steps[0].callee.name == "tiny::extra::go"
    # a crate added to the workspace changes the crates listing: every Rust trace of the repo misses
    _write(root, {"other/Cargo.toml": '[package]\nname = "other"\nversion = "0.1.0"\n', "other/src/lib.rs": ""})
    engine, _ = _trace(root, cache, "tiny::start", name="rs")
    assert engine.traced == 1


def test_a_damaged_entry_is_traced_again_and_rewritten(pyrepo: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    _, cold = _trace(pyrepo, cache, "shipyard.flows.start", name="fx")
    (entry,) = _entries(cache)
    good = entry.read_text()
    data = json.loads(good)
    flipped = {**data, "payload": data["payload"].replace('"depth":1', '"depth":7', 1)}  # a flipped value
    foreign = {**data, "format": 999}
    for damage in (good[: len(good) // 2], "not json", json.dumps(flipped), json.dumps(foreign), "[]"):
        entry.write_text(damage)
        engine, trace = _trace(pyrepo, cache, "shipyard.flows.start", name="fx")
        assert engine.traced == 1 and trace == cold, damage[:40]
        assert json.loads(entry.read_text()) == data  # written whole again
    # a damaged file-hash cache only costs reading the files again
    for hashes in (cache / "traces").glob("hashes-*.json"):
        hashes.write_text("{broken")
    engine, trace = _trace(pyrepo, cache, "shipyard.flows.start", name="fx")
    assert engine.traced == 0 and trace == cold


def test_a_trace_cut_by_the_time_budget_is_not_stored(pyrepo: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    engine = _engine(("fx", pyrepo), cache=cache, time_budget=1e-9)
    trace = engine.trace(parse_options("t", {"entry": "shipyard.flows.pipeline"}))
    assert trace.truncated and trace.truncation == "time budget"
    assert _entries(cache) == []


def test_a_quick_same_size_edit_with_the_same_mtime_is_still_seen(tmp_path: Path) -> None:
    """The file-hash cache trusts size and mtime only for files that were old when they were hashed."""
    root = _write(tmp_path / "repo", {"pkg/__init__.py": "", "pkg/main.py": "def start():\n    alpha()\n"})
    _write(root, {"pkg/other.py": "def alpha():\n    pass\n\n\ndef gamma():\n    pass\n"})
    cache = tmp_path / "cache"
    _trace(root, cache, "pkg.main.start")
    _trace(root, cache, "pkg.main.start")  # a warm run: the file-hash cache now knows pkg/main.py
    main = root / "pkg" / "main.py"
    stat = main.stat()
    main.write_text("def start():\n    gamma()\n")  # same size
    os.utime(main, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # and the same mtime
    engine, trace = _trace(root, cache, "pkg.main.start")
    assert engine.traced == 1 and trace.steps[0].target == "gamma"


def test_old_files_are_not_read_again_when_their_stat_is_unchanged(pyrepo: Path, tmp_path: Path) -> None:
    _age(pyrepo, seconds=2 * RACY_NS / 1e9)
    cache = tmp_path / "cache"
    _trace(pyrepo, cache, "shipyard.flows.pipeline", name="fx")
    _trace(pyrepo, cache, "shipyard.flows.pipeline", name="fx")  # hashes every file read, records its stat
    engine = _engine(("fx", pyrepo), cache=cache)
    reads: list[str] = []
    repo = engine.workspace.repos["fx"]
    original = repo.content_digest
    repo.content_digest = lambda relpath: reads.append(relpath) or original(relpath)  # type: ignore[method-assign]
    engine.trace(parse_options("t", {"entry": "shipyard.flows.pipeline"}))
    assert engine.traced == 0 and reads == []
    # new mtimes, same content (a fresh checkout): read again, still a hit
    later = os.stat(pyrepo).st_mtime + 10
    for path in pyrepo.rglob("*.py"):
        os.utime(path, (later, later))
    engine = _engine(("fx", pyrepo), cache=cache)
    engine.trace(parse_options("t", {"entry": "shipyard.flows.pipeline"}))
    assert engine.traced == 0


def test_flows_traced_in_one_engine_declare_every_file_they_depend_on(tmp_path: Path) -> None:
    """An answer memoised for an earlier flow must not hide from a later one the files it came from."""
    root = _write(
        tmp_path / "repo",
        {
            "pkg/__init__.py": "",
            "pkg/sub/__init__.py": "from .impl import helper\n",
            "pkg/sub/impl.py": "def helper():\n    return 1\n",
            "pkg/a.py": "from pkg.sub import helper\n\n\ndef fa():\n    helper()\n",
            "pkg/b.py": "import pkg.sub\n\n\ndef fb():\n    pkg.sub.helper()\n",
        },
    )
    shared = _engine(("app", root), cache=None)
    for entry in ("pkg.a.fa", "pkg.b.fb"):
        spec = parse_options("t", {"entry": entry, "depth": "1", "stop-at": "helper"})
        shared_trace = shared.trace(spec)
        alone = _engine(("app", root), cache=None)
        assert alone.trace(spec) == shared_trace
        assert shared.last_files == alone.last_files, entry
    assert str(root.resolve() / "pkg" / "sub" / "impl.py") in shared.last_files


def test_traces_round_trip_through_their_stored_form(pyrepo: Path) -> None:
    engines = [
        (_engine(("fx", pyrepo), cache=None), ["shipyard.flows.start", "shipyard.flows.pipeline"]),
        (
            _engine(("rs", RUSTREPO), cache=None),
            ["fleet_net::channels::pipeline", "fleet_core::engine::Engine::submit"],
        ),
    ]
    for engine, entries in engines:
        for entry in entries:
            trace = engine.trace(parse_options("t", {"entry": entry}))
            assert trace.steps
            assert trace_from_plain(json.loads(json.dumps(to_plain(trace)))) == trace
    with pytest.raises((TypeError, ValueError, KeyError)):
        trace_from_plain({"title": "t"})


# -- writing behind the trace, in a forked child (behind.py) --------------------------------------------------


@pytest.fixture
def behind_always(monkeypatch):
    """Every trace's cache entries are written by a forked child (not only those of a large trace)."""
    from sphinxext.codetrace import behind

    monkeypatch.setattr(behind, "BEHIND_MIN", 1)
    monkeypatch.setattr(behind.os, "cpu_count", lambda: 2)
    yield behind
    behind.wait()


def test_entries_written_behind_serve_the_next_engine_and_the_same_one(
    pyrepo: Path, tmp_path: Path, behind_always
) -> None:
    cache = tmp_path / "cache"
    spec = parse_options("t", {"entry": "shipyard.flows.pipeline"})
    engine = _engine(("fx", pyrepo), cache=cache)
    cold = engine.trace(spec)
    assert engine.traced == 1 and behind_always._children  # a child writes the entries
    assert engine.trace(spec) == cold and engine.traced == 1  # the lookup waited for the child: a hit
    assert not behind_always._children
    parsed = engine.index.parsed
    facts = [p for p in cache.rglob("*.json") if "traces" not in p.parts and "text" not in p.parts]
    assert len(facts) == parsed  # every file parsed was stored, by the child
    warm = _engine(("fx", pyrepo), cache=cache)
    assert warm.trace(spec) == cold and warm.traced == 0 and warm.index.parsed == 0


def test_a_new_engine_waits_for_what_an_earlier_one_writes(pyrepo: Path, tmp_path: Path, behind_always) -> None:
    cache = tmp_path / "cache"
    _trace(pyrepo, cache, "shipyard.flows.pipeline", name="fx")
    assert behind_always._children
    engine, _ = _trace(pyrepo, cache, "shipyard.flows.pipeline", name="fx", depth="1")  # another entry...
    assert engine.traced == 1 and engine.index.parsed == 0  # ...whose facts the first engine's child stored


def test_a_trace_that_raises_still_stores_the_facts_it_parsed(
    pyrepo: Path, tmp_path: Path, behind_always, monkeypatch
) -> None:
    import sphinxext.codetrace.trace as trace_module

    cache = tmp_path / "cache"
    engine = _engine(("fx", pyrepo), cache=cache)
    real = trace_module.trace_flow

    def parse_then_fail(spec, workspace, index, *args):
        index.facts(workspace.repos["fx"], "src/shipyard/flows.py")
        raise RuntimeError("the walk fails")

    monkeypatch.setattr(trace_module, "trace_flow", parse_then_fail)
    with pytest.raises(RuntimeError):
        engine.trace(parse_options("t", {"entry": "shipyard.flows.pipeline"}))
    assert engine.index.parsed == 1
    monkeypatch.setattr(trace_module, "trace_flow", real)
    again = _engine(("fx", pyrepo), cache=cache)
    again.index.facts(again.workspace.repos["fx"], "src/shipyard/flows.py")
    assert again.index.parsed == 0  # stored although the trace failed


def test_a_child_that_fails_costs_only_a_miss(pyrepo: Path, tmp_path: Path, behind_always, monkeypatch) -> None:
    from sphinxext.codetrace.tracecache import TraceCache

    def explode(self, *args):
        raise OSError("disk full")

    monkeypatch.setattr(TraceCache, "write", explode)
    cache = tmp_path / "cache"
    _, cold = _trace(pyrepo, cache, "shipyard.flows.pipeline", name="fx")
    monkeypatch.undo()
    engine, again = _trace(pyrepo, cache, "shipyard.flows.pipeline", name="fx")
    assert engine.traced == 1 and again == cold
