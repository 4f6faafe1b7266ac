"""Sphinx configuration of the sphinx-codetrace documentation.

These docs are built with the extension they describe: every diagram in them is traced from real code at
build time, either from the small demo workspace in ``demo/`` or from the extension's own source.

Build (from the repository root)::

    sphinx-build -W --keep-going -b html example_docs example_docs/_build/html
"""

import os

project = "sphinx-codetrace"
author = "sphinx-codetrace developers"
copyright = "sphinx-codetrace developers"

# -- codetrace setup (quoted by the tutorial: keep the markers) --------------------------------------------
# [codetrace-config]
extensions = [
    "sphinxext.codetrace",
    "myst_parser",
]

codetrace_repos = {
    # The demo workspace: a toy text-generation server with a src/ layout (see demo/pyproject.toml).
    "demo": {"path": "demo"},
    # The extension itself, so a page can trace the directive that draws it. The demo lies inside this
    # repository too; a nested repo owns its files, so tinyserve's modules belong to "demo" only.
    "codetrace": {"path": ".."},
}
# [/codetrace-config]

# The real-world flows (flows/) trace Dynamo and SGLang checkouts. When these variables are unset the repos are
# declared without a checkout, and each flow renders as a note saying which variable to set.
codetrace_repos.update(
    {
        "dynamo": {"path": os.environ.get("CODETRACE_DYNAMO"), "env": "CODETRACE_DYNAMO"},
        "sglang": {"path": os.environ.get("CODETRACE_SGLANG"), "env": "CODETRACE_SGLANG"},
    }
)
# The long real-world flows walk thousands of calls; give a trace more time than the default 120 s.
codetrace_time_budget = 900

# -- general ------------------------------------------------------------------------------------------------
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "demo", "Thumbs.db", ".DS_Store"]
root_doc = "index"
pygments_style = "sphinx"

# -- HTML ---------------------------------------------------------------------------------------------------
html_theme = "alabaster"
html_title = "sphinx-codetrace"
html_theme_options = {
    "description": "Call-chain diagrams traced from real code",
    "fixed_sidebar": True,
    "page_width": "1180px",
    "sidebar_width": "220px",
}
# Nothing in these docs loads from the network: codetrace_offline_mermaid (on by default) serves the
# vendored mermaid.js, and no theme asset comes from a CDN.
