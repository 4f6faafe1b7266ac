"""Finding ``codetrace`` directives without Sphinx: reStructuredText and MyST scanning, conf.py reading."""

from __future__ import annotations

import textwrap
from pathlib import Path

from helpers import TESTS

from sphinxext.codetrace.docs_scan import find_directives, read_docs_config, scan_markdown, scan_rst

EXAMPLE_DOCS = TESTS.parent / "example_docs"


def rst(text: str):
    return scan_rst(textwrap.dedent(text).lstrip("\n"))


def md(text: str):
    return scan_markdown(textwrap.dedent(text).lstrip("\n"))


def test_rst_title_options_and_continuations() -> None:
    found = rst(
        """
        Title
        =====

        .. codetrace:: A long
           title
           :entry: pkg.mod.f
           :stop-at: pkg.a,
              pkg.b
           :name:

        After.
        """
    )
    assert found == [(4, "A long title", {"entry": "pkg.mod.f", "stop-at": "pkg.a,\npkg.b", "name": ""})]


def test_rst_literal_blocks_and_comments_are_skipped_nested_content_is_not() -> None:
    found = rst(
        """
        .. code-block:: rst

           .. codetrace:: In a code block
              :entry: a.b

        Shown literally::

           .. codetrace:: In a literal block
              :entry: a.b

        ..
           .. codetrace:: In a comment
              :entry: a.b

        .. note::

           .. codetrace:: In a note
              :entry: x.y

        .. _label:

        .. codetrace::
           :entry: z.w
        """
    )
    assert found == [(17, "In a note", {"entry": "x.y"}), (22, "", {"entry": "z.w"})]


def test_myst_colon_options_yaml_block_and_fences() -> None:
    found = md(
        """
        # Page

        ```{codetrace} Colon form
        :entry: a.b
        :depth: 2
        ```

        ````markdown
        ```{codetrace} Inside an example
        :entry: not.this
        ```
        ````

        ~~~{codetrace} YAML form
        ---
        entry: c.d
        depth: 3
        caption: "text: with a colon"
        ---
        ~~~

        :::{note}
        ```{codetrace} Nested
        :entry: e.f
        ```
        :::

        ```{eval-rst}
        .. codetrace:: From rst
           :entry: g.h
        ```

        ```python
        # ```{codetrace} not a directive
        ```
        """
    )
    assert found == [
        (3, "Colon form", {"entry": "a.b", "depth": "2"}),
        (14, "YAML form", {"entry": "c.d", "depth": "3", "caption": "text: with a colon"}),
        (23, "Nested", {"entry": "e.f"}),
        (29, "From rst", {"entry": "g.h"}),
    ]


def test_conf_py_and_the_example_docs_tree() -> None:
    config = read_docs_config(EXAMPLE_DOCS)
    # dynamo and sglang (flows/) are declared from environment variables, with no path when those are unset
    assert set(config.repos) == {"demo", "codetrace", "dynamo", "sglang"}
    assert ".md" in config.suffixes  # myst_parser is enabled
    assert config.lock_file == EXAMPLE_DOCS.resolve() / "codetrace.lock.json"
    sites = find_directives(config)
    by_doc: dict[str, int] = {}
    for site in sites:
        by_doc[site.docname] = by_doc.get(site.docname, 0) + 1
    # what a Sphinx build of example_docs renders: the examples inside code blocks are not directives
    flows = {f"flows/{name}": 1 for name in ("inference-request", "kv-cache-lookup", "disaggregated-handoff")}
    flows |= {"flows/kv-events": 2, "flows/hicache-tiers": 1}
    assert by_doc == {"crossings": 1, "index": 1, "myst": 3, "selftrace": 3, "tutorial": 9, **flows}
    admission = next(s for s in sites if s.title == "Admission control")
    assert admission.relpath == "myst.md" and admission.options["entry"] == "tinyserve.scheduler.Scheduler.submit"


def test_exclude_patterns_and_source_suffix(tmp_path: Path) -> None:
    (tmp_path / "conf.py").write_text(
        "source_suffix = ['.rst', '.txt']\nexclude_patterns = ['skip/**', '_build']\ncodetrace_lock_file = None\n"
    )
    for rel in ("a.rst", "b.txt", "skip/c.rst", "_build/d.rst", "e.md", ".hidden/f.rst"):
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(".. codetrace:: T\n   :entry: a.b\n")
    config = read_docs_config(tmp_path)
    assert config.lock_file is None
    assert [(s.relpath, s.docname) for s in find_directives(config)] == [("a.rst", "a"), ("b.txt", "b")]
