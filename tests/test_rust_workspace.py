"""Cargo discovery (cargo.py) and the Rust resolver's module trees, on the fixture workspace and on small
workspaces written in a temporary folder."""

from __future__ import annotations

import textwrap
from pathlib import Path

from test_rust_corpus import REPO, RUSTREPO, rust_workspace

from sphinxext.codetrace.cargo import crate_name, discover_crates
from sphinxext.codetrace.index import Index
from sphinxext.codetrace.resolve.rust import RustResolver
from sphinxext.codetrace.workspace import RepoConfig, Workspace


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")


def test_fixture_crates() -> None:
    crates = discover_crates(RUSTREPO.resolve())
    got = [(c.name, c.package, c.kind, c.root) for c in crates]
    assert got == [  # sorted by root file
        ("admin", "fleet-server", "bin", "apps/server/src/bin/admin.rs"),  # src/bin/*.rs
        ("fleet_server", "fleet-server", "bin", "apps/server/src/main.rs"),
        ("fleet_core", "fleet-core", "lib", "crates/core/src/lib.rs"),
        ("fleet_net", "fleet-net", "lib", "crates/net/src/net.rs"),  # [lib] path
    ]
    assert all(c.package != "fleet-ignored" for c in crates)  # `exclude` wins over the `crates/*` glob
    net = next(c for c in crates if c.name == "fleet_net")
    assert net.deps == (("core_api", "fleet_core"),)  # a renamed dependency
    assert crate_name("dynamo-llm") == "dynamo_llm"


def test_discovery_of_lib_names_bins_and_standalone_packages(tmp_path) -> None:
    write(
        tmp_path,
        {
            "Cargo.toml": """
                [workspace]
                members = ["a"]
            """,
            "a/Cargo.toml": """
                [package]
                name = "a-pkg"
                [lib]
                name = "alpha"
                [[bin]]
                name = "tool"
                path = "tools/tool.rs"
            """,
            "a/src/lib.rs": "",
            "a/tools/tool.rs": "fn main() {}",
            "a/src/bin/extra/main.rs": "fn main() {}",
            "lone/Cargo.toml": '[workspace]\n[package]\nname = "lone"\nautobins = false\n',
            "stray/Cargo.toml": '[package]\nname = "stray"\n',  # inside the workspace, not a member
            "stray/src/lib.rs": "",
            "lone/src/lib.rs": "",
            "lone/src/main.rs": "fn main() {}",
            "broken/Cargo.toml": "[package\nname=",
            "target/debug/x/Cargo.toml": '[package]\nname = "built"\n',
        },
    )
    got = sorted((c.name, c.kind, c.root) for c in discover_crates(tmp_path.resolve()))
    assert got == [
        ("alpha", "lib", "a/src/lib.rs"),
        ("extra", "bin", "a/src/bin/extra/main.rs"),
        ("lone", "lib", "lone/src/lib.rs"),  # a workspace of its own; autobins = false
        ("tool", "bin", "a/tools/tool.rs"),
    ]


def test_module_tree_files_inline_path_and_cfg(tmp_path) -> None:
    write(
        tmp_path,
        {
            "Cargo.toml": '[package]\nname = "m"\n',
            "src/lib.rs": """
                pub mod a;
                pub mod b;
                mod inline { pub mod nested; }
                #[cfg(unix)]
                #[path = "plat/unix.rs"]
                mod plat;
                #[cfg(windows)]
                #[path = "plat/win.rs"]
                mod plat;
            """,
            "src/a.rs": "pub mod child;",
            "src/a/child.rs": "pub fn f() {}",
            "src/b/mod.rs": "pub mod leaf;",
            "src/b/leaf.rs": "pub fn g() {}",
            "src/inline/nested.rs": "pub fn h() {}",
            "src/plat/unix.rs": "pub fn p() {}",
            "src/plat/win.rs": "pub fn p() {}",
        },
    )
    workspace, errors = Workspace.from_configs([RepoConfig("m", tmp_path)])
    assert errors == []
    resolver = RustResolver(workspace, Index(workspace))
    world = resolver.world("m")
    modules = {m.name: sorted(m.parts) for m in world.all_modules()}
    assert modules == {
        "m": [("src/lib.rs", "")],
        "m::a": [("src/a.rs", "")],
        "m::a::child": [("src/a/child.rs", "")],
        "m::b": [("src/b/mod.rs", "")],
        "m::b::leaf": [("src/b/leaf.rs", "")],
        "m::inline": [("src/lib.rs", "inline")],
        "m::inline::nested": [("src/inline/nested.rs", "")],
        "m::plat": [("src/plat/unix.rs", ""), ("src/plat/win.rs", "")],  # both cfg branches kept
    }
    assert resolver.resolve_entry("m::a::child::f").path == "src/a/child.rs"
    assert resolver.resolve_entry("m::inline::nested::h").qualname == "m::inline::nested::h"


def test_fixture_module_names() -> None:
    workspace = rust_workspace()
    resolver = RustResolver(workspace, Index(workspace))
    world = resolver.world(REPO)
    names = {m.name for m in world.all_modules()}
    assert {
        "fleet_core::store::memory",
        "fleet_core::store::disk",
        "fleet_core::prelude",
        "fleet_core::platform::imp",
        "fleet_net::routes::v1",
        "fleet_server::config",
        "admin",
    } <= names
    imp = next(m for m in world.all_modules() if m.name == "fleet_core::platform::imp")
    assert sorted(p for p, _ in imp.parts) == ["crates/core/src/sys/unix.rs", "crates/core/src/sys/windows.rs"]
