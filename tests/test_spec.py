"""Flow spec validation: parse_options turns raw directive options into a FlowSpec or a "spec" error."""

from __future__ import annotations

import pytest

from sphinxext.codetrace.diagnostics import CodetraceError
from sphinxext.codetrace.spec import (
    DEFAULT_DEPTH,
    DEFAULT_MAX_STEPS,
    MAX_STEPS_LIMIT,
    OPTIONS,
    FlowSpec,
    parse_options,
    split_list,
)


def spec_error(options: dict, title: str = "T") -> CodetraceError:
    with pytest.raises(CodetraceError) as info:
        parse_options(title, options)
    assert info.value.diagnostic.subtype == "spec"
    return info.value


def test_minimal_spec_has_documented_defaults() -> None:
    spec = parse_options("Title", {"entry": "pkg.mod.f"})
    assert spec == FlowSpec(
        title="Title",
        entry="pkg.mod.f",
        repo=None,
        stop_at=(),
        depth=DEFAULT_DEPTH,
        max_steps=DEFAULT_MAX_STEPS,
        include=(),
        exclude=(),
        diagram="both",
        group_by="class",
        caption="",
    )


def test_title_defaults_to_entry_and_values_are_stripped() -> None:
    spec = parse_options("   ", {"entry": "  pkg.f  ", "caption": "  Some words  ", "repo": " r "})
    assert spec.title == "pkg.f"
    assert spec.entry == "pkg.f"
    assert spec.caption == "Some words"
    assert spec.repo == "r"


@pytest.mark.parametrize("entry", [None, "", "   ", "\n"])
def test_missing_entry(entry) -> None:
    options = {} if entry is None else {"entry": entry}
    err = spec_error(options)
    assert ":entry:" in str(err)
    assert "pkg.module.function" in err.diagnostic.hint


def test_entry_must_be_one_symbol() -> None:
    err = spec_error({"entry": "pkg.a pkg.b"})
    assert ":entry:" in str(err)


def test_unknown_option_suggests_the_closest() -> None:
    err = spec_error({"entry": "pkg.f", "stop_at": "x"})
    assert ":stop_at:" in err.diagnostic.message
    assert "stop-at" in err.diagnostic.hint
    assert err.diagnostic.hint.startswith("did you mean")


def test_unknown_option_without_a_close_match_lists_known_options() -> None:
    err = spec_error({"entry": "pkg.f", "zzzzzz": "x"})
    assert ":zzzzzz:" in err.diagnostic.message
    for name in OPTIONS:
        assert name in err.diagnostic.hint


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("depth", "abc"),
        ("depth", "3.5"),
        ("depth", "0"),
        ("depth", "-1"),
        ("depth", "101"),
        ("depth", ""),
        ("depth", None),
        ("max-steps", "many"),
        ("max-steps", "0"),
        ("max-steps", str(MAX_STEPS_LIMIT + 1)),
        ("max-steps", "1e3"),
        ("diagram", "pie"),
        ("diagram", ""),
        ("diagram", None),
        ("group-by", "package"),
        ("group-by", "classes"),
        ("group-by", None),
    ],
)
def test_bad_values_name_the_option(option: str, value) -> None:
    err = spec_error({"entry": "pkg.f", option: value})
    assert f":{option}:" in err.diagnostic.message


def test_choice_errors_list_the_choices_and_suggest() -> None:
    err = spec_error({"entry": "pkg.f", "group-by": "modul"})
    assert "class, module, file, repo" in err.diagnostic.message
    assert "module" in err.diagnostic.hint
    err = spec_error({"entry": "pkg.f", "diagram": "sequense"})
    assert err.diagnostic.hint == "did you mean: sequence?"


def test_integer_error_gives_the_range() -> None:
    err = spec_error({"entry": "pkg.f", "depth": "x"})
    assert "between 1 and 100" in err.diagnostic.hint
    err = spec_error({"entry": "pkg.f", "max-steps": "20000"})
    assert f"between 1 and {MAX_STEPS_LIMIT}" in err.diagnostic.message
    assert "20000" in err.diagnostic.message


@pytest.mark.parametrize(
    ("option", "value", "attr", "expected"),
    [
        ("depth", "1", "depth", 1),
        ("depth", " 100 ", "depth", 100),
        ("max-steps", "1", "max_steps", 1),
        ("max-steps", str(MAX_STEPS_LIMIT), "max_steps", MAX_STEPS_LIMIT),
        ("diagram", "Sequence", "diagram", "sequence"),
        ("diagram", " flowchart ", "diagram", "flowchart"),
        ("group-by", "REPO", "group_by", "repo"),
        ("group-by", "file", "group_by", "file"),
    ],
)
def test_good_values(option: str, value: str, attr: str, expected) -> None:
    spec = parse_options("t", {"entry": "pkg.f", option: value})
    assert getattr(spec, attr) == expected


def test_repo_prefix_on_entry() -> None:
    spec = parse_options("t", {"entry": "backend:pkg.mod.f"})
    assert (spec.repo, spec.entry) == ("backend", "pkg.mod.f")
    spec = parse_options("t", {"entry": "my-repo.v2:src/pkg/mod.py::Cls.m"})
    assert (spec.repo, spec.entry) == ("my-repo.v2", "src/pkg/mod.py::Cls.m")


def test_repo_prefix_agreeing_with_repo_option() -> None:
    spec = parse_options("t", {"entry": "backend:pkg.f", "repo": "backend"})
    assert (spec.repo, spec.entry) == ("backend", "pkg.f")


def test_repo_prefix_conflicting_with_repo_option() -> None:
    err = spec_error({"entry": "backend:pkg.f", "repo": "frontend"})
    assert "backend" in str(err) and "frontend" in str(err)


@pytest.mark.parametrize(
    "entry",
    [
        "pkg.mod.f",
        "src/pkg/mod.py::Cls.method",
        "mod.py::f",
        "crate::module::function",
    ],
)
def test_entries_without_repo_prefix(entry: str) -> None:
    spec = parse_options("t", {"entry": entry})
    assert spec.repo is None
    assert spec.entry == entry


def test_stop_at_and_globs_are_split_on_commas_spaces_and_newlines() -> None:
    spec = parse_options(
        "t",
        {
            "entry": "pkg.f",
            "stop-at": "pkg.a.b, pkg.c.*\n  pkg.d,,pkg.a.b\tpkg.e",
            "include": "pkg.*\npkg2",
            "exclude": "pkg.tests.*, pkg.vendored",
        },
    )
    assert spec.stop_at == ("pkg.a.b", "pkg.c.*", "pkg.d", "pkg.e")
    assert spec.include == ("pkg.*", "pkg2")
    assert spec.exclude == ("pkg.tests.*", "pkg.vendored")


def test_empty_lists() -> None:
    spec = parse_options("t", {"entry": "pkg.f", "stop-at": None, "include": "", "exclude": " \n "})
    assert (spec.stop_at, spec.include, spec.exclude) == ((), (), ())


def test_split_list_keeps_order_and_drops_duplicates() -> None:
    assert split_list("b a, b\n c a") == ("b", "a", "c")
    assert split_list("") == ()


def test_error_str_carries_hint() -> None:
    err = spec_error({"entry": "pkg.f", "depht": "3"})
    assert str(err) == f"{err.diagnostic.message} (hint: {err.diagnostic.hint})"
    assert "depth" in err.diagnostic.hint
