"""The Sphinx layer: the ``codetrace`` directive, its configuration, and offline mermaid.

Everything Sphinx-specific lives here; the engine it drives (:class:`~sphinxext.codetrace.trace.Engine`)
knows nothing of Sphinx. One engine per Sphinx process serves every directive, so facts parsed for one page
are reused by the next (each ``-j`` worker has its own). Every source file a trace read is declared with
``env.note_dependency``, so editing traced code rebuilds the pages that show it.

Problems become warnings with ``type="codetrace"`` and a subtype (``spec``, ``repo``, ``unresolved``,
``drift``, ``parse``, ``read``, ``config``) at the directive's location: ``-W`` turns them into errors and
``suppress_warnings = ["codetrace.parse"]`` silences a kind. The build always goes on. A flow that names a
repo declared in ``codetrace_repos`` without a checkout (``"path": None``, e.g. an unset environment variable)
is not a problem: it renders as an admonition saying which variable to set.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.display import status_iterator
from sphinx.util.docutils import SphinxDirective
from sphinxcontrib.mermaid import mermaid as mermaid_node

from . import freshness
from .diagnostics import CodetraceError, Diagnostic
from .docs_check import accept_command, explain_failure, not_checked_out, verify_trace
from .drift import LOCK_FILE, load_lock, lock_key
from .model import Trace
from .render import Budget, StepRow, flowchart, sequence_diagram, step_rows
from .spec import OPTIONS, REPEATABLE, FlowSpec, parse_options
from .trace import Engine
from .workspace import DEFAULT_MAX_FILE_BYTES, Workspace, parse_repo_configs, unchecked_repos

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "_static"
MERMAID_SHIM = "codetrace/mermaid-shim.mjs"
MERMAID_JS = "codetrace/mermaid.min.js"


class _AnyOption(dict):  # type: ignore[type-arg]
    """An option spec that accepts every name, so :func:`parse_options` can reject unknown ones with a
    codetrace warning and a suggestion instead of docutils' generic error."""

    def __contains__(self, key: object) -> bool:
        return True

    def __missing__(self, key: str) -> Any:
        return directives.unchanged


def _warn(diagnostic: Diagnostic, location: Any) -> None:
    logger.warning(str(diagnostic), location=location, type="codetrace", subtype=diagnostic.subtype)


#: One engine per build environment (per Sphinx app, per ``-j`` worker after fork), made at builder-inited.
_ENGINES: dict[int, Engine] = {}
#: The lock file of each build environment and the command that updates it (None: locks disabled).
_LOCK_FILES: dict[int, tuple[Path, str] | None] = {}


def _make_engine(app: Sphinx) -> None:
    """Build this app's engine from ``codetrace_repos``; config problems are warned about once, here."""
    configs, problems = parse_repo_configs(app.config.codetrace_repos, Path(app.confdir))
    for problem in problems:
        logger.warning(f"codetrace_repos: {problem}", type="codetrace", subtype="config")
    workspace, errors = Workspace.from_configs(configs, int(app.config.codetrace_max_file_bytes))
    for error in errors:
        _warn(error.diagnostic, None)
    cache = app.config.codetrace_cache_dir
    cache_dir = Path(app.confdir, cache) if cache else Path(app.doctreedir) / "codetrace-cache"
    budget = app.config.codetrace_time_budget
    engine = _ENGINES[id(app.env)] = Engine(workspace, cache_dir, float(budget) if budget else None)
    engine.index.progress = _progress(app)
    lock = app.config.codetrace_lock_file
    _LOCK_FILES[id(app.env)] = (Path(app.confdir, lock), accept_command(app.confdir)) if lock else None


