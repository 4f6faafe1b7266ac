"""The command line: ``python -m sphinxext.codetrace trace ...`` on the fixture repo."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import PYREPO, REPO_NAME, fixture_workspace, run_trace

from sphinxext.codetrace.cli import main
from sphinxext.codetrace.render import flowchart, sequence_diagram

REPO_ARG = f"{REPO_NAME}={PYREPO}"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["trace", "--repo", REPO_ARG, *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_output(capsys) -> None:
    code, out, err = run(capsys, "--entry", "shipyard.flows.pipeline", "--title", "Pipeline")
    assert code == 0 and err == ""
    data = json.loads(out)
    assert data == run_trace("shipyard.flows.pipeline", title="Pipeline").to_json()
    assert data["schema"] == "codetrace.trace/1"
    assert data["entry"]["name"] == "shipyard.flows.pipeline"
    assert data["steps"][1]["target"] == "shipyard.store.Store.put"


def test_options_reach_the_spec(capsys) -> None:
    code, out, _ = run(
        capsys,
        "--entry",
        "shipyard.flows.pipeline",
        "--stop-at",
        "shipyard.store.Store.put",
        "--stop-at",
        "shipyard.store.Store.get",
        "--depth",
        "2",
        "--max-steps",
        "50",
        "--exclude",
        "shipyard.nothing",
        "--include",
        "shipyard.*",
    )
    assert code == 0
    data = json.loads(out)
    assert data["stops"] == ["shipyard.store.Store.put", "shipyard.store.Store.get"]
    assert max(s["depth"] for s in data["steps"]) <= 2
    code, out, _ = run(capsys, "--entry", "shipyard.flows.pipeline", "--max-steps", "2")
    assert code == 0 and json.loads(out)["truncated"] is True and len(json.loads(out)["steps"]) == 2


def test_mermaid_output(capsys) -> None:
    code, out, err = run(capsys, "--entry", "shipyard.flows.pipeline", "--format", "mermaid", "--group-by", "module")
    assert code == 0 and err == ""
    assert out == sequence_diagram(run_trace("shipyard.flows.pipeline"), "module")
    assert out.startswith("sequenceDiagram\n")


def test_flowchart_output_links_only_with_a_scheme(capsys) -> None:
    code, out, _ = run(capsys, "--entry", "shipyard.flows.pipeline", "--format", "flowchart")
    assert code == 0
    assert out.startswith("flowchart LR\n")
    # the fixture repo has no git remote and no url template: no links
    assert "click" not in out
    assert out == flowchart(run_trace("shipyard.flows.pipeline"), "class", lambda r, p, n: None)


def test_warnings_go_to_stderr(capsys) -> None:
    code, out, err = run(capsys, "--entry", "shipyard.flows.touch_broken")
    assert code == 0
    assert "codetrace: warning:" in err and "broken.py" in err
    assert json.loads(out)["warnings"]


def test_cache_dir(capsys, tmp_path: Path) -> None:
    cache = tmp_path / "facts"
    first = run(capsys, "--entry", "shipyard.flows.pipeline", "--cache-dir", str(cache))
    assert list(cache.rglob("*.json"))
    second = run(capsys, "--entry", "shipyard.flows.pipeline", "--cache-dir", str(cache))
    assert first == second


@pytest.mark.parametrize(
    ("entry", "needle"),
    [
        ("shipyard.flows.pipelin", "did you mean"),
        ("nosuch.module.f", "nosuch"),
        ("src/shipyard/broken.py::repair", "broken.py"),
    ],
)
def test_unknown_entry_exits_1(capsys, entry: str, needle: str) -> None:
    code, out, err = run(capsys, "--entry", entry)
    assert code == 1
    assert out == ""
    assert err.startswith("codetrace: error: ")
    assert needle in err


def test_bad_spec_value_exits_2_naming_the_option(capsys) -> None:
    code, out, err = run(capsys, "--entry", "shipyard.flows.pipeline", "--depth", "0")
    assert code == 2 and out == ""
    assert ":depth:" in err


def test_missing_repo_directory_is_reported(capsys, tmp_path: Path) -> None:
    code = main(
        ["trace", "--repo", f"gone={tmp_path / 'missing'}", "--repo", REPO_ARG, "--entry", "shipyard.flows.countdown"]
    )
    _, err = capsys.readouterr()
    assert code == 0
    assert "codetrace: warning:" in err and "gone" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["trace", "--repo", "no-equals-sign", "--entry", "x.f"],
        ["trace", "--repo", "=path", "--entry", "x.f"],
        ["trace", "--repo", "name=", "--entry", "x.f"],
        ["trace", "--entry", "x.f"],
        ["trace", "--repo", REPO_ARG],
        ["trace", "--repo", REPO_ARG, "--entry", "x.f", "--format", "svg"],
        ["trace", "--repo", REPO_ARG, "--entry", "x.f", "--depth", "three"],
        ["trace", "--repo", REPO_ARG, "--entry", "x.f", "--group-by", "package"],
        ["frobnicate"],
        [],
    ],
)
def test_bad_arguments_exit_2(capsys, argv: list[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and "usage:" in err


def test_bad_repo_argument_message(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["trace", "--repo", "nonsense", "--entry", "x.f"])
    assert "expected NAME=PATH, got 'nonsense'" in capsys.readouterr().err


def test_module_entry_point(tmp_path: Path) -> None:
    """``python -m sphinxext.codetrace`` runs the same main and returns its exit status."""
    ok = subprocess.run(
        [sys.executable, "-m", "sphinxext.codetrace", "trace", "--repo", REPO_ARG, "--entry", "shipyard.flows.is_even"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert [s["target"] for s in json.loads(ok.stdout)["steps"]] == ["shipyard.flows.is_odd", "shipyard.flows.is_even"]
    bad = subprocess.run(
        [sys.executable, "-m", "sphinxext.codetrace", "trace", "--repo", REPO_ARG, "--entry", "shipyard.flows.nope"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        check=False,
    )
    assert bad.returncode == 1 and "codetrace: error:" in bad.stderr
    usage = subprocess.run(
        [sys.executable, "-m", "sphinxext.codetrace", "trace", "--repo", "x"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        check=False,
    )
    assert usage.returncode == 2


def test_relative_repo_path_is_made_absolute(capsys, monkeypatch) -> None:
    monkeypatch.chdir(PYREPO.parent)
    code = main(["trace", "--repo", f"{REPO_NAME}={PYREPO.name}", "--entry", "shipyard.flows.countdown"])
    out, _ = capsys.readouterr()
    assert code == 0
    assert json.loads(out)["entry"]["path"] == "src/shipyard/flows.py"
    assert fixture_workspace().repo(REPO_NAME).root == PYREPO.resolve()
