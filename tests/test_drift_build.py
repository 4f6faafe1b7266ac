"""Docs that fail on purpose when the code moves: a fixture repo changed between two builds.

tests/roots/test-drift documents a small shop (``place_order`` calls ``stock.reserve``, ``payments.charge``,
``mail.notify``) with ``:expect:``, ``:stop-at:``, ``:name:`` and a lock file written by ``lock``. Each test
applies one kind of change (lines shifted, a call removed, a call added, a function renamed, a function
moved), rebuilds incrementally, and checks the exact warnings of the Sphinx build and the exact lines of
``python -m sphinxext.codetrace check``; then ``lock --update`` accepts the change.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from sphinxext.codetrace.cli import main
from sphinxext.codetrace.docs_check import accept_command

ANSI = re.compile(r"\x1b\[[0-9;]*m")
PLACING = "index#Placing an order"
STOCK = "index#Up to the stock"


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, (path, old)
    path.write_text(text.replace(old, new), encoding="utf-8")


def _touch_later(*paths: Path) -> None:
    for path in paths:
        later = path.stat().st_mtime + 10
        os.utime(path, (later, later))


def shift(shop: Path) -> None:
    _edit(shop / "orders.py", "from .mail", '"""Orders."""\n\n# lines shifted\n\nfrom .mail')
    _edit(shop / "payments.py", "def charge", '"""Payments."""\n\n\ndef charge')


def remove_call(shop: Path) -> None:
    _edit(shop / "orders.py", "    notify(order_id)\n", "")


def add_call(shop: Path) -> None:
    _edit(shop / "orders.py", "    charge(order_id)\n", "    charge(order_id)\n    audit(order_id)\n")
    _edit(
        shop / "orders.py",
        "    notify(order_id)\n",
        "    notify(order_id)\n\n\ndef audit(order_id: str) -> None:\n    pass\n",
    )


def rename(shop: Path) -> None:
    _edit(shop / "payments.py", "def charge(", "def charge_card(")
    _edit(shop / "orders.py", "import charge", "import charge_card")
    _edit(shop / "orders.py", "    charge(order_id)", "    charge_card(order_id)")


def move(shop: Path) -> None:
    (shop / "inventory.py").write_text((shop / "stock.py").read_text(encoding="utf-8"), encoding="utf-8")
    (shop / "stock.py").unlink()
    _edit(shop / "orders.py", "from .stock import", "from .inventory import")


# The exact output of each change. CHECK: the lines of `check DOCS_DIR` (one per problem). BUILD: the Sphinx
# warnings (the lock drift carries its diff on the following lines). AFTER: the warnings left once
# `lock --update` accepted the change (:expect: and missing names are not the lock's business).

EXPECT_NOTIFY = (
    "index.rst:4: {kind}:expect: 'shop.mail.notify' (waypoint 3 of 3) is not reached after 'shop.payments.charge' "
    "(step 2); from there the trace goes to: shop.payments._gateway (hint: if the code change is intended, update "
    ":expect:){sub}"
)
EXPECT_CHARGE = (
    "index.rst:4: {kind}:expect: 'shop.payments.charge' (waypoint 2 of 3) is not reached after 'shop.stock.reserve' "
    "(step 1); from there the trace goes to: shop.payments.charge_card, shop.payments._gateway, shop.mail.notify "
    "(hint: if the code change is intended, update :expect:){sub}"
)
EXPECT_RESERVE = (
    "index.rst:4: {kind}:expect: 'shop.stock.reserve' (waypoint 1 of 3) is not reached after the entry "
    "'shop.orders.place_order'; from there the trace goes to: shop.inventory.reserve, shop.payments.charge, "
    "shop.payments._gateway, shop.mail.notify (hint: if the code change is intended, update :expect:){sub}"
)
ENTRY_CHARGE = (
    "index.rst:8: {kind}entry 'shop.payments.charge': 'shop.payments' has no definition 'charge' "
    "(hint: did you mean: charge_card?){sub}"
)
ENTRY_RESERVE = (
    "index.rst:17: {kind}entry 'shop.stock.reserve': 'shop.stock.reserve' not found "
    "(hint: did you mean: shop.inventory.reserve?){sub}"
)
STOP_RESERVE = (
    "index.rst:12: {kind}:stop-at: 'shop.stock.reserve' names nothing in the configured repos "
    "(hint: did you mean: shop.inventory.reserve?){sub}"
)


def _subtype(text: str) -> str:
    return "drift" if ":expect:" in text else "unresolved"


def _check(text: str) -> str:
    return text.format(kind=f"codetrace.{_subtype(text)}: ", sub="")


def _build(text: str) -> str:
    return text.format(kind="WARNING: ", sub=f" [codetrace.{_subtype(text)}]")


def _lock_check(line: int, key: str, summary: str, inline: str) -> str:
    return (
        f"index.rst:{line}: codetrace.drift: flow {key!r} changed since codetrace.lock.json was written ({summary}): "
        f"{inline} (hint: if intended, accept it with: ACCEPT)"
    )


def _lock_build(line: int, key: str, summary: str, diff: list[str]) -> str:
    body = "\n".join("    " + d for d in diff)
    return (
        f"index.rst:{line}: WARNING: flow {key!r} changed since codetrace.lock.json was written ({summary}); "
        f"if intended, accept it with: ACCEPT\n{body} [codetrace.drift]"
    )


P = "shop.orders.place_order"
RESERVE = f"{P} -> shop.stock.reserve (shop:src/shop/stock.py)"
CHARGE = f"{P} -> shop.payments.charge (shop:src/shop/payments.py)"
GATEWAY = "  shop.payments.charge -> shop.payments._gateway (shop:src/shop/payments.py)"
NOTIFY = f"{P} -> shop.mail.notify (shop:src/shop/mail.py)"
AUDIT = f"{P} -> shop.orders.audit (shop:src/shop/orders.py)"
CARD = f"{P} -> shop.payments.charge_card (shop:src/shop/payments.py)"
CARD_GATEWAY = "  shop.payments.charge_card -> shop.payments._gateway (shop:src/shop/payments.py)"
INVENTORY = f"{P} -> shop.inventory.reserve (shop:src/shop/inventory.py)"
ENTRY = f"entry {P} (shop:src/shop/orders.py)"

CASES = {
    "lines shifted": (shift, [], [], []),
    "call removed": (
        remove_call,
        [
            _check(EXPECT_NOTIFY),
            _lock_check(4, PLACING, "1 step removed", f"- {NOTIFY}"),
            _lock_check(12, STOCK, "1 step removed", f"- {NOTIFY}"),
        ],
        [
            _build(EXPECT_NOTIFY),
            _lock_build(4, PLACING, "1 step removed", [f" {GATEWAY}", f"-{NOTIFY}"]),
            _lock_build(12, STOCK, "1 step removed", [f" {CHARGE}", f"-{NOTIFY}"]),
        ],
        [_build(EXPECT_NOTIFY)],
    ),
    "call added": (
        add_call,
        [
            _lock_check(4, PLACING, "1 step added", f"+ {AUDIT}"),
            _lock_check(12, STOCK, "1 step added", f"+ {AUDIT}"),
        ],
        [
            _lock_build(4, PLACING, "1 step added", [f" {GATEWAY}", f"+{AUDIT}", f" {NOTIFY}"]),
            _lock_build(12, STOCK, "1 step added", [f" {CHARGE}", f"+{AUDIT}", f" {NOTIFY}"]),
        ],
        [],
    ),
    "function renamed": (
        rename,
        [
            _check(EXPECT_CHARGE),
            _lock_check(
                4,
                PLACING,
                "2 steps removed, 2 added",
                f"- {CHARGE}; - {GATEWAY.strip()}; + {CARD}; + {CARD_GATEWAY.strip()}",
            ),
            _check(ENTRY_CHARGE),
            _lock_check(12, STOCK, "1 step removed, 1 added", f"- {CHARGE}; + {CARD}"),
        ],
        [
            _build(EXPECT_CHARGE),
            _lock_build(
                4,
                PLACING,
                "2 steps removed, 2 added",
                [f" {RESERVE}", f"-{CHARGE}", f"-{GATEWAY}", f"+{CARD}", f"+{CARD_GATEWAY}", f" {NOTIFY}"],
            ),
            _build(ENTRY_CHARGE),
            _lock_build(12, STOCK, "1 step removed, 1 added", [f" {RESERVE}", f"-{CHARGE}", f"+{CARD}", f" {NOTIFY}"]),
        ],
        [_build(EXPECT_CHARGE), _build(ENTRY_CHARGE)],
    ),
    "function moved": (
        move,
        [
            _check(EXPECT_RESERVE),
            _lock_check(4, PLACING, "1 step removed, 1 added", f"- {RESERVE}; + {INVENTORY}"),
            _check(STOP_RESERVE),
            _lock_check(12, STOCK, "1 step removed, 1 added", f"- {RESERVE}; + {INVENTORY}"),
            _check(ENTRY_RESERVE),
        ],
        [
            _build(EXPECT_RESERVE),
            _lock_build(
                4, PLACING, "1 step removed, 1 added", [f" {ENTRY}", f"-{RESERVE}", f"+{INVENTORY}", f" {CHARGE}"]
            ),
            _build(STOP_RESERVE),
            _lock_build(
                12, STOCK, "1 step removed, 1 added", [f" {ENTRY}", f"-{RESERVE}", f"+{INVENTORY}", f" {CHARGE}"]
            ),
            _build(ENTRY_RESERVE),
        ],
        [_build(EXPECT_RESERVE), _build(STOP_RESERVE), _build(ENTRY_RESERVE)],
    ),
}


@pytest.fixture
def docs(make_app, tmp_path, rootdir, capsys):
    src = tmp_path / "drift"
    shutil.copytree(rootdir / "test-drift", src)
    accept = accept_command(src)

    def normalise(text: str) -> str:
        return ANSI.sub("", text).replace(accept, "ACCEPT").replace(f"{src}/", "")

    def build() -> tuple[list[str], str]:
        app = make_app("html", srcdir=src)
        app.build()
        app.cleanup()  # restore docutils' global registries, or the next app warns "already registered"
        text = normalise(app.warning.getvalue()).strip()
        return (re.split(r"\n(?=index\.rst:\d+: )", text) if text else []), normalise(app.status.getvalue())

    def cli(*argv: str) -> tuple[int, list[str], str]:
        code = main([*argv, str(src)])
        out, err = capsys.readouterr()
        return code, normalise(out).splitlines(), normalise(err)

    return src, build, cli


@pytest.mark.parametrize("kind", list(CASES))
def test_each_change_gives_its_exact_warnings(docs, kind: str) -> None:
    src, build, cli = docs
    change, check_lines, build_warnings, after_update = CASES[kind]
    code, out, err = cli("lock")
    assert (code, out) == (0, [])
    assert "wrote codetrace.lock.json: 4 added, 0 updated, 0 removed" in err
    locked = (src / "codetrace.lock.json").read_bytes()
    assert build()[0] == []
    assert cli("check")[:2] == (0, [])

    shop = src / "repo" / "src" / "shop"
    change(shop)
    _touch_later(*shop.glob("*.py"))
    warnings, status = build()
    assert "1 changed" in status  # the traced sources are dependencies: the page was read again
    assert warnings == build_warnings
    code, out, err = cli("check")
    assert out == check_lines
    assert code == (1 if check_lines else 0)
    assert f"4 flows checked, {len(check_lines)} problem" in err

    # `lock` without --update refuses to change a locked flow; with it, the change is accepted.
    code, out, _ = cli("lock")
    drifted = [line for line in check_lines if "changed since codetrace.lock.json" in line]
    failed = [line for line in check_lines if "codetrace.unresolved: entry '" in line]
    assert [line for line in out if not line.startswith("    ")] == sorted(drifted + failed, key=_line_number)
    assert code == (1 if drifted or failed else 0)
    code, out, err = cli("lock", "--update")
    assert out == failed and code == (1 if failed else 0)
    if kind == "lines shifted":
        assert "codetrace.lock.json is up to date" in err
        assert (src / "codetrace.lock.json").read_bytes() == locked  # line moves change nothing
    _touch_later(src / "codetrace.lock.json")
    warnings, status = build()
    assert warnings == after_update
    assert "1 changed" in status  # the lock file is a dependency of the page


def _line_number(line: str) -> int:
    return int(line.split(":")[1])


def test_lock_file_format(docs) -> None:
    src, _build, cli = docs
    assert cli("lock")[0] == 0
    data = json.loads((src / "codetrace.lock.json").read_text(encoding="utf-8"))
    assert data["schema"] == "codetrace.lock/1"
    assert sorted(data["flows"]) == list(data["flows"]) == [PLACING, "index#Reserving", STOCK, "index#charge"]
    assert data["flows"][PLACING]["steps"] == [ENTRY, RESERVE, CHARGE, GATEWAY, NOTIFY]
    assert data["flows"]["index#charge"]["steps"] == [
        "entry shop.payments.charge (shop:src/shop/payments.py)",
        "shop.payments.charge -> shop.payments._gateway (shop:src/shop/payments.py)",
    ]
    assert data["flows"][STOCK]["steps"] == [ENTRY, RESERVE, CHARGE, NOTIFY]


def test_new_and_removed_flows_and_duplicate_keys(docs) -> None:
    src, build, cli = docs
    assert cli("lock")[0] == 0
    index = src / "index.rst"
    _edit(index, ".. codetrace:: Reserving\n   :entry: shop.stock.reserve\n", "")
    index.write_text(
        index.read_text(encoding="utf-8")
        + "\n.. codetrace:: Mail\n   :entry: shop.mail.notify\n\n.. codetrace:: Mail\n   :entry: shop.mail.notify\n"
    )
    code, out, _ = cli("check")
    assert code == 1
    not_locked = "codetrace.drift: flow 'index#Mail' is not in codetrace.lock.json (hint: record it with: ACCEPT)"
    assert out == [
        f"index.rst:18: {not_locked}",
        "index.rst:21: codetrace.spec: flow key 'index#Mail' is also used at index.rst:18 "
        "(hint: give one of them a :name: (lock files key flows by document and title))",
        f"index.rst:21: {not_locked}",
        "codetrace.lock.json: codetrace.drift: flow 'index#Reserving' is in the lock but no directive has that key "
        "(hint: drop it: ACCEPT)",
    ]
    warnings, _ = build()
    assert any("flow key 'index#Mail' is also used at line 18 " in w and "[codetrace.spec]" in w for w in warnings)
    code, out, err = cli("lock", "--update")
    assert code == 1 and out == [
        "index.rst:21: codetrace.spec: flow key 'index#Mail' is also used at index.rst:18 "
        "(hint: give one of them a :name: (lock files key flows by document and title))"
    ]
    assert "1 added, 0 updated, 1 removed" in err
    assert sorted(json.loads((src / "codetrace.lock.json").read_text())["flows"]) == [
        "index#Mail",
        PLACING,
        STOCK,
        "index#charge",
    ]


def test_check_without_a_lock_and_bad_docs_dirs(docs, tmp_path: Path) -> None:
    _src, _build, cli = docs
    assert cli("check") == (0, [], "codetrace: 4 flows checked, 0 problems\n")
    assert main(["check", str(tmp_path / "nowhere")]) == 2
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "conf.py").write_text("raise RuntimeError('boom')\n")
    assert main(["lock", str(broken)]) == 2


def test_check_diff_prints_the_changed_steps_under_the_line(docs) -> None:
    src, _build, cli = docs
    assert cli("lock")[0] == 0
    remove_call(src / "repo" / "src" / "shop")
    code, out, _ = cli("check", "--diff")
    assert code == 1
    assert out == [
        _check(EXPECT_NOTIFY),
        _lock_check(4, PLACING, "1 step removed", f"- {NOTIFY}"),
        f"     {GATEWAY}",
        f"    -{NOTIFY}",
        _lock_check(12, STOCK, "1 step removed", f"- {NOTIFY}"),
        f"     {CHARGE}",
        f"    -{NOTIFY}",
    ]
