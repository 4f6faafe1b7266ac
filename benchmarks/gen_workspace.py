"""Generate a synthetic Python workspace of a chosen size, with one flow of fixed size in it.

Usage: ``python benchmarks/gen_workspace.py OUT --functions N`` (``benchmarks/bench.py`` runs it for its
scale curve). The workspace is a package ``synth`` under ``OUT/src`` with a ``pyproject.toml``:

* ``synth.pkgNNN.modMM``: the filler, 50 functions and one class per module, 20 modules per package, as many
  packages as ``N`` needs. Functions call functions of their own module, of modules they import (``import
  synth.pkg003.mod07 as other``, ``from synth.pkg003.mod02 import func11``) and methods of the module's
  class; the classes derive from their package's base class, so class headers mention shared names.
* ``synth.core``: the flow, the same at every size. ``synth.core.entry.main`` builds a ``Pipeline`` of three
  ``Stage`` subclasses and runs it: a call on a declared ``Stage`` (its subclasses' overrides are candidates,
  found through the workspace-wide class-header index), chains of helper modules, and one call into the
  filler (``synth.pkg000.mod00.func00``), where :data:`FLOW` stops.

Output is deterministic for a given ``N`` (no randomness: the call pattern is arithmetic).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

FUNCTIONS_PER_MODULE = 50
MODULES_PER_PACKAGE = 20
HELPER_CHAIN = 8

#: The flow traced at every size: entry and options of the directive.
FLOW = ("synth.core.entry.main", {"depth": "12", "max-steps": "400", "stop-at": "synth.pkg*"})


def _filler_module(pkg: int, mod: int, packages: int) -> str:
    imported = (mod + 7) % MODULES_PER_PACKAGE
    named = (mod + 3) % MODULES_PER_PACKAGE
    far = (pkg + 1) % packages
    lines = [
        f'"""Filler module {mod} of package {pkg}."""',
        "",
        "from __future__ import annotations",
        "",
        f"import synth.pkg{far:03d}.mod{mod:02d} as far_away",
        f"import synth.pkg{pkg:03d}.mod{imported:02d} as other",
        f"from synth.pkg{pkg:03d}.base import Base{pkg:03d}",
        f"from synth.pkg{pkg:03d}.mod{named:02d} import func{(mod * 7) % FUNCTIONS_PER_MODULE:02d}",
        "",
        "",
        f"class Model{mod:02d}(Base{pkg:03d}):",
        "    def forward(self, x: int) -> int:",
        "        return self.scale(x) + 1",
        "",
        "    def scale(self, x: int) -> int:",
        "        return x * 2",
        "",
    ]
    for f in range(FUNCTIONS_PER_MODULE):
        nxt = (f + 1) % FUNCTIONS_PER_MODULE
        lines += [
            "",
            f"def func{f:02d}(x: int) -> int:",
            f"    y = func{nxt:02d}(x - 1) if x > 0 else x",
        ]
        if f % 5 == 0:
            lines.append(f"    y += other.func{(f + 3) % FUNCTIONS_PER_MODULE:02d}(y)")
        if f % 10 == 1:
            lines.append(f"    y += func{(mod * 7) % FUNCTIONS_PER_MODULE:02d}(y) + far_away.func{f:02d}(0)")
        if f % 10 == 2:
            lines.append(f"    y += Model{mod:02d}().forward(y)")
        lines.append("    return y")
        lines.append("")
    return "\n".join(lines)


def _base_module(pkg: int) -> str:
    return f'''"""Base class of package {pkg}."""


class Base{pkg:03d}:
    def forward(self, x: int) -> int:
        return x
'''


CORE: dict[str, str] = {
    "__init__.py": '"""The flow traced at every size."""\n',
    "base.py": '''"""Stages of the pipeline."""

from __future__ import annotations


class Stage:
    def run(self, item: int) -> int:
        return item
''',
    "stages.py": '''"""Three stages."""

from __future__ import annotations

from synth.core import helpers_0
from synth.core.base import Stage


class Parse(Stage):
    def run(self, item: int) -> int:
        return helpers_0.step(item)


class Enrich(Stage):
    def run(self, item: int) -> int:
        return self.extra(item) + 1

    def extra(self, item: int) -> int:
        return helpers_0.step(item * 2)


class Store(Stage):
    def run(self, item: int) -> int:
        self.flush(item)
        return item

    def flush(self, item: int) -> None:
        if item < 0:
            raise ValueError(item)
''',
    "pipeline.py": '''"""The pipeline: runs each stage on a declared ``Stage``."""

from __future__ import annotations

from synth.core.base import Stage
from synth.pkg000.mod00 import func00


class Pipeline:
    def __init__(self, stages: list[Stage]) -> None:
        self.stages = stages

    def run(self, item: int) -> int:
        for stage in self.stages:
            item = stage.run(item)
        return self.finish(item)

    def finish(self, item: int) -> int:
        return func00(item)
''',
    "entry.py": '''"""Where the flow starts."""

from __future__ import annotations

from synth.core import stages
from synth.core.pipeline import Pipeline


def main(n: int) -> int:
    pipe = Pipeline([stages.Parse(), stages.Enrich(), stages.Store()])
    return pipe.run(n)
''',
}


def _helper(k: int) -> str:
    if k + 1 < HELPER_CHAIN:
        body = f"from synth.core import helpers_{k + 1}\n\n\ndef step(x: int) -> int:\n    return helpers_{k + 1}.step(x + 1)\n"
    else:
        body = "def step(x: int) -> int:\n    return x\n"
    return f'"""Helper {k} of the chain."""\n\nfrom __future__ import annotations\n\n{body}'


def generate(out: Path, functions: int) -> dict[str, int]:
    """Write the workspace into ``out`` (emptied first); returns counts of files and functions."""
    if out.exists():
        shutil.rmtree(out)
    src = out / "src" / "synth"
    src.mkdir(parents=True)
    (out / "pyproject.toml").write_text('[project]\nname = "synth"\nversion = "0"\n')
    (src / "__init__.py").write_text('"""A generated workspace."""\n')
    core = src / "core"
    core.mkdir()
    for name, text in CORE.items():
        (core / name).write_text(text)
    for k in range(HELPER_CHAIN):
        (core / f"helpers_{k}.py").write_text(_helper(k))
    per_package = FUNCTIONS_PER_MODULE * MODULES_PER_PACKAGE
    packages = max(1, -(-functions // per_package))
    files = 2 + len(CORE) + HELPER_CHAIN
    for pkg in range(packages):
        folder = src / f"pkg{pkg:03d}"
        folder.mkdir()
        (folder / "__init__.py").write_text("")
        (folder / "base.py").write_text(_base_module(pkg))
        for mod in range(MODULES_PER_PACKAGE):
            (folder / f"mod{mod:02d}.py").write_text(_filler_module(pkg, mod, packages))
        files += 2 + MODULES_PER_PACKAGE
    return {"files": files, "functions": packages * per_package, "packages": packages}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--functions", type=int, default=1000)
    args = parser.parse_args(argv)
    counts = generate(args.out, args.functions)
    print(f"{args.out}: {counts['functions']} functions in {counts['files']} files ({counts['packages']} packages)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