def _progress(app: Sphinx) -> Callable[[list[str], str], Iterator[str]]:
    """Progress of the engine's long passes (indexing a Rust workspace, scanning every Python file) through
    Sphinx's status iterator, in at most 20 steps, each naming its first file."""

    def show(items: list[str], summary: str) -> Iterator[str]:
        size = max(1, -(-len(items) // 20))
        chunks = [items[i : i + size] for i in range(0, len(items), size)]
        for chunk in status_iterator(
            chunks, summary, "darkgreen", len(chunks), app.verbosity, stringify_func=lambda c: f"{c[0]} ({len(c)})"
        ):
            yield from chunk

    return show


def _drop_engine(app: Sphinx, exception: BaseException | None) -> None:
    engine = _ENGINES.pop(id(app.env), None)
    if engine is not None:
        engine.close()  # its workers stop, the cache entries it owes are written
    _LOCK_FILES.pop(id(app.env), None)


class CodetraceDirective(SphinxDirective):
    """``.. codetrace:: Title`` with ``:entry:`` and stop options; see :data:`~.spec.OPTIONS`."""

    has_content = False
    required_arguments = 0
    optional_arguments = 1
    final_argument_whitespace = True
    option_spec: ClassVar[dict[str, Any]] = _AnyOption(dict.fromkeys(OPTIONS, directives.unchanged))

    def run(self) -> list[nodes.Node]:
        location = self.get_location()
        try:
            spec = parse_options(self.arguments[0] if self.arguments else "", self._options())
        except CodetraceError as exc:
            _warn(exc.diagnostic, location)
            return []
        unavailable = not_checked_out(spec, unchecked_repos(self.config.codetrace_repos))
        if unavailable:  # declared in codetrace_repos without a checkout: say how to enable it, no warning
            return [self._unavailable(spec, unavailable)]
        freshness.note_traced(self.env)
        engine = _ENGINES.get(id(self.env))
        if engine is None:  # pragma: no cover - builder-inited always ran
            return []
        try:
            trace = engine.trace(spec)
        except CodetraceError as exc:
            diagnostic = explain_failure(engine, spec, exc)  # adds the closest current names
            _warn(diagnostic, location)
            return [self._placeholder(spec, str(diagnostic))]
        finally:
            for path in engine.last_files:
                self.env.note_dependency(path)
        for problem in trace.warnings:
            _warn(problem, location)
        for problem in self._drift(spec, trace, engine):
            _warn(problem, location)
        return [self._render(spec, trace, engine)]

    def _options(self) -> dict[str, Any]:
        """The options, with every line of a repeated ``:bridge:`` (MyST's colon form would keep the last)."""
        options = dict(self.options)
        for name in REPEATABLE:
            marker = f":{name}:"
            lines = [line.strip() for line in (self.block_text or "").splitlines()]
            values = [line[len(marker) :].strip() for line in lines if line.startswith(marker)]
            if len(values) > 1:
                options[name] = "\n".join(values)
        return options

    def _drift(self, spec: FlowSpec, trace: Trace, engine: Engine) -> list[Diagnostic]:
        """Missing stop points, ``:expect:`` and the lock file (:func:`~.docs_check.verify_trace`). The lock
        file is a dependency of the page, so updating it rebuilds the page."""
        lock, accept, problems = None, "", []
        key = lock_key(self.env.docname, spec.title, spec.name)
        configured = _LOCK_FILES.get(id(self.env))
        if configured is not None:
            lock, accept = load_lock(configured[0]), configured[1]
            if lock.exists:
                self.env.note_dependency(str(lock.path))
                keys = self.env.temp_data.setdefault("codetrace_lock_keys", {})
                if key in keys:
                    problems.append(
                        Diagnostic(
                            "spec",
                            f"flow key {key!r} is also used at line {keys[key]}",
                            "give one of them a :name: (lock files key flows by document and title)",
                        )
                    )
                keys.setdefault(key, self.lineno)
        more, files = verify_trace(engine, spec, trace, key, lock, accept)
        for path in files:
            self.env.note_dependency(path)
        return problems + more

    def _unavailable(self, spec: FlowSpec, message: str) -> nodes.Node:
        box = nodes.admonition(classes=["codetrace", "codetrace-unavailable"])
        self.set_source_info(box)
        box += nodes.title(text=spec.title)
        box += nodes.paragraph(text=message)
        return box

    def _placeholder(self, spec: FlowSpec, message: str) -> nodes.Node:
        box = nodes.container(classes=["codetrace", "codetrace-error"])
        box += nodes.rubric(text=spec.title)
        box += nodes.paragraph(text=f"codetrace could not trace this flow: {message}")
        return box

    def _render(self, spec: FlowSpec, trace: Trace, engine: Engine) -> nodes.Node:
        def link(repo: str, path: str, line: int) -> str | None:
            return engine.workspace.repos[repo].link(path, line)

        box = nodes.container(classes=["codetrace"])
        self.set_source_info(box)
        box += nodes.rubric(text=spec.title)
        budget = Budget(self.config.codetrace_max_messages, self.config.codetrace_max_participants)
        # Diagrams need mermaid's JavaScript: HTML only. Other builders (LaTeX, text) get the step table.
        diagrams = addnodes.only(expr="html")
        if spec.diagram in ("sequence", "both"):
            code = sequence_diagram(trace, spec.group_by, spec.hide, budget, link)
            diagrams += self._mermaid(code, f"{spec.title}: sequence diagram")
        if spec.diagram in ("flowchart", "both"):
            code = flowchart(trace, spec.group_by, link, spec.hide)
            diagrams += self._mermaid(code, f"{spec.title}: call graph")
        box += diagrams
        if trace.truncated:
            why = (
                f"the time budget of {self.config.codetrace_time_budget} s"
                if trace.truncation == "time budget"
                else f":max-steps: {spec.max_steps}"
            )
            box += nodes.paragraph(
                text=f"Truncated: the trace stopped after {len(trace.steps)} steps ({why}).",
                classes=["codetrace-truncated"],
            )
        if spec.caption:
            box += nodes.paragraph(text=spec.caption, classes=["codetrace-caption"])
        serial = self.env.new_serialno("codetrace")
        box += _table(step_rows(trace, link), f"codetrace-{serial}")
        return box

    def _mermaid(self, code: str, alt: str) -> nodes.Node:
        node = mermaid_node()
        node["code"] = code
        node["options"] = {}
        node["alt"] = alt
        self.set_source_info(node)
        return node


def _link_cell(label: str, url: str | None) -> nodes.entry:
    para = nodes.paragraph()
    if url:
        para += nodes.reference(label, label, refuri=url, internal=False)
    else:
        para += nodes.literal(label, label)
    return nodes.entry("", para)


def _text_cell(value: str, literal: bool = False) -> nodes.entry:
    para = nodes.paragraph()
    para += nodes.literal(value, value) if literal and value else nodes.Text(value)
    return nodes.entry("", para)


def _table(rows: list[StepRow], anchor: str) -> nodes.table:
    """The step table; row ``n`` has the id ``<anchor>-step-<n>`` so a step can be linked to."""
    headers = ("#", "Call", "Kind", "Data", "Call site", "Definition")
    widths = (4, 36, 14, 22, 18, 18)
    table = nodes.table(classes=["codetrace-steps"])
    group = nodes.tgroup(cols=len(headers))
    table += group
    for width in widths:
        group += nodes.colspec(colwidth=width)
    head = nodes.thead()
    row = nodes.row()
    for header in headers:
        row += _text_cell(header)
    head += row
    group += head
    body = nodes.tbody()
    for r in rows:
        row = nodes.row(ids=[f"{anchor}-step-{r.n}"])
        row += _text_cell(str(r.n))
        indent = "\u00a0\u00a0" * max(r.depth - 1, 0)
        call = nodes.entry()
        para = nodes.paragraph()
        para += nodes.Text(indent)
        para += nodes.literal(r.caller, r.caller)
        para += nodes.Text(" → ")
        para += nodes.literal(r.callee, r.callee)
        call += para
        row += call
        row += _text_cell(r.kind)
        row += _text_cell(r.data, literal=True)
        row += _link_cell(r.site.label, r.site.url)
        row += _link_cell(r.definition.label, r.definition.url) if r.definition else _text_cell("")
        body += row
    group += body
    return table


def _use_local_mermaid(app: Sphinx, config: Any) -> None:
    """Serve mermaid from this package (offline) unless the user chose a mermaid build themselves."""
    if config.codetrace_offline_mermaid and not config.mermaid_use_local:
        config.mermaid_use_local = MERMAID_SHIM
    if config.codetrace_offline_mermaid:
        static = list(config.html_static_path)
        if str(STATIC_DIR) not in static:
            config.html_static_path = [*static, str(STATIC_DIR)]


def _add_mermaid_script(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: nodes.document | None
) -> None:
    # The same test as sphinxcontrib-mermaid's: it loads mermaid on pages without a doctree (search, genindex)
    # too, and its module then imports our shim, which needs mermaid.min.js loaded first.
    if doctree is not None and not doctree.next_node(mermaid_node):
        return
    if app.config.mermaid_use_local == MERMAID_SHIM:
        app.add_js_file(MERMAID_JS, priority=400)
    if app.config.codetrace_offline_mermaid:  # our static dir is only added in that mode
        app.add_css_file("codetrace/codetrace.css")


def setup(app: Sphinx) -> dict[str, Any]:
    app.setup_extension("sphinxcontrib.mermaid")
    app.add_config_value("codetrace_repos", {}, "env", types=[dict])
    app.add_config_value("codetrace_cache_dir", None, "", types=[str, type(None)])
    app.add_config_value("codetrace_max_file_bytes", DEFAULT_MAX_FILE_BYTES, "env", types=[int])
    app.add_config_value("codetrace_offline_mermaid", True, "html", types=[bool])
    app.add_config_value("codetrace_lock_file", LOCK_FILE, "env", types=[str, type(None)])
    app.add_config_value("codetrace_time_budget", 120, "env", types=[int, float, type(None)])
    app.add_config_value("codetrace_max_messages", Budget().messages, "env", types=[int])
    app.add_config_value("codetrace_max_participants", Budget().participants, "env", types=[int])
    app.add_directive("codetrace", CodetraceDirective)
    app.connect("config-inited", _use_local_mermaid, priority=800)
    app.connect("builder-inited", _make_engine)
    app.connect("build-finished", _drop_engine)
    app.connect("html-page-context", _add_mermaid_script)
    freshness.setup(app)
    from . import __version__

    return {"version": __version__, "env_version": 2, "parallel_read_safe": True, "parallel_write_safe": True}
