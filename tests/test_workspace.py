"""Workspace: git metadata without a subprocess, link templates, Python roots, and read containment."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import make_workspace

from sphinxext.codetrace.diagnostics import CodetraceError
from sphinxext.codetrace.workspace import (
    Repo,
    RepoConfig,
    Workspace,
    detect_python_roots,
    parse_repo_configs,
    read_git_commit,
    read_git_remote,
    remote_link_template,
    unchecked_repos,
)

SHA1 = "0123456789abcdef0123456789abcdef01234567"
SHA2 = "fedcba9876543210fedcba9876543210fedcba98"
SHA3 = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def git_config(remote: str, name: str = "origin") -> str:
    return (
        f'[core]\n\tbare = false\n[remote "{name}"]\n\turl = {remote}\n\tfetch = +refs/heads/*:refs/remotes/{name}/*\n'
    )


# -- commits -------------------------------------------------------------------------------------------------------


def test_commit_from_loose_ref(tmp_path: Path) -> None:
    write(tmp_path / ".git/HEAD", "ref: refs/heads/main\n")
    write(tmp_path / ".git/refs/heads/main", SHA1 + "\n")
    write(tmp_path / ".git/packed-refs", f"{SHA2} refs/heads/main\n")  # the loose ref is newer: it wins
    assert read_git_commit(tmp_path) == SHA1


def test_commit_from_packed_refs(tmp_path: Path) -> None:
    write(tmp_path / ".git/HEAD", "ref: refs/heads/feature/x\n")
    write(
        tmp_path / ".git/packed-refs",
        "# pack-refs with: peeled fully-peeled sorted\n"
        f"{SHA2} refs/heads/feature/xy\n"
        f"{SHA1} refs/heads/feature/x\n"
        f"^{SHA3}\n"
        f"{SHA3} refs/tags/v1\n",
    )
    assert read_git_commit(tmp_path) == SHA1


def test_detached_head(tmp_path: Path) -> None:
    write(tmp_path / ".git/HEAD", SHA2 + "\n")
    assert read_git_commit(tmp_path) == SHA2


def test_sha256_detached_head(tmp_path: Path) -> None:
    sha256 = "ab" * 32
    write(tmp_path / ".git/HEAD", sha256)
    assert read_git_commit(tmp_path) == sha256


@pytest.mark.parametrize("head", ["ref: refs/heads/missing\n", "garbage\n", SHA1[:39] + "\n", ""])
def test_unreadable_head_gives_no_commit(tmp_path: Path, head: str) -> None:
    write(tmp_path / ".git/HEAD", head)
    write(tmp_path / ".git/refs/heads/main", SHA1)
    assert read_git_commit(tmp_path) is None


def test_ref_with_bad_content_gives_no_commit(tmp_path: Path) -> None:
    write(tmp_path / ".git/HEAD", "ref: refs/heads/main\n")
    write(tmp_path / ".git/refs/heads/main", "not a sha\n")
    assert read_git_commit(tmp_path) is None


def test_no_git_dir(tmp_path: Path) -> None:
    assert read_git_commit(tmp_path) is None
    assert read_git_remote(tmp_path) is None


def test_dot_git_file_pointing_to_gitdir(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    real = tmp_path / "elsewhere" / "repo.git"
    write(real / "HEAD", "ref: refs/heads/main\n")
    write(real / "refs/heads/main", SHA1 + "\n")
    write(real / "config", git_config("git@github.com:acme/widgets.git"))
    write(checkout / ".git", "gitdir: ../elsewhere/repo.git\n")
    assert read_git_commit(checkout) == SHA1
    assert read_git_remote(checkout) == "git@github.com:acme/widgets.git"


def test_worktree_reads_refs_and_config_from_the_common_dir(tmp_path: Path) -> None:
    main = tmp_path / "main"
    write(main / ".git/packed-refs", f"{SHA3} refs/heads/topic\n")
    write(main / ".git/config", git_config("https://gitlab.com/acme/widgets.git"))
    wt_gitdir = main / ".git/worktrees/wt"
    write(wt_gitdir / "HEAD", "ref: refs/heads/topic\n")
    write(wt_gitdir / "commondir", "../..\n")
    worktree = tmp_path / "wt"
    write(worktree / ".git", f"gitdir: {wt_gitdir}\n")
    assert read_git_commit(worktree) == SHA3
    assert read_git_remote(worktree) == "https://gitlab.com/acme/widgets.git"


def test_dot_git_file_pointing_nowhere(tmp_path: Path) -> None:
    write(tmp_path / ".git", "gitdir: /does/not/exist\n")
    assert read_git_commit(tmp_path) is None


def test_origin_is_preferred_over_other_remotes(tmp_path: Path) -> None:
    write(
        tmp_path / ".git/config",
        git_config("https://github.com/fork/a.git", "aaa-fork") + git_config("https://github.com/acme/a.git"),
    )
    assert read_git_remote(tmp_path) == "https://github.com/acme/a.git"


def test_first_remote_when_no_origin(tmp_path: Path) -> None:
    write(tmp_path / ".git/config", git_config("https://github.com/up/a.git", "upstream"))
    assert read_git_remote(tmp_path) == "https://github.com/up/a.git"


def test_broken_git_config(tmp_path: Path) -> None:
    write(tmp_path / ".git/config", '[remote "origin"\nurl = = =\n')
    assert read_git_remote(tmp_path) is None


# -- link templates -------------------------------------------------------------------------------------------------

GH = "https://github.com/acme/widgets/blob/{commit}/{path}#L{line}"
GL = "https://gitlab.com/acme/sub/widgets/-/blob/{commit}/{path}#L{line}"


@pytest.mark.parametrize(
    ("remote", "template"),
    [
        ("https://github.com/acme/widgets.git", GH),
        ("https://github.com/acme/widgets", GH),
        ("https://github.com/acme/widgets/", GH),
        ("http://github.com/acme/widgets.git", GH),
        ("ssh://git@github.com/acme/widgets.git", GH),
        ("ssh://git@github.com:22/acme/widgets.git", GH),
        ("git://github.com/acme/widgets.git", GH),
        ("git@github.com:acme/widgets.git", GH),
        ("github.com:acme/widgets", GH),
        ("https://user:s3cret@github.com/acme/widgets.git", GH),  # credentials never reach the link
        ("https://GitHub.com/acme/widgets.git", GH),
        ("https://gitlab.com/acme/sub/widgets.git", GL),
        ("git@gitlab.com:acme/sub/widgets.git", GL),
        (
            "https://github.example.com/acme/widgets.git",
            "https://github.example.com/acme/widgets/blob/{commit}/{path}#L{line}",
        ),
        (
            "https://gitlab.example.org/acme/widgets.git",
            "https://gitlab.example.org/acme/widgets/-/blob/{commit}/{path}#L{line}",
        ),
    ],
)
def test_remote_link_template(remote: str, template: str) -> None:
    assert remote_link_template(remote) == template


@pytest.mark.parametrize(
    "remote",
    [
        None,
        "",
        "https://bitbucket.org/acme/widgets.git",
        "git@example.com:acme/widgets.git",
        "file:///srv/git/widgets.git",
        "/srv/git/widgets.git",
        "../widgets",
        'https://github.com/acme/wid"gets.git',
        "https://github.com/acme/<script>.git",
    ],
)
def test_unknown_or_unsafe_remote_gives_no_template(remote) -> None:
    assert remote_link_template(remote) is None


def test_link_from_detected_remote_and_commit(tmp_path: Path) -> None:
    write(tmp_path / ".git/HEAD", SHA1)
    write(tmp_path / ".git/config", git_config("git@github.com:acme/widgets.git"))
    repo = Repo.open(RepoConfig("w", tmp_path))
    assert repo.commit == SHA1
    assert repo.link("src/a.py", 12) == f"https://github.com/acme/widgets/blob/{SHA1}/src/a.py#L12"


def test_link_needs_a_commit_when_the_template_uses_one(tmp_path: Path) -> None:
    write(tmp_path / ".git/config", git_config("https://github.com/acme/widgets.git"))
    repo = Repo.open(RepoConfig("w", tmp_path))
    assert repo.commit is None
    assert repo.link_template == GH
    assert repo.link("a.py", 1) is None


def test_configured_commit_overrides_detection(tmp_path: Path) -> None:
    write(tmp_path / ".git/HEAD", SHA1)
    repo = Repo.open(RepoConfig("w", tmp_path, url=GH, commit=SHA2))
    assert repo.link("a.py", 3) == f"https://github.com/acme/widgets/blob/{SHA2}/a.py#L3"


def test_url_template_config_without_commit(tmp_path: Path) -> None:
    repo = Repo.open(RepoConfig("w", tmp_path, url="https://code.example.org/browse/{path}?line={line}"))
    assert repo.commit is None
    assert repo.link("pkg/mod.py", 7) == "https://code.example.org/browse/pkg/mod.py?line=7"


def test_url_template_config_beats_the_remote(tmp_path: Path) -> None:
    write(tmp_path / ".git/HEAD", SHA1)
    write(tmp_path / ".git/config", git_config("git@github.com:acme/widgets.git"))
    repo = Repo.open(RepoConfig("w", tmp_path, url="https://mirror.example.org/{commit}/{path}#{line}"))
    assert repo.link("x.py", 2) == f"https://mirror.example.org/{SHA1}/x.py#2"


def test_bad_template_field_gives_no_link(tmp_path: Path) -> None:
    repo = Repo.open(RepoConfig("w", tmp_path, url="https://example.org/{branch}/{path}", commit=SHA1))
    assert repo.link("x.py", 2) is None


def test_no_remote_no_link(tmp_path: Path) -> None:
    repo = Repo.open(RepoConfig("w", tmp_path, commit=SHA1))
    assert repo.link("x.py", 2) is None


def test_parse_repo_configs(tmp_path: Path) -> None:
    configs, problems = parse_repo_configs(
        {
            "app": "code/app",
            "lib": {
                "path": str(tmp_path / "lib"),
                "url": "https://example.org/{path}",
                "python_roots": ["src"],
                "commit": SHA1,
            },
            "evil": {"path": "x", "url": "javascript:alert(1)//{path}"},
            "bad name": {"path": "x"},
            "nopath": {"url": "https://example.org"},
            "typo": {"path": "y", "pyhton_roots": ["src"]},
            "roots": {"path": "z", "python_roots": "src"},
        },
        base=tmp_path,
    )
    by_name = {c.name: c for c in configs}
    assert by_name["app"].path == tmp_path / "code/app"
    assert by_name["lib"] == RepoConfig("lib", tmp_path / "lib", "https://example.org/{path}", ("src",), SHA1)
    assert by_name["evil"].url is None
    assert by_name["roots"].python_roots is None
    assert "bad name" not in by_name and "nopath" not in by_name
    assert "typo" in by_name
    text = "\n".join(problems)
    for needle in ("'evil'", "'bad name'", "'nopath'", "pyhton_roots", "'roots'"):
        assert needle in text
    assert parse_repo_configs(["not", "a", "dict"], tmp_path)[0] == []


def test_repos_declared_without_a_checkout(tmp_path: Path) -> None:
    """``"path": None`` or ``""`` (an unset environment variable) declares a repo that is not checked out: left
    out of the workspace without a problem, and listed by unchecked_repos with the variable its "env" names."""
    raw = {
        "dynamo": {"path": None, "env": "CODETRACE_DYNAMO"},
        "sglang": {"path": "  ", "env": "CODETRACE_SGLANG", "python_roots": ["python"]},
        "bare": None,
        "empty": "",
        "here": {"path": "x", "env": "CODETRACE_HERE"},
        "badenv": {"path": None, "env": "not a variable"},
    }
    configs, problems = parse_repo_configs(raw, tmp_path)
    assert [c.name for c in configs] == ["here"]
    assert problems == ["repo 'badenv': env must name an environment variable, got 'not a variable'"]
    assert unchecked_repos(raw) == {
        "badenv": None,
        "bare": None,
        "dynamo": "CODETRACE_DYNAMO",
        "empty": None,
        "sglang": "CODETRACE_SGLANG",
    }
    assert unchecked_repos(["not", "a", "dict"]) == {}


# -- Python roots -------------------------------------------------------------------------------------------------


def test_src_layout(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[tool.setuptools.packages.find]\nwhere = ["src"]\n')
    write(tmp_path / "src/pkg/__init__.py", "")
    roots = detect_python_roots(tmp_path.resolve())
    assert roots == ((tmp_path / "src").resolve(), tmp_path.resolve())


def test_src_layout_by_convention(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[project]\nname = "x"\n')
    write(tmp_path / "src/pkg/__init__.py", "")
    assert (tmp_path / "src").resolve() in detect_python_roots(tmp_path.resolve())


def test_maturin_python_source(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[tool.maturin]\npython-source = "python"\nmodule-name = "x._x"\n')
    write(tmp_path / "python/x/__init__.py", "")
    repo = Repo.open(RepoConfig("m", tmp_path))
    assert repo.python_roots[0] == (tmp_path / "python").resolve()
    assert repo.module_name(repo.root / "python/x/__init__.py") == "x"
    assert repo.module_files("x") == [(tmp_path / "python/x/__init__.py").resolve()]


def test_hatch_packages(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[tool.hatch.build.targets.wheel]\npackages = ["lib/acme"]\n')
    write(tmp_path / "lib/acme/core.py", "def f(): pass\n")
    repo = Repo.open(RepoConfig("h", tmp_path))
    assert (tmp_path / "lib").resolve() in repo.python_roots
    assert repo.module_name(repo.root / "lib/acme/core.py") == "acme.core"


def test_nested_project_in_a_monorepo(tmp_path: Path) -> None:
    write(tmp_path / "services/api/pyproject.toml", '[tool.setuptools.packages.find]\nwhere = ["src"]\n')
    write(tmp_path / "services/api/src/api/app.py", "")
    write(tmp_path / ".venv/lib/pyproject.toml", '[tool.maturin]\npython-source = "."\n')  # skipped dir
    roots = detect_python_roots(tmp_path.resolve())
    assert roots[0] == (tmp_path / "services/api/src").resolve()
    assert all(".venv" not in r.parts for r in roots)


def test_roots_outside_the_repo_are_ignored(tmp_path: Path) -> None:
    repo_dir = tmp_path / "repo"
    write(tmp_path / "outside/pkg/__init__.py", "")
    write(repo_dir / "pyproject.toml", '[tool.setuptools]\npackage-dir = {"" = "../outside"}\n')
    assert detect_python_roots(repo_dir.resolve()) == (repo_dir.resolve(),)


def test_configured_python_roots(tmp_path: Path) -> None:
    write(tmp_path / "code/pkg/mod.py", "")
    (tmp_path / "elsewhere").mkdir()
    repo = Repo.open(RepoConfig("c", tmp_path, python_roots=("code", "missing", "../elsewhere")))
    assert repo.python_roots == ((tmp_path / "code").resolve(),)
    assert repo.module_name(repo.root / "code/pkg/mod.py") == "pkg.mod"


def test_broken_pyproject_is_skipped(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", "[tool.setuptools\n")
    assert detect_python_roots(tmp_path.resolve()) == (tmp_path.resolve(),)


def test_innermost_root_names_the_module(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[tool.setuptools.packages.find]\nwhere = ["src"]\n')
    write(tmp_path / "src/pkg/mod.py", "")
    repo = Repo.open(RepoConfig("r", tmp_path))
    assert repo.module_name(repo.root / "src/pkg/mod.py") == "pkg.mod"
    assert repo.module_files("pkg.mod") == [(tmp_path / "src/pkg/mod.py").resolve()]
    assert repo.module_files("pkg") == []  # no __init__: a namespace package has no file...
    assert repo.is_package_dir("pkg")  # ...but is a package directory
    assert repo.module_files("pkg.missing") == []


def test_probing_in_a_root_is_probing_the_path(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    write(root / "pyproject.toml", '[tool.setuptools.packages.find]\nwhere = ["src"]\n')
    write(root / "src/pkg/mod.py", "")
    write(root / "src/pkg/sub/__init__.py", "")
    (root / "src/pkg/link.py").symlink_to(write(tmp_path / "secret.py", ""))
    workspace = make_workspace(RepoConfig("r", root))
    repo = workspace.repos["r"]
    states = set()
    for python_root in repo.python_roots:
        for relpath in ("pkg/mod.py", "pkg/sub", "pkg/sub/__init__.py", "pkg/link.py", "pkg/missing.py"):
            with workspace.recording() as by_path:
                state = repo.probe(python_root / relpath)
            with workspace.recording() as by_root:
                found = repo.probe_in_root(python_root, relpath)
            assert found == (repo.relpath(python_root / relpath), state)
            assert by_root.probes == by_path.probes != {}
            states.add(state)
    assert states == {"file", "dir", "outside", "none"}


# -- containment -------------------------------------------------------------------------------------------------


@pytest.fixture
def sandbox(tmp_path: Path) -> tuple[Repo, Path]:
    root = tmp_path / "repo"
    write(root / "ok.py", "x = 1\n")
    secret = write(tmp_path / "secret.py", "password = 'hunter2'\n")
    return Repo.open(RepoConfig("r", root), max_file_bytes=1000), secret


def read_error(repo: Repo, relpath: str) -> CodetraceError:
    with pytest.raises(CodetraceError) as info:
        repo.read_text(relpath)
    assert info.value.diagnostic.subtype == "read"
    return info.value


def test_reads_a_normal_file(sandbox) -> None:
    repo, _ = sandbox
    assert repo.read_text("ok.py") == "x = 1\n"


def test_utf8_bom_is_dropped(sandbox) -> None:
    repo, _ = sandbox
    write(repo.root / "bom.py", b"\xef\xbb\xbfy = 2\n")
    assert repo.read_text("bom.py") == "y = 2\n"


def test_symlink_out_of_the_repo_is_refused(sandbox) -> None:
    repo, secret = sandbox
    (repo.root / "link.py").symlink_to(secret)
    err = read_error(repo, "link.py")
    assert "outside the repository" in str(err)
    assert "hunter2" not in str(err)


def test_symlinked_directory_out_of_the_repo_is_refused(sandbox, tmp_path: Path) -> None:
    repo, _ = sandbox
    write(tmp_path / "other/pkg/__init__.py", "")
    (repo.root / "pkg").symlink_to(tmp_path / "other/pkg")
    read_error(repo, "pkg/__init__.py")
    repo.python_roots = (repo.root,)
    assert repo.module_files("pkg") == []


def test_symlink_inside_the_repo_is_allowed(sandbox) -> None:
    repo, _ = sandbox
    (repo.root / "alias.py").symlink_to(repo.root / "ok.py")
    assert repo.read_text("alias.py") == "x = 1\n"


@pytest.mark.parametrize("relpath", ["../secret.py", "sub/../../secret.py", "./../secret.py"])
def test_dotdot_is_refused(sandbox, relpath: str) -> None:
    repo, _ = sandbox
    assert "outside the repository" in str(read_error(repo, relpath))


def test_absolute_path_is_refused(sandbox) -> None:
    repo, secret = sandbox
    read_error(repo, str(secret))


def test_binary_file_is_refused(sandbox) -> None:
    repo, _ = sandbox
    write(repo.root / "blob.py", b"x = 1\n\x00\x01\x02")
    assert "binary" in str(read_error(repo, "blob.py"))


def test_oversized_file_is_refused(sandbox) -> None:
    repo, _ = sandbox
    write(repo.root / "big.py", "# " + "x" * 2000 + "\n")
    err = read_error(repo, "big.py")
    assert "1000" in str(err)
    assert "codetrace_max_file_bytes" in err.diagnostic.hint


def test_file_at_the_cap_is_read(sandbox) -> None:
    repo, _ = sandbox
    write(repo.root / "edge.py", "#" * 999 + "\n")
    assert len(repo.read_text("edge.py")) == 1000


def test_non_utf8_is_refused(sandbox) -> None:
    repo, _ = sandbox
    write(repo.root / "latin.py", "name = 'café'\n".encode("latin-1"))
    assert "UTF-8" in str(read_error(repo, "latin.py"))


def test_missing_file_is_a_read_error(sandbox) -> None:
    repo, _ = sandbox
    read_error(repo, "nope.py")


def test_directory_is_a_read_error(sandbox) -> None:
    repo, _ = sandbox
    (repo.root / "adir").mkdir()
    read_error(repo, "adir")


def test_symlink_loop_is_refused(sandbox) -> None:
    repo, _ = sandbox
    (repo.root / "a.py").symlink_to(repo.root / "b.py")
    (repo.root / "b.py").symlink_to(repo.root / "a.py")
    read_error(repo, "a.py")


# -- the workspace ------------------------------------------------------------------------------------------------


def test_workspace_collects_bad_repos_as_errors(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    workspace, errors = Workspace.from_configs(
        [RepoConfig("zeta", tmp_path / "b"), RepoConfig("alpha", tmp_path / "missing")]
    )
    assert list(workspace.repos) == ["zeta"]
    assert len(errors) == 1 and errors[0].diagnostic.subtype == "repo"
    assert "alpha" in str(errors[0])


def test_workspace_repo_lookup(tmp_path: Path) -> None:
    for name in ("b", "a"):
        (tmp_path / name).mkdir()
    workspace = make_workspace(RepoConfig("b", tmp_path / "b"), RepoConfig("a", tmp_path / "a"))
    assert list(workspace.repos) == ["a", "b"]  # fixed order, whatever the config order
    with pytest.raises(CodetraceError) as info:
        workspace.repo("c")
    assert info.value.diagnostic.subtype == "repo"
    assert "a, b" in str(info.value)


def test_repo_of_picks_the_innermost(tmp_path: Path) -> None:
    inner = tmp_path / "outer/vendor/inner"
    inner.mkdir(parents=True)
    workspace = make_workspace(RepoConfig("outer", tmp_path / "outer"), RepoConfig("inner", inner))
    assert workspace.repo_of((inner / "x.py").resolve()).name == "inner"
    assert workspace.repo_of((tmp_path / "outer/y.py").resolve()).name == "outer"
    assert workspace.repo_of((tmp_path / "z.py").resolve()) is None


def test_probes_answer_the_same_from_directory_listings(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "pkg" / "sub").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "mod.py").write_text("")
    (root / "pkg" / "sub" / "__init__.py").write_text("")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "leak.py").write_text("")
    (root / "pkg" / "link").symlink_to(tmp_path / "outside")
    (root / "pkg" / "broken.py").symlink_to(tmp_path / "nowhere.py")
    (root / "pkg" / "inner").symlink_to(root / "pkg" / "sub")
    relpaths = [
        "pkg",
        "pkg/mod.py",
        "pkg/missing.py",
        "pkg/sub",
        "pkg/sub/__init__.py",
        "pkg/sub/deeper/x.py",
        "nothing/here/at/all.py",
        "pkg/link/leak.py",
        "pkg/link/none.py",
        "pkg/broken.py",
        "pkg/inner/__init__.py",
        "pkg/mod.py/x.py",
    ]
    plain = make_workspace(RepoConfig("r", root))
    expected = [plain.repos["r"].probe_in_root(root.resolve(), r) for r in relpaths]
    assert {state for _, state in expected} == {"file", "dir", "none", "outside"}
    listed = make_workspace(RepoConfig("r", root))
    with listed.recording() as deps, listed.listed():
        found = [listed.repos["r"].probe_in_root(root.resolve(), r) for r in relpaths]
    assert found == expected
    assert deps.probes == {("r", key): state for key, state in expected}  # recorded, as without listings
    assert listed.repos["r"].listings is None  # only inside the block
