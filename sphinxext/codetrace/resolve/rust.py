"""Rust resolution: from a call site's chain to the function it calls, over the facts of a Cargo workspace.

On first use for a repository the resolver finds its crates (:mod:`sphinxext.codetrace.cargo`), builds each
crate's module tree from its root file (``mod x;`` to ``x.rs`` or ``x/mod.rs``, inline ``mod x { }``,
``#[path = ".."]``; a module declared twice under different ``#[cfg]`` has both files) and indexes every
``impl`` block of the repository by self type and trait. Names are looked up the way Rust scopes them:
items and ``use`` declarations of the enclosing function bodies, generic parameters, the module's items and
imports (``pub use`` re-exports and globs followed, across crates), extern crates (workspace crates by name,
renamed dependencies), then the prelude; any other first segment is an external crate.

Method calls use light type inference: parameter types (through ``&``, ``Box``, ``Arc``, ``Rc``, ``Pin``,
guards), ``self``, ``let x: T``, ``let x = T::new(..)`` / ``T { .. }`` / a call with a known return type,
struct field types (with generic arguments), generic type aliases (their arguments substituted for their
parameters), ``?`` / ``.unwrap()`` / ``.await`` through ``Result``, ``Option`` and futures, ``Deref`` impls.
A trait method on ``dyn Trait``, ``impl Trait`` or a generic bound resolves to the set of impls of that trait
in the repository (resolution ``candidates``); for a generic trait with known arguments (``dyn Op<A, B>``),
the impls whose written arguments can be those. A ``send`` on a channel sender is a queue hand-off to the
code that receives from the same ``channel()`` call (the receiver followed into the functions it is handed
to); a sender stored in a struct field, in a ``Vec`` field (filled by ``push`` in a loop), or received as a
parameter (every non-test caller passing an end of the same channel) is followed back to that call.

Calls into crates outside the repository (``std``, ``tokio``...) are external; common plumbing (``Some``,
``Arc::new``, ``.clone()``, ``.unwrap()``...) is external and quiet (not drawn). A method whose receiver type
is unknown is external only when no impl or trait in the repository defines a method of that name; otherwise
it is unresolved, with its source text. Nothing is guessed: no candidate set is made from names alone.

It does not expand macros (beyond the simple ``macro_rules!`` the index expands), evaluate ``cfg``, follow blanket impls (``impl<T: A> B for T``), closures passed as
arguments or trait objects built far from their use.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ..cargo import Crate, discover_crates
from ..diagnostics import CodetraceError, suggest
from ..index import Index
from ..model import Binding, CallSite, Definition, FileFacts, Import, Lang, Loc, Resolution, StepKind
from ..workspace import SKIP_DIRS, Deps, Workspace
from . import Outcome
from .rust_types import TypeExpr, parse_bounds, parse_type


def _words(text: str) -> frozenset[str]:
    """A set of names written as a whitespace-separated word list."""
    return frozenset(text.split())


# -- policy tables -------------------------------------------------------------------------------------------

#: The std prelude (and a few std items the prelude re-exports) by name: external, never looked up further.
PRELUDE = _words(
    """Some None Ok Err Option Result Box Vec String ToString ToOwned Clone Copy Default Drop Eq PartialEq
    Ord PartialOrd Iterator IntoIterator Extend FromIterator From Into TryFrom TryInto AsRef AsMut Fn
    FnMut FnOnce Send Sync Sized Unpin Debug drop std core alloc u8 u16 u32 u64 u128 usize i8 i16 i32
    i64 i128 isize f32 f64 bool char str"""
)
#: External calls left out of traces (they carry no flow): constructors of plain values, conversions...
QUIET_CALLS = _words(
    """Some Ok Err None drop Default::default Box::new Box::pin Arc::new Arc::clone Rc::new Rc::clone
    String::new String::from Vec::new Vec::with_capacity HashMap::new HashSet::new BTreeMap::new
    HashMap::with_capacity Mutex::new RwLock::new RefCell::new Cell::new Duration::from_secs
    Duration::from_millis Duration::from_micros Duration::from_nanos Duration::from_secs_f64
    Instant::now Pin::new AtomicBool::new AtomicU64::new AtomicUsize::new PhantomData From::from
    Into::into"""
)
#: External method names that are plumbing (conversions, containers, Option/Result adapters): quiet.
QUIET_METHODS = _words(
    """clone to_string to_owned into try_into as_ref as_mut as_str as_slice as_bytes borrow borrow_mut
    deref deref_mut unwrap expect unwrap_or unwrap_or_else unwrap_or_default ok err is_ok is_err is_some
    is_none map map_err and_then ok_or ok_or_else context with_context iter iter_mut into_iter collect
    len is_empty push push_str push_back push_front pop pop_front pop_back insert remove get get_mut
    contains contains_key extend entry or_insert or_insert_with or_default keys values values_mut first
    last cloned copied filter filter_map find any all enumerate zip take skip rev sum count min max sort
    sort_by sort_by_key join split trim starts_with ends_with parse lock read write load store fetch_add
    fetch_sub fetch_max swap to_vec as_deref as_deref_mut then then_some unwrap_or_else map_or
    map_or_else flatten flat_map chain fold for_each retain clear drain truncate split_off as_secs
    as_millis elapsed duration_since format fmt eq ne cmp partial_cmp hash default replace take
    get_or_insert_with try_lock blocking_lock lock_owned upgrade downgrade strong_count inspect
    inspect_err last_mut first_mut unwrap_unchecked expect_err unwrap_err chars bytes lines to_lowercase
    to_uppercase with_capacity capacity reserve extend_from_slice windows chunks position max_by_key
    min_by_key peekable step_by as_ptr instrument in_current_span boxed fuse with_current_subscriber
    wrapping_add wrapping_sub wrapping_mul saturating_add saturating_sub saturating_mul checked_add
    checked_sub checked_mul checked_div pow abs signum rotate_left rotate_right leading_zeros
    trailing_zeros to_le_bytes to_be_bytes from_le_bytes from_be_bytes"""
)
#: Types that deref to their first generic argument for method and field lookup.
DEREF_TYPES = _words(
    """Box Arc Rc Pin Cow MutexGuard RwLockReadGuard RwLockWriteGuard Ref RefMut ManuallyDrop
    OwnedMutexGuard OwnedRwLockReadGuard OwnedRwLockWriteGuard MappedMutexGuard Lazy LazyLock LazyCell
    AssertUnwindSafe ArcSwap"""
)
#: Cells whose accessor methods give their content.
CELL_TYPES = _words("""Mutex RwLock RefCell Cell OnceCell OnceLock UnsafeCell ArcSwapOption Watch""")
CELL_ACCESSORS = _words(
    """lock read write try_lock try_read try_write blocking_lock blocking_read blocking_write lock_owned
    read_owned write_owned borrow borrow_mut get get_mut get_or_init get_or_try_init load load_full"""
)
OPTION_TYPES = frozenset({"LockResult", "Option", "Result", "TryLockResult"})
UNWRAP_METHODS = _words("""unwrap expect unwrap_or unwrap_or_else unwrap_or_default unwrap_unchecked""")
KEEP_METHODS = _words(
    """map_err context with_context as_ref as_mut as_deref as_deref_mut cloned copied ok_or ok_or_else ok
    take clone inspect inspect_err or or_else by_ref"""
)
SEQ_TYPES = _words("""Vec VecDeque SmallVec HashSet BTreeSet IndexSet LinkedList BinaryHeap Seq Iter""")
MAP_TYPES = frozenset({"AHashMap", "BTreeMap", "DashMap", "FxHashMap", "HashMap", "IndexMap"})
FUTURE_TYPES = frozenset({"BoxFuture", "Future", "IntoFuture", "JoinHandle"})
#: ``channel()``-like constructors returning ``(sender, receiver)``.
CHANNEL_FNS = frozenset({"bounded", "channel", "sync_channel", "unbounded", "unbounded_channel"})
SENDER_TYPES = frozenset({"Sender", "SyncSender", "UnboundedSender", "WeakSender"})
SEND_METHODS = _words("""blocking_send send send_async send_blocking send_timeout try_send unbounded_send""")
RECV_METHODS = _words("""blocking_recv changed next recv recv_async recv_many recv_timeout try_recv""")
_DEDUPE = re.compile(r"#\d+")


def _display(qualname: str) -> str:
    return _DEDUPE.sub("", qualname)


def _last(path: str) -> str:
    return path.rpartition("::")[2]


# -- symbols, types, values ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RustSymbol:
    """A Rust item of the workspace: where it is written, the module it lives in, its qualified name.

    ``module`` is the crate path of the module (``dynamo_llm::kv_router``, inline modules included);
    ``owner`` the qualified self type of a method (the trait for a trait's own methods), ``""`` otherwise;
    ``qualname`` is ``owner::method`` for methods and ``module::name`` for other items.
    """

    repo: str
    path: str
    module: str
    definition: Definition
    owner: str = ""
    qualname: str = ""

    def loc(self) -> Loc:
        owner = self.owner or (self.qualname if self.definition.kind == "class" else "")
        return Loc(self.repo, self.path, self.definition.line, self.qualname, Lang.RUST, self.module, owner)


@dataclass(frozen=True, slots=True)
class WsTy:
    """A struct, enum, union or trait of the workspace (a trait as a type is a trait object)."""

    sym: RustSymbol
    args: tuple[Ty, ...] = ()


@dataclass(frozen=True, slots=True)
class ExtTy:
    """A type outside the workspace, by path as resolved (``std::sync::Arc``, ``Vec``, ``()`` for tuples,
    ``[]`` for slices, ``Seq`` for iterators)."""

    path: str
    args: tuple[Ty, ...] = ()

    @property
    def last(self) -> str:
        return _last(self.path)


@dataclass(frozen=True, slots=True)
class DynTy:
    """``dyn A + B``, ``impl A``, or a generic parameter bounded by traits: any implementor. ``args`` holds,
    for each of ``traits``, its generic arguments as written (``dyn Op<Req, Resp>``); empty when none are."""

    traits: tuple[RustSymbol, ...] = ()
    ext: tuple[str, ...] = ()
    args: tuple[tuple[Ty, ...], ...] = ()


Ty = WsTy | ExtTy | DynTy
#: A type nothing is known about (a generic parameter seen from a call site).
_UNKNOWN = DynTy()


@dataclass(eq=False)
class _Module:
    name: str  # display path: ``dynamo_llm::kv_router``
    crate: _Crate
    parent: _Module | None
    parts: list[tuple[str, str]] = field(default_factory=list)  # (file, inline prefix): where it is written
    children: dict[str, _Module] = field(default_factory=dict)


@dataclass(eq=False)
class _Crate:
    crate: Crate
    repo: str
    root: _Module | None = None


@dataclass(frozen=True, eq=False)
class ModV:
    module: _Module


@dataclass(frozen=True, slots=True)
class ItemV:
    sym: RustSymbol


@dataclass(frozen=True, slots=True)
class InstV:
    """A value of type ``ty``; ``alias`` is the generic type alias (``type E<T> = Arc<dyn A<T>>``) that named
    the type, when it did: its arguments are substituted for its parameters where it is used with some."""

    ty: Ty
    alias: RustSymbol | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class ExtV:
    path: str


@dataclass(frozen=True, slots=True)
class GenV:
    """A type that is only known by its bounds, used as a path: ``T::new()``, ``Self::m()`` in a trait."""

    ty: DynTy


@dataclass(frozen=True, slots=True)
class QualV:
    """``<T as Trait>``: a type seen through one trait."""

    ty: Ty | None
    trait: RustSymbol


@dataclass(frozen=True, slots=True)
class ChanV:
    """One end of the channel made by the ``channel()`` call bound at ``(repo, path, scope, line)``; with
    ``many``, a collection of such ends (``Vec<Sender<T>>`` filled in a loop): an element is one of them."""

    chan: tuple[str, str, str, int]
    side: str  # "tx" | "rx"
    many: bool = False


@dataclass(frozen=True, slots=True)
class ClosureV:
    pass


Value = ModV | ItemV | InstV | ExtV | GenV | QualV | ChanV | ClosureV
_RANK = {Resolution.DIRECT: 0, Resolution.IMPORT: 1, Resolution.TYPED: 2, Resolution.INHERITED: 3}


def _weaker(a: Resolution, b: Resolution) -> Resolution:
    if a not in _RANK:
        return a
    if b not in _RANK:
        return b
    return a if _RANK[a] >= _RANK[b] else b


@dataclass
class _Impl:
    """An ``impl`` block, resolved: its self type key, its trait, its methods and associated types."""

    sym: RustSymbol
    key: object  # RustSymbol of the self type, "ext:Name", or None (blanket / unknown)
    trait: RustSymbol | None
    trait_ext: str
    methods: dict[str, RustSymbol]
    assoc: dict[str, Definition]


@dataclass
class _Ctx:
    """Where names in a definition resolve: its file, module, scope, ``Self`` and generic parameters."""

    repo: str
    path: str
    facts: FileFacts
    module: _Module | None
    scope: str
    self_ty: Ty | None = None
    self_trait: RustSymbol | None = None
    generics: dict[str, Ty] = field(default_factory=dict)


class _FileIndex:
    """Lookups over one file's facts, built once."""

    def __init__(self, facts: FileFacts) -> None:
        self.facts = facts
        self.by_qualname: dict[str, Definition] = {d.qualname: d for d in facts.definitions}
        self.items: dict[str, dict[str, list[Definition]]] = {}
        for d in facts.definitions:
            if d.kind in ("function", "class", "type", "value", "macro", "module", "module-file") and not d.in_class:
                self.items.setdefault(d.parent, {}).setdefault(_display(d.name), []).append(d)
        self.imports: dict[str, dict[str, list[Import]]] = {}
        self.stars: dict[str, list[Import]] = {}
        for imp in facts.imports:
            if imp.star:
                self.stars.setdefault(imp.scope, []).append(imp)
            else:
                self.imports.setdefault(imp.scope, {}).setdefault(imp.name, []).append(imp)
        self.bindings: dict[str, dict[str, list[Binding]]] = {}
        for b in facts.bindings:
            self.bindings.setdefault(b.scope, {}).setdefault(b.name, []).append(b)
        self.members: dict[str, list[Definition]] = {}
        for d in facts.definitions:
            if d.parent and (d.in_class or d.kind == "variant"):
                self.members.setdefault(d.parent, []).append(d)


class _World:
    """The crates of one repository: module trees, the file -> module map, impls by type and trait."""

    def __init__(self, resolver: RustResolver, repo: str, crates: tuple[Crate, ...] | None = None) -> None:
        self.resolver = resolver
        self.repo = repo
        root = resolver.workspace.repos[repo].root
        self.crates = [_Crate(c, repo) for c in (discover_crates(root) if crates is None else crates)]
        self.by_name: dict[str, _Crate] = {}
        for c in sorted(self.crates, key=lambda c: (c.crate.kind != "lib", c.crate.root)):
            self.by_name.setdefault(c.crate.name, c)
        self.parts: dict[str, list[tuple[str, _Module]]] = {}  # file -> (prefix, module)
        self.files: set[str] = set()
        for crate in self.crates:
            self._build(crate)
        self._impls: list[_Impl] | None = None
        self.by_type: dict[object, list[_Impl]] = {}
        self.by_trait: dict[RustSymbol, list[_Impl]] = {}
        # method name -> who defines methods of that name: "inherent", "ws-trait", "ext:<Trait>" (an impl of
        # a trait outside the workspace), "blanket" (an impl whose self type is generic or unknown)
        self.method_kinds: dict[str, set[str]] = {}
        self.macro_named: set[str] = set()  # names mentioned by item-level macro invocations

    # -- module trees -----------------------------------------------------------------------------------------

    def _build(self, crate: _Crate) -> None:
        root = _Module(crate.crate.name, crate, None)
        crate.root = root
        queue: list[tuple[_Module, str, str, bool]] = [(root, crate.crate.root, "", True)]
        seen: set[tuple[str, str]] = set()
        while queue:
            module, path, prefix, mod_rs = queue.pop(0)
            if (path, prefix) in seen or len(seen) > 20000:
                continue
            seen.add((path, prefix))
            module.parts.append((path, prefix))
            self.parts.setdefault(path, []).append((prefix, module))
            self.files.add(path)
            facts = self.resolver.headers_of(self.repo, path)
            for d in facts.definitions:
                if d.parent != prefix or d.kind not in ("module", "module-file"):
                    continue
                name = _display(d.name)
                child = module.children.get(name)
                if child is None:
                    child = _Module(f"{module.name}::{name}", crate, module)
                    module.children[name] = child
                if d.kind == "module":
                    queue.append((child, path, d.qualname, mod_rs))
                    continue
                for file, child_mod_rs in self._module_files(path, prefix, mod_rs, name, d.decorators):
                    queue.append((child, file, "", child_mod_rs))

    def _module_files(
        self, path: str, prefix: str, mod_rs: bool, name: str, attrs: tuple[str, ...]
    ) -> list[tuple[str, bool]]:
        """Files a ``mod name;`` declared in ``path`` (inside inline modules ``prefix``) may live in."""
        repo = self.resolver.workspace.repos[self.repo]
        here = PurePosixPath(path)
        base = here.parent if mod_rs else here.parent / here.stem
        inline = [_display(p) for p in prefix.split("::")] if prefix else []
        explicit = next((m.group(1) for a in attrs if (m := re.match(r'#\[\s*path\s*=\s*"([^"]+)"\s*\]', a))), None)
        if explicit is not None:
            target = (here.parent if not inline else base.joinpath(*inline)) / explicit
            candidates = [(target, True)]
        else:
            folder = base.joinpath(*inline)
            candidates = [(folder / f"{name}.rs", False), (folder / name / "mod.rs", True)]
        out = []
        for candidate, child_mod_rs in candidates:
            parts = _normalise(candidate.parts)
            if parts is None:  # `#[path = "../../x.rs"]` climbing out of the repository
                repo.refuse(repo.root / candidate)
                continue
            normal = PurePosixPath(*parts)
            full = repo.root / str(normal)
            state = repo.probe(full)  # recorded: a mod file that appears changes the module tree
            if state == "outside":
                repo.refuse(full)  # a #[path] or mod file leading outside the repo: warned, not read
                continue
            if state == "file":
                out.append((normal.as_posix(), child_mod_rs))
                break
        return out

    def module_of(self, path: str, qualname: str) -> tuple[_Module | None, str]:
        """The module a definition of ``path`` is in, and that module's prefix in the file."""
        best: tuple[_Module | None, str] = (None, "")
        best_len = -1
        for prefix, module in self.parts.get(path, ()):
            if (not prefix or qualname == prefix or qualname.startswith(prefix + "::")) and len(prefix) > best_len:
                best, best_len = (module, prefix), len(prefix)
        return best

    def crate_named(self, name: str, origin: _Crate | None) -> _Crate | None:
        if origin is not None:
            for alias, real in origin.crate.deps:
                if alias == name:
                    return self.by_name.get(real)
        return self.by_name.get(name)

    def all_modules(self) -> Iterable[_Module]:
        for crate in self.crates:
            stack = [crate.root] if crate.root else []
            while stack:
                m = stack.pop()
                yield m
                stack.extend(m.children[k] for k in sorted(m.children, reverse=True))

    # -- impls ------------------------------------------------------------------------------------------------

    def impls(self) -> list[_Impl]:
        if self._impls is not None:
            return self._impls
        self._impls = []
        r = self.resolver
        for path in sorted(self.files):
            index = r.file_index(self.repo, path)
            facts = index.facts
            for d in facts.definitions:
                if d.kind == "function" and d.in_class and not d.self_type:  # a trait's own method
                    self.method_kinds.setdefault(_display(d.name), set()).add("ws-trait")
                if d.kind == "macro-use":
                    self.macro_named.update(d.bases)
                if d.kind != "impl":
                    continue
                sym = r.symbol(self.repo, path, d)
                ctx = r.ctx_for(sym)
                key: object = None
                self_ty = r.type_of(ctx, parse_type(d.self_type))
                if isinstance(self_ty, WsTy):
                    key = self_ty.sym
                elif isinstance(self_ty, ExtTy):
                    key = "ext:" + self_ty.last
                trait: RustSymbol | None = None
                trait_ext = ""
                if d.implements:
                    found = r.trait_of(ctx, parse_type(d.implements))
                    if isinstance(found, RustSymbol):
                        trait = found
                    else:
                        trait_ext = found or d.implements
                methods: dict[str, RustSymbol] = {}
                assoc: dict[str, Definition] = {}
                for m in facts.definitions:
                    if (
                        m.in_class
                        and m.self_type == d.self_type
                        and m.implements == d.implements
                        and d.line <= m.line <= d.end_line
                    ):
                        if m.kind == "function":
                            methods.setdefault(_display(m.name), r.symbol(self.repo, path, m))
                        elif m.kind == "type":
                            assoc.setdefault(_display(m.name), m)
                kind = "ws-trait" if trait is not None else f"ext:{_last(trait_ext)}" if trait_ext else "inherent"
                for name in methods:
                    kinds = self.method_kinds.setdefault(name, set())
                    kinds.add(kind)
                    if key is None:
                        kinds.add("blanket")
                if key is None and trait is not None:  # a blanket impl may rely on the trait's defaults
                    for m in r.file_index(trait.repo, trait.path).members.get(trait.definition.qualname, ()):
                        if m.kind == "function":
                            self.method_kinds.setdefault(_display(m.name), set()).add("blanket")
                impl = _Impl(sym, key, trait, trait_ext, methods, assoc)
                self._impls.append(impl)
                if key is not None:
                    self.by_type.setdefault(key, []).append(impl)
                if trait is not None:
                    self.by_trait.setdefault(trait, []).append(impl)
        return self._impls


def _crate_sources(root: Path, crates: tuple[Crate, ...]) -> list[str]:
    """The ``.rs`` files under the directories of the crates' root files (``src/``): the files their module
    trees are made of, and a few more (tests, benches...)."""
    found: set[str] = set()
    for top in sorted({(root / c.root).parent for c in crates}):
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
            rel = os.path.relpath(dirpath, root).replace(os.sep, "/")
            prefix = "" if rel == "." else rel + "/"
            found.update(prefix + name for name in filenames if name.endswith(".rs"))
    return sorted(found)


def _normalise(parts: tuple[str, ...]) -> list[str] | None:
    """``parts`` with ``.`` and ``..`` folded; None when ``..`` climbs above the repository root."""
    out: list[str] = []
    for p in parts:
        if p == "..":
            if not out:
                return None
            out.pop()
        elif p != ".":
            out.append(p)
    return out


# -- the resolver ----------------------------------------------------------------------------------------------


class RustResolver:
    """Resolves Rust entries and call sites over an :class:`~sphinxext.codetrace.index.Index`."""

    def __init__(self, workspace: Workspace, index: Index) -> None:
        self.workspace = workspace
        self.index = index
        self._worlds: dict[str, _World] = {}
        self._world_deps: dict[str, Deps] = {}
        self._file_index: dict[tuple[str, str], _FileIndex] = {}
        self._symbols: dict[tuple[str, str, str], RustSymbol] = {}
        self._ctx: dict[tuple[RustSymbol, RustSymbol | None], _Ctx] = {}
        self._types: dict[tuple[str, str, str, str], Ty | _AliasRef | None] = {}
        self._alias_types: dict[tuple[RustSymbol, tuple[Ty, ...]], Ty | None] = {}
        self._impl_args: dict[RustSymbol, tuple[Ty, ...]] = {}
        self._lookups: dict[tuple[int, str], list[tuple[Value, Resolution]]] = {}
        self._origins: dict[tuple[RustSymbol, str], ChanV | None] = {}
        self._calls_by_name: dict[tuple[str, str, str], list[tuple[str, CallSite]]] = {}
        self._depth = 0

    # -- facts and worlds -------------------------------------------------------------------------------------

    def facts_of(self, repo: str, path: str) -> FileFacts:
        """The full facts of a file: what its bodies do."""
        return self.index.facts(self.workspace.repos[repo], path)

    def headers_of(self, repo: str, path: str) -> FileFacts:
        """A file's items and imports (:meth:`.Index.headers`): enough for module trees, impls and names."""
        return self.index.headers(self.workspace.repos[repo], path)

    def file_index(self, repo: str, path: str, body: bool = False) -> _FileIndex:
        """Lookups over a file's facts: over its header facts until its full facts are loaded (names, items,
        impls, fields), over the full facts with ``body`` (locals, calls, spawned blocks and closures)."""
        key = (repo, path)
        found = self._file_index.get(key)
        facts = self.facts_of(repo, path) if body else self.headers_of(repo, path)
        if found is None or found.facts is not facts:
            found = _FileIndex(facts)
            self._file_index[key] = found
        return found

    def world(self, repo: str) -> _World:
        """The crates of ``repo``, built on first use. What the build read (the crates, every file of their
        module trees, the ``mod`` files it looked for) is recorded again for every computation that uses it."""
        found = self._worlds.get(repo)
        if found is None:
            r = self.workspace.repos[repo]
            with self.workspace.recording() as deps:
                r.note_scan("cargo")
                crates = discover_crates(r.root)
                # every file of the crates is needed: parse them up front, with progress shown
                self.index.prefetch(r, _crate_sources(r.root, crates), f"codetrace: indexing {repo} (Rust)... ")
                found = _World(self, repo, crates)
            for path in found.files:  # facts read before the build came from the index's memory
                deps.reads.setdefault((repo, path), r.digests.get(path) or r.content_digest(path))
            self._worlds[repo] = found
            self._world_deps[repo] = deps
        self.workspace.replay_once(self._world_deps[repo])
        return found

    # -- symbols ----------------------------------------------------------------------------------------------

    def symbol(self, repo: str, path: str, d: Definition) -> RustSymbol:
        key = (repo, path, d.qualname)
        found = self._symbols.get(key)
        if found is not None and (found.definition is d or found.definition == d):  # header or full facts
            return found
        module, prefix = self.world(repo).module_of(path, d.qualname)
        local = d.qualname[len(prefix) + 2 :] if prefix and d.qualname.startswith(prefix + "::") else d.qualname
        if prefix and d.qualname == prefix:
            local = ""
        mod_name = module.name if module is not None else PurePosixPath(path).stem
        owner = ""
        if d.in_class:
            parent_local = local.rpartition("::")[0]
            owner = f"{mod_name}::{_display(parent_local)}" if parent_local else mod_name
        found = RustSymbol(repo, path, mod_name, d, owner, "")
        self._symbols[key] = found  # placeholder while the owner type resolves (impls of impls)
        if d.in_class and d.self_type:
            ty = self.type_of(self._module_ctx(found), parse_type(d.self_type))
            if isinstance(ty, WsTy):
                owner = ty.sym.qualname
            elif isinstance(ty, ExtTy):
                owner = ty.path
        name = _display(d.name)
        qualname = f"{owner}::{name}" if owner else (f"{mod_name}::{_display(local)}" if local else mod_name)
        found = RustSymbol(repo, path, mod_name, d, owner, qualname)
        self._symbols[key] = found
        return found

    def _module_ctx(self, sym: RustSymbol) -> _Ctx:
        """Names as seen from the module (or fn body) an item is written in, without Self or generics."""
        d = sym.definition
        module, prefix = self.world(sym.repo).module_of(sym.path, d.qualname)
        scope = d.parent
        index = self.file_index(sym.repo, sym.path)
        while scope and scope != prefix:
            owner = index.by_qualname.get(scope)
            if owner is not None and owner.kind == "function":
                break
            scope = scope.rpartition("::")[0]
        return _Ctx(sym.repo, sym.path, index.facts, module, scope or prefix)

    def ctx_for(self, sym: RustSymbol, self_class: RustSymbol | None = None) -> _Ctx:
        """The context a definition's body (or an impl's header) resolves names in."""
        key = (sym, self_class)
        found = self._ctx.get(key)
        if found is not None:
            return found
        d = sym.definition
        index = self.file_index(sym.repo, sym.path, body=d.keyword in ("async-block", "closure"))
        module, prefix = self.world(sym.repo).module_of(sym.path, d.qualname)
        scope = d.qualname if d.kind in ("function", "impl") else d.parent
        ctx = _Ctx(sym.repo, sym.path, index.facts, module, scope if d.kind == "function" else d.parent or prefix)
        self._ctx[key] = ctx  # guards recursion while Self and bounds resolve
        # The definition carrying Self and bounds: the function, or the innermost function around a block.
        owner = d
        while owner.kind == "function" and owner.keyword in ("async-block", "closure"):
            parent = index.by_qualname.get(owner.parent)
            if parent is None:
                break
            owner = parent
        for bound in owner.bounds:
            name, _, rest = bound.partition(":")
            name = name.strip()
            if re.fullmatch(r"[A-Za-z_]\w*", name):
                ctx.generics[name] = self._bounds_ty(ctx, rest)
        if owner.in_class and owner.self_type:
            ctx.self_ty = self.type_of(ctx, parse_type(owner.self_type))
        elif owner.in_class:  # a trait's own method: Self is any implementor, unless the walk knows it
            trait_def = index.by_qualname.get(owner.parent)
            if trait_def is not None and trait_def.keyword == "trait":
                trait = self.symbol(sym.repo, sym.path, trait_def)
                ctx.self_trait = trait
                ctx.self_ty = WsTy(self_class) if self_class is not None else DynTy((trait,))
        elif d.kind == "impl":
            ctx.self_ty = self.type_of(ctx, parse_type(d.self_type))
        return ctx

    def _bounds_ty(self, ctx: _Ctx, text: str) -> DynTy:
        traits: list[RustSymbol] = []
        ext: list[str] = []
        args: list[tuple[Ty, ...]] = []
        for bound in parse_bounds(text):
            found = self.trait_of(ctx, bound)
            if isinstance(found, RustSymbol):
                traits.append(found)
                args.append(tuple(self.type_of(ctx, a, 1) or _UNKNOWN for a in bound.args))
            elif found:
                ext.append(found)
        return DynTy(tuple(traits), tuple(ext), tuple(args) if any(args) else ())

    # -- lookups for other layers (the PyO3 bridge) ------------------------------------------------------------

    def resolve_type(self, sym: RustSymbol, text: str) -> RustSymbol | None:
        """The workspace struct, enum or trait that the type ``text`` names, seen from ``sym``."""
        try:
            ty = self.type_of(self.ctx_for(sym), parse_type(text))
        except RecursionError:
            return None
        return ty.sym if isinstance(ty, WsTy) else None

    def resolve_path(self, sym: RustSymbol, text: str, line: int) -> list[RustSymbol]:
        """The workspace items a path (``llm::kv::f``) names, seen from inside ``sym`` at ``line``."""
        names = tuple(p.strip() for p in text.split("::") if p.strip())
        if not names:
            return []
        values = self._path(self.ctx_for(sym), names, line)
        found = {v.sym for v, _ in values if isinstance(v, ItemV)}
        return sorted(found, key=_sym_key)

    def methods_of(self, struct: RustSymbol, attribute: str = "") -> list[tuple[RustSymbol, tuple[str, ...]]]:
        """The methods of ``struct``'s impl blocks (only blocks carrying ``attribute``, when given), each with
        its own attributes (a method's ``decorators`` start with its impl block's)."""
        world = self.world(struct.repo)
        world.impls()
        found: list[tuple[RustSymbol, tuple[str, ...]]] = []
        for impl in world.by_type.get(struct, ()):
            attrs = impl.sym.definition.decorators
            if attribute and attribute not in attrs:
                continue
            for method in impl.methods.values():
                d = method.definition
                own = d.decorators[len(attrs) :] if d.decorators[: len(attrs)] == attrs else d.decorators
                found.append((method, own))
        return sorted(found, key=lambda m: _sym_key(m[0]))

    # -- entries ----------------------------------------------------------------------------------------------

    def resolve_entry(self, text: str, repo: str | None = None) -> RustSymbol:
        """The function an entry names: ``crate::path::func``, ``name_of_crate::Type::method``,
        ``Type::method`` (any unique suffix), ``path/to/file.rs::func`` or ``path/to/file.rs::Type::method``."""
        repos = [self.workspace.repo(repo).name] if repo else list(self.workspace.repos)
        for name in repos:  # resolution reads the whole workspace: a trace depends on all of it
            world = self.world(name)
            self.index.touched.update((name, f) for f in sorted(world.files))
        if ".rs::" in text:
            return self._entry_from_file(text, repos)
        segments = [s for s in text.split("::")]
        if not all(re.fullmatch(r"[A-Za-z_]\w*", s) for s in segments):
            raise CodetraceError(
                "unresolved",
                f"entry {text!r} is not a Rust path",
                "write crate::module::function, Type::method or path/to/file.rs::function",
            )
        found: list[RustSymbol] = []
        for name in repos:
            world = self.world(name)
            if not world.crates:
                continue
            found.extend(self._entry_by_path(world, segments))
        if not found:
            for name in repos:
                world = self.world(name)
                found.extend(
                    s for s in self._functions(world) if s.qualname == text or s.qualname.endswith("::" + text)
                )
        found = sorted(set(found), key=lambda s: (s.qualname, s.repo, s.path, s.definition.line))
        if len(found) == 1:
            return found[0]
        if found:
            listed = ", ".join(f"{s.qualname} ({s.repo}:{s.path}:{s.definition.line})" for s in found[:8])
            raise CodetraceError(
                "unresolved", f"entry {text!r} is ambiguous: {listed}", "write more of the path, or name the repo"
            )
        names = [s.qualname for name in repos for s in self._functions(self.world(name))]
        if not any(self.world(name).crates for name in repos):
            raise CodetraceError(
                "unresolved", f"entry {text!r}: no Cargo crates in the configured repos", "check the repo path"
            )
        hint = suggest(text, names) or suggest(segments[-1], [n.rpartition("::")[2] for n in names])
        raise CodetraceError("unresolved", f"entry {text!r}: no such Rust function", hint or "check the spelling")

    def _entry_by_path(self, world: _World, segments: list[str]) -> list[RustSymbol]:
        first = segments[0]
        starts: list[_Module] = []
        if first == "crate":
            starts = [c.root for c in world.crates if c.root is not None and c.crate.kind == "lib"] or [
                c.root for c in world.crates if c.root is not None
            ]
        else:
            crate = world.by_name.get(first)
            if crate is not None and crate.root is not None:
                starts = [crate.root]
        out: list[RustSymbol] = []
        for start in starts:
            values: list[Value] = [ModV(start)]
            for seg in segments[1:]:
                nxt: list[Value] = []
                for v in values:
                    nxt.extend(val for val, _ in self._member(v, seg, None))
                values = nxt
            for v in values:
                if isinstance(v, ItemV) and v.sym.definition.kind == "function":
                    out.append(v.sym)
        return out

    def _functions(self, world: _World) -> list[RustSymbol]:
        out = []
        for path in sorted(world.files):
            for d in self.headers_of(world.repo, path).definitions:
                if d.kind == "function" and d.keyword not in ("async-block", "closure"):
                    out.append(self.symbol(world.repo, path, d))
        return out

    def _entry_from_file(self, text: str, repos: list[str]) -> RustSymbol:
        path, _, rest = text.partition(".rs::")
        path += ".rs"
        for name in repos:
            r = self.workspace.repos[name]
            if r.probe(r.root / path) != "file":
                continue
            world = self.world(name)
            facts = self.facts_of(name, path)
            problem = self.index.problem(name, path)
            if problem is not None:
                raise CodetraceError(problem.subtype, problem.message, problem.hint)
            matches = []
            for d in facts.definitions:
                if d.kind != "function" or d.keyword in ("async-block", "closure"):
                    continue
                _, prefix = world.module_of(path, d.qualname)
                local = _display(d.qualname)
                if _display(prefix) and local.startswith(_display(prefix) + "::"):
                    local = local[len(_display(prefix)) + 2 :]
                if rest in (local, _display(d.qualname)):
                    matches.append(self.symbol(name, path, d))
            if len(matches) == 1:
                return matches[0]
            if matches:
                lines = ", ".join(f"line {m.definition.line}" for m in matches)
                raise CodetraceError(
                    "unresolved", f"entry {text!r} is ambiguous in {name}:{path} ({lines})", "cfg branches?"
                )
            raise CodetraceError(
                "unresolved",
                f"entry {text!r}: no {rest!r} in {name}:{path}",
                suggest(rest, [_display(d.qualname) for d in facts.definitions if d.kind == "function"])
                or "check the spelling",
            )
        raise CodetraceError(
            "unresolved", f"entry {text!r}: no file {path!r} in the configured repos", "paths are relative to the repo"
        )

    # -- call sites -------------------------------------------------------------------------------------------

    def resolve_call(self, sym: RustSymbol, call: CallSite, self_class: RustSymbol | None = None) -> Outcome:
        """What the call at ``call`` inside ``sym`` calls; ``self_class`` is the concrete type of ``self``
        when the walk reached a trait's default method through it."""
        chain = call.chain
        if not chain:
            return Outcome(Resolution.UNRESOLVED, call.text)
        ctx = self.ctx_for(sym, self_class)
        self._depth = 0
        try:
            return self._resolve_call(ctx, call)
        except RecursionError:
            return Outcome(Resolution.UNRESOLVED, call.text)

    def _resolve_call(self, ctx: _Ctx, call: CallSite) -> Outcome:
        chain = call.chain
        if chain[0] == "{block}" and len(chain) == 2:
            d = self.file_index(ctx.repo, ctx.path, body=True).by_qualname.get(chain[1])
            if d is None:
                return Outcome(Resolution.UNRESOLVED, call.text)
            block = self.symbol(ctx.repo, ctx.path, d)
            return Outcome(Resolution.DIRECT, block.qualname, callee=block)
        last = chain[-1]
        if last.endswith("!"):
            return self._macro(ctx, call)
        if last.startswith("."):
            receiver = self._eval(ctx, chain[:-1], call.line) if len(chain) > 1 else None
            return self._method_call(ctx, receiver, last[1:], call)
        if len(chain) == 1 and chain[0] in ("{closure}", "{expr}"):
            return Outcome(Resolution.UNRESOLVED, call.text)
        path_len = self._path_len(chain)
        if path_len < len(chain):  # postfix after a path: `(a::b)()`-like shapes are not call chains
            return Outcome(Resolution.UNRESOLVED, call.text)
        if len(chain) == 1:
            local = self._local(ctx, chain[0], call.line)
            if local is not None:
                value = local[0]
                if isinstance(value, ClosureV):
                    return Outcome(Resolution.DIRECT, call.text, quiet=True)
                return Outcome(Resolution.UNRESOLVED, call.text)  # calling a value: a fn pointer or closure
        values = self._path(ctx, chain, call.line)
        return self._call_values(values, call)

    def _call_values(self, values: list[tuple[Value, Resolution]], call: CallSite) -> Outcome:
        fns = [(v, how) for v, how in values if isinstance(v, ItemV) and v.sym.definition.kind == "function"]
        if len(fns) == 1:
            v, how = fns[0]
            return self._fn_outcome(v.sym, how)
        if len(fns) > 1:  # the same path under several cfg branches
            syms = tuple(sorted({v.sym for v, _ in fns}, key=_sym_key))
            return Outcome(Resolution.CANDIDATES, syms[0].qualname, candidates=syms, note="cfg branches")
        for v, how in values:
            if isinstance(v, ItemV) and v.sym.definition.kind in ("class", "variant"):
                return Outcome(how, v.sym.qualname, constructs=v.sym, quiet=True)
            if isinstance(v, ExtV):
                return Outcome(Resolution.EXTERNAL, v.path, quiet=_quiet_path(v.path))
            if isinstance(v, (GenV, QualV)):
                break
        for v, _ in values:
            if isinstance(v, _Dispatch):
                return v.outcome()
        return Outcome(Resolution.UNRESOLVED, call.text)

    def _fn_outcome(self, sym: RustSymbol, how: Resolution, receiver: RustSymbol | None = None) -> Outcome:
        return Outcome(how, sym.qualname, callee=sym, receiver=receiver)

    def _macro(self, ctx: _Ctx, call: CallSite) -> Outcome:
        chain = call.chain
        name = chain[-1][:-1]
        if len(chain) > 1:
            values = self._path(ctx, (*chain[:-1], name), call.line)
        else:
            values = self._lookup(ctx, name, call.line, locals_=False)
        for v, _ in values:
            if isinstance(v, ExtV):
                return Outcome(Resolution.EXTERNAL, v.path + "!", note="opaque macro")
        return Outcome(Resolution.UNRESOLVED, call.text, note="opaque macro")

    # -- methods ----------------------------------------------------------------------------------------------

    def _method_call(self, ctx: _Ctx, receiver: tuple[Value, Resolution] | None, name: str, call: CallSite) -> Outcome:
        if receiver is None or receiver[0] is None:
            return self._unknown_receiver(ctx, name, call)
        value, how = receiver
        if isinstance(value, ChanV) and value.many:
            return Outcome(Resolution.EXTERNAL, f"Vec::{name}", quiet=True)
        if isinstance(value, ChanV):
            if value.side == "tx" and name in SEND_METHODS:
                return self._queue(value, call)
            return Outcome(Resolution.EXTERNAL, f"{'Sender' if value.side == 'tx' else 'Receiver'}::{name}", quiet=True)
        if isinstance(value, InstV):
            hit = self._method_on(value.ty, name)
            if hit is None:
                return self._unknown_receiver(ctx, name, call)
            if isinstance(hit, _Dispatch):
                return hit.outcome()
            if isinstance(hit, str):
                if name in SEND_METHODS and _last(hit.rpartition("::")[0]) in SENDER_TYPES:
                    return Outcome(Resolution.EXTERNAL, hit, kind=StepKind.QUEUE)
                return Outcome(Resolution.EXTERNAL, hit, quiet=name in QUIET_METHODS)
            sym, method_how, recv, _ = hit
            return self._fn_outcome(sym, _weaker(_weaker(how, Resolution.TYPED), method_how), recv)
        if isinstance(value, ExtV):
            return Outcome(Resolution.EXTERNAL, f"{value.path}.{name}", quiet=name in QUIET_METHODS)
        if isinstance(value, ClosureV):
            return Outcome(Resolution.EXTERNAL, f"closure.{name}", quiet=True)
        return self._unknown_receiver(ctx, name, call)

    def _unknown_receiver(self, ctx: _Ctx, name: str, call: CallSite) -> Outcome:
        """A method on a receiver of unknown type: external when no impl or trait of the repository
        defines a method of that name (so the callee cannot be workspace code), the method of an external
        trait when the repository only defines that name in impls of that one trait (``Iterator::next``),
        else unresolved."""
        world = self.world(ctx.repo)
        world.impls()
        kinds = world.method_kinds.get(name)
        if not kinds:
            return Outcome(Resolution.EXTERNAL, call.text, quiet=name in QUIET_METHODS)
        if len(kinds) == 1 and next(iter(kinds)).startswith("ext:"):
            trait = next(iter(kinds))[4:]
            return Outcome(Resolution.EXTERNAL, f"{trait}::{name}", quiet=name in QUIET_METHODS)
        return Outcome(Resolution.UNRESOLVED, call.text)

    def _method_on(self, ty: Ty, name: str, depth: int = 0) -> _MethodHit | None:
        """A method ``name`` on a value of type ``ty``: ``(sym, how, receiver)``, a dispatch, an external
        name, or None when the type is known but has no such method in the workspace."""
        if depth > 8:
            return None
        world_repo = None
        if isinstance(ty, WsTy):
            world_repo = ty.sym.repo
            if ty.sym.definition.keyword == "trait":
                return self._method_on(DynTy((ty.sym,)), name, depth + 1)
            world = self.world(world_repo)
            world.impls()
            impls = world.by_type.get(ty.sym, [])
            inherent = [i.methods[name] for i in impls if i.trait is None and not i.trait_ext and name in i.methods]
            if inherent:
                return inherent[0], Resolution.TYPED, None, ty
            traited = sorted({i.methods[name] for i in impls if name in i.methods}, key=_sym_key)
            if len(traited) == 1:
                return traited[0], Resolution.TYPED, None, ty
            if traited:
                return _Dispatch(self, None, tuple(traited), "several trait impls")
            for impl in impls:  # a default method of a trait the type implements
                if impl.trait is None:
                    continue
                default = self._trait_method(impl.trait, name)
                if default is not None and default.definition.keyword == "fn":
                    return default, Resolution.INHERITED, ty.sym, ty
            for impl in impls:  # Deref
                if impl.trait_ext.endswith("Deref") and "Target" in impl.assoc:
                    target = self.type_of(self.ctx_for(impl.sym), parse_type(impl.assoc["Target"].returns))
                    if target is not None:
                        return self._method_on(target, name, depth + 1)
            if "blanket" in world.method_kinds.get(name, ()) or _display(ty.sym.definition.name) in world.macro_named:
                return None  # maybe a blanket impl of ours, or a method a macro writes: not guessed
            return f"{ty.sym.qualname}::{name}"  # derived, or a blanket impl outside the workspace
        if isinstance(ty, DynTy):
            for i, trait in enumerate(ty.traits):
                found = self._dispatch(trait, name, ty.args[i] if i < len(ty.args) else ())
                if found is not None:
                    return found
            if ty.ext:
                for world in self._worlds.values():
                    world.impls()
                    if "blanket" in world.method_kinds.get(name, ()):
                        return None  # maybe a blanket impl of ours: not guessed
                return f"{ty.ext[0]}::{name}"
            return None
        if isinstance(ty, ExtTy):
            last = ty.last
            if ty.path == "()":
                return None  # a tuple: its element types say nothing about this method
            for world in self._worlds.values():
                world.impls()
                for impl in world.by_type.get("ext:" + last, []):
                    if name in impl.methods:
                        return impl.methods[name], Resolution.TYPED, None, ty
            if last in DEREF_TYPES and ty.args and name not in ("clone", "as_ref", "downgrade"):
                inner = self._method_on(ty.args[0], name, depth + 1)
                if inner is not None or not isinstance(ty.args[0], ExtTy):
                    return inner
            if last in FUTURE_TYPES and ty.args and name in ("await",):
                return None
            return f"{ty.path}::{name}"
        return None

    def _trait_method(
        self, trait: RustSymbol, name: str, seen: frozenset[RustSymbol] = frozenset()
    ) -> RustSymbol | None:
        """The declaration (or default) of ``name`` in ``trait`` or its supertraits."""
        if trait in seen or len(seen) > 16:
            return None
        index = self.file_index(trait.repo, trait.path)
        for d in index.members.get(trait.definition.qualname, ()):
            if d.kind == "function" and _display(d.name) == name:
                return self.symbol(trait.repo, trait.path, d)
        ctx = self._module_ctx(trait)
        for base in trait.definition.bases:
            found = self.trait_of(ctx, parse_type(base))
            if isinstance(found, RustSymbol):
                method = self._trait_method(found, name, seen | {trait})
                if method is not None:
                    return method
        return None

    def _dispatch(self, trait: RustSymbol, name: str, args: tuple[Ty, ...] = ()) -> _Dispatch | None:
        """The impls a call of ``trait``'s method ``name`` may run; with the trait's generic arguments known
        (``dyn Op<A, B>``), only the impls of ``Op<..>`` whose written arguments can be those."""
        decl = self._trait_method(trait, name)
        if decl is None:
            return None
        declaring = self.symbol(
            decl.repo, decl.path, self.file_index(decl.repo, decl.path).by_qualname[decl.definition.parent]
        )
        world = self.world(declaring.repo)
        world.impls()
        candidates: set[RustSymbol] = set()
        for impl in world.by_trait.get(declaring, []):
            if args and declaring == trait and not self._impl_accepts(impl, args):
                continue
            if name in impl.methods:
                candidates.add(impl.methods[name])
            elif decl.definition.keyword == "fn":
                candidates.add(decl)
        ordered = tuple(sorted(candidates, key=_sym_key))
        note = "only impl in the workspace" if len(ordered) == 1 else ""
        return _Dispatch(self, decl, ordered, note)

    def _impl_accepts(self, impl: _Impl, args: tuple[Ty, ...]) -> bool:
        """Whether ``impl Trait<X, Y> for T`` may be the impl of ``Trait<args>``: no written argument of
        either side is a known type that differs (generic parameters and unknown types match anything)."""
        written = self._impl_args.get(impl.sym)
        if written is None:
            ctx = self.ctx_for(impl.sym)
            te = parse_type(impl.sym.definition.implements)
            written = tuple(self.type_of(ctx, a) or _UNKNOWN for a in te.args) if te.kind == "path" else ()
            self._impl_args[impl.sym] = written
        return len(written) != len(args) or all(_compatible(a, b) for a, b in zip(written, args, strict=True))

    def _queue(self, chan: ChanV, call: CallSite) -> Outcome:
        consumers = self._consumers(chan)
        if len(consumers) == 1:
            return Outcome(Resolution.TYPED, consumers[0].qualname, callee=consumers[0], kind=StepKind.QUEUE)
        if consumers:
            return Outcome(
                Resolution.CANDIDATES, consumers[0].qualname, candidates=tuple(consumers), kind=StepKind.QUEUE
            )
        return Outcome(Resolution.EXTERNAL, "Sender::send", kind=StepKind.QUEUE)

    def _consumers(self, chan: ChanV) -> list[RustSymbol]:
        """The code receiving from a channel: where its receiver is read (``rx.recv()``) in the function
        that made it or the blocks it spawned, or, when the receiver is handed to a function, where that
        function reads it (followed through further hand-offs; the function itself when it is not read
        in sight)."""
        repo, path, scope, line = chan.chan
        index = self.file_index(repo, path, body=True)
        rx = [
            b.name
            for b in index.facts.bindings
            if b.scope == scope and b.line == line and b.value and b.value[-1] == ".1"
        ]
        if not rx:
            return []
        found: set[RustSymbol] = set()
        self._receivers(repo, path, scope, rx[0], line, found, set())
        return sorted(found, key=_sym_key)

    def _receivers(
        self,
        repo: str,
        path: str,
        scope: str,
        name: str,
        line: int,
        found: set[RustSymbol],
        seen: set[tuple[RustSymbol, str]],
    ) -> None:
        """Add to ``found`` the functions and blocks that read the receiver ``name`` of ``scope`` (from
        ``line`` on), following it into the functions it is passed to."""
        index = self.file_index(repo, path, body=True)
        for call in index.facts.calls:
            if call.scope != scope and not call.scope.startswith(scope + "::"):
                continue
            if call.line < line:
                continue
            owner_def = index.by_qualname.get(call.scope)
            if owner_def is None:
                continue
            owner = self.symbol(repo, path, owner_def)
            if call.chain == (name, call.chain[-1]) and call.chain[-1][1:] in RECV_METHODS:
                found.add(owner)
                continue
            position = next((i for i, a in enumerate(call.args) if a in (name, f"mut {name}")), None)
            if position is None:
                continue
            out = self.resolve_call(owner, call)
            callees = out.candidates or ((out.callee,) if out.callee is not None else ())
            for callee in callees:
                if callee.definition.kind != "function":
                    continue
                param = _param_name(callee.definition, position, call.chain[-1].startswith("."))
                if param is None or (callee, param) in seen or len(seen) > 32:
                    found.add(callee)
                    continue
                seen.add((callee, param))
                inner: set[RustSymbol] = set()
                self._receivers(
                    callee.repo, callee.path, callee.definition.qualname, param, callee.definition.line, inner, seen
                )
                found.update(inner or {callee})

    # -- evaluation of chains ---------------------------------------------------------------------------------

    @staticmethod
    def _path_len(chain: tuple[str, ...]) -> int:
        """How many leading elements of a chain form a path (``a::b::c()`` -> 3)."""
        n = 0
        for element in chain:
            if element.startswith(".") or element in ("?", "[]", "{item}", "{expr}", "{closure}"):
                break
            n += 1
            if element.endswith(("()", "{}")):
                break
        return n

    def _eval(self, ctx: _Ctx, chain: tuple[str, ...], line: int) -> tuple[Value, Resolution] | None:
        """The value of a chain: a module, an item, an instance of a type, an external name..."""
        self._depth += 1
        if self._depth > 200:
            return None
        first = chain[0]
        if first in ("{expr}",):
            return None
        if first == "{closure}":
            return ClosureV(), Resolution.DIRECT
        n = self._path_len(chain)
        head = chain[:n]
        last = head[-1]
        suffix = "()" if last.endswith("()") else "{}" if last.endswith("{}") else ""
        names = (*head[:-1], last[: len(last) - len(suffix)]) if suffix else head
        current: tuple[Value, Resolution] | None
        if len(names) == 1 and names[0] == "self":
            current = (InstV(ctx.self_ty), Resolution.TYPED) if ctx.self_ty is not None else None
            if current is None:
                local = self._local(ctx, "self", line)
                current = local if local is not None and local[0] is not None else None
        elif len(names) == 1 and (local := self._local(ctx, names[0], line)) is not None:
            current = local if local[0] is not None else None
        else:
            values = self._path(ctx, names, line)
            current = self._prefer(values, suffix)
            if current is not None and isinstance(current[0], ItemV) and current[0].sym.definition.kind == "value":
                item = current[0].sym  # a const or static: a value of its declared type
                ty = self.type_of(self._module_ctx(item), parse_type(item.definition.returns))
                current = (InstV(ty), _weaker(current[1], Resolution.TYPED)) if ty is not None else None
        if current is None:
            return None
        if suffix == "()":
            current = self._call_result(ctx, current, names, line)
        elif suffix == "{}":
            v = current[0]
            if isinstance(v, ItemV) and v.sym.definition.kind == "class":
                current = (InstV(WsTy(v.sym)), current[1])
            elif isinstance(v, ItemV) and v.sym.definition.kind == "variant":
                current = self._variant_instance(v.sym, current[1])
            elif isinstance(v, GenV):
                current = (InstV(v.ty), current[1])
            elif isinstance(v, InstV):  # `Self { .. }` in an impl
                pass
            elif isinstance(v, ExtV):  # an external struct literal, or a `format!`/`vec!` value
                current = (InstV(ExtTy(v.path)), Resolution.EXTERNAL)
            else:
                current = None
        for element in chain[n:]:
            if current is None:
                return None
            current = self._postfix(ctx, current, element, line)
        return current

    def _prefer(self, values: list[tuple[Value, Resolution]], suffix: str) -> tuple[Value, Resolution] | None:
        if not values:
            return None
        if suffix == "()":
            for v in values:
                if isinstance(v[0], ItemV) and v[0].sym.definition.kind in ("function", "class", "variant"):
                    return v
        return values[0]

    def _variant_instance(self, variant: RustSymbol, how: Resolution) -> tuple[Value, Resolution] | None:
        index = self.file_index(variant.repo, variant.path)
        enum = index.by_qualname.get(variant.definition.parent)
        if enum is None:
            return None
        return InstV(WsTy(self.symbol(variant.repo, variant.path, enum))), how

    def _call_result(
        self, ctx: _Ctx, callee: tuple[Value, Resolution], names: tuple[str, ...], line: int
    ) -> tuple[Value, Resolution] | None:
        value, how = callee
        if isinstance(value, ItemV):
            d = value.sym.definition
            if d.kind == "function":
                ty = self._returns(value.sym, None)
                return (InstV(ty), _weaker(how, Resolution.TYPED)) if ty is not None else None
            if d.kind == "class":
                return InstV(WsTy(value.sym)), how
            if d.kind == "variant":
                return self._variant_instance(value.sym, how)
            return None
        if isinstance(value, ExtV):
            last = _last(value.path)
            if last in CHANNEL_FNS:
                return ExtV(value.path + "()"), Resolution.EXTERNAL
            if last in ("new", "default", "with_capacity", "builder") and "::" in value.path:
                owner = value.path.rpartition("::")[0]
                return InstV(ExtTy(owner)), Resolution.EXTERNAL
            return None
        if isinstance(value, _Dispatch):
            return None
        return None

    def _postfix(
        self, ctx: _Ctx, current: tuple[Value, Resolution], element: str, line: int
    ) -> tuple[Value, Resolution] | None:
        value, how = current
        if element in ("?", ".await") or element in _UNWRAP_ELEMENTS:
            if isinstance(value, InstV):
                return InstV(_unwrapped(value.ty, element)), how
            return current if isinstance(value, ChanV) else None
        if isinstance(value, ChanV) and value.many:  # a collection of channel ends
            if element in ("[]", "{item}"):
                return ChanV(value.chan, value.side), how
            return current if element in (".iter()", ".iter_mut()", ".clone()") else None
        if element in ("[]", "{item}"):
            if isinstance(value, InstV):
                ty = _element(value.ty, element == "{item}")
                return (InstV(ty), how) if ty is not None else None
            return None
        if (
            element in (".0", ".1")
            and isinstance(value, ExtV)
            and value.path.endswith("()")
            and _last(value.path[:-2]) in CHANNEL_FNS
        ):
            return None  # the pair itself is bound by a let: see _local
        if element.startswith(".") and element.endswith("()"):
            name = element[1:-2]
            if name == "clone" or name in FUTURE_ADAPTERS_NAMES:
                return current
            if isinstance(value, InstV):
                std = _std_method_result(value.ty, name)
                if std is not None:
                    return InstV(std), how
                hit = self._method_on(value.ty, name)
                if isinstance(hit, tuple):
                    sym, method_how, _, self_ty = hit
                    ty = self._returns(sym, self_ty)
                    return (InstV(ty), _weaker(how, method_how)) if ty is not None else None
            return None
        if element.startswith("."):
            name = element[1:]
            if isinstance(value, InstV):
                ty = self._field(value.ty, name)
                if ty is not None and _sender_type(ty):
                    chan = self._field_origin(value.ty, name)
                    if chan is not None and chan.many is (ty.last not in SENDER_TYPES):
                        return chan, how
                return (InstV(ty), _weaker(how, Resolution.TYPED)) if ty is not None else None
            return None
        return None

    def _field_origin(self, owner: Ty, name: str) -> ChanV | None:
        """The channel a struct's sender field (or ``Vec`` of senders) was filled from: the struct literals
        (``Foo { tx, .. }``, ``Self { tx: tx.clone() }``, ``Self { txs }`` with ``txs.push(tx)`` before) that
        set the field, when every one of them gives the same channel."""
        if not isinstance(owner, WsTy):
            return None
        key = (owner.sym, name)
        if key in self._origins:
            return self._origins[key]
        self._origins[key] = None
        struct = owner.sym
        type_name = _display(struct.definition.name)
        found: set[ChanV | None] = set()
        for path in self._files_mentioning(struct.repo, type_name):  # and so every impl of the struct
            index = self.file_index(struct.repo, path, body=True)
            for b in index.facts.bindings:
                literal, _, field_name = b.name.rpartition("{}.")
                if field_name != name or not literal or _last(literal) not in (type_name, "Self"):
                    continue
                scope = index.by_qualname.get(b.scope)
                if scope is None:
                    continue
                ctx = self.ctx_for(self.symbol(struct.repo, path, scope))
                if literal == "Self":
                    target = ctx.self_ty.sym if isinstance(ctx.self_ty, WsTy) else None
                else:
                    values = self._path(ctx, tuple(literal.split("::")), b.line)
                    target = next((v.sym for v, _ in values if isinstance(v, ItemV)), None)
                if target != struct:
                    continue
                saved, self._depth = self._depth, 0
                value = self._eval(ctx, b.value, b.line) if b.value else None
                chan = value[0] if value is not None and isinstance(value[0], ChanV) else None
                if chan is None and len(b.value) == 1 and self._local(ctx, b.value[0], b.line) is not None:
                    chan = self._pushed(ctx, b.value[0], b.line)
                self._depth = saved
                found.add(chan)
        result = found.pop() if len(found) == 1 else None
        self._origins[key] = result
        return result

    def _pushed(self, ctx: _Ctx, name: str, line: int) -> ChanV | None:
        """A local collection of channel ends: what ``name.push(..)`` added to it in the function before
        ``line``, when every push gives an end of the same ``channel()`` call (one call in a loop)."""
        index = self.file_index(ctx.repo, ctx.path, body=True)
        found: set[ChanV | None] = set()
        for call in index.facts.calls:
            if call.line > line or call.chain != (name, ".push") or len(call.args) != 1:
                continue
            if call.scope != ctx.scope and not call.scope.startswith(ctx.scope + "::"):
                continue
            chain = _arg_chain(call.args[0])
            value = self._eval(ctx, chain, call.line) if chain else None
            found.add(value[0] if value is not None and isinstance(value[0], ChanV) else None)
        chan = found.pop() if len(found) == 1 else None
        return ChanV(chan.chan, chan.side, True) if chan is not None and not chan.many else None

    def _param_origin(self, fn: RustSymbol, position: int) -> ChanV | None:
        """The channel a function's sender parameter comes from: the arguments its callers in the workspace
        pass there (test code aside), when every one of them is an end of the same ``channel()`` call."""
        key = (fn, f"#param{position}")
        if key in self._origins:
            return self._origins[key]
        self._origins[key] = None  # recursion guard (a sender handed down through several functions)
        params = fn.definition.params
        has_self = bool(params) and params[0].name == "self"
        found: set[ChanV | None] = set()
        # an associated fn without self is called through its type (`Type::f(..)`, `Self::f(..)` in an impl
        # of it): only files that name the type can call it
        owner = fn.owner.rpartition("::")[2] if fn.definition.in_class and not has_self else ""
        for path, call in self._calls_named(fn.repo, _display(fn.definition.name), owner):
            method = call.chain[-1].startswith(".")
            if method and not has_self:
                continue
            at = position - 1 if method else position
            total = len(params) - (1 if method else 0)
            if at < 0 or at >= len(call.args) or len(call.args) != min(total, 8):
                continue
            index = self.file_index(fn.repo, path, body=True)
            scope = index.by_qualname.get(call.scope)
            if scope is None or self._test_code(fn.repo, path, scope):
                continue
            caller = self.symbol(fn.repo, path, scope)
            saved = self._depth
            out = self.resolve_call(caller, call)
            self._depth = saved
            if out.callee != fn and fn not in out.candidates:
                continue
            chain = _arg_chain(call.args[at])
            self._depth = 0
            value = self._eval(self.ctx_for(caller), chain, call.line) if chain else None
            self._depth = saved
            found.add(value[0] if value is not None and isinstance(value[0], ChanV) else None)
        result = found.pop() if len(found) == 1 else None
        if result is not None and (result.side != "tx" or result.many):
            result = None
        self._origins[key] = result
        return result

    def _calls_named(self, repo: str, name: str, also: str = "") -> list[tuple[str, CallSite]]:
        """The call sites of the repository whose callee's last segment is ``name`` (path or method), from
        the files whose text mentions it (and ``also``, when given)."""
        key = (repo, name, also)
        found = self._calls_by_name.get(key)
        if found is None:
            found = self._calls_by_name[key] = [
                (path, call)
                for path in self._files_mentioning(repo, name, also)
                for call in self.facts_of(repo, path).calls
                if call.chain and call.chain[-1].lstrip(".") == name
            ]
        return found

    def _files_mentioning(self, repo: str, *words: str) -> list[str]:
        """The files of the repository's crates whose text contains every one of ``words``: the only ones a
        search of their bodies for them must parse in full."""
        world = self.world(repo)  # records every file of the crates as read
        r = self.workspace.repos[repo]
        return [path for path in sorted(world.files) if all(w in self.index.text(r, path) for w in words)]

    def _test_code(self, repo: str, path: str, d: Definition) -> bool:
        """Whether a definition is test code: in a function marked ``#[test]`` (``#[tokio::test]``...) or in
        a module declared under ``#[cfg(test)]``."""
        index = self.file_index(repo, path)
        scope: Definition | None = d
        while scope is not None:
            if any(_TEST_ATTR.match(a) for a in scope.decorators):
                return True
            scope = index.by_qualname.get(scope.parent) if scope.parent else None
        module, _ = self.world(repo).module_of(path, d.qualname)
        while module is not None and module.parent is not None:
            parent = module.parent
            leaf = module.name.rpartition("::")[2]
            for part_path, prefix in parent.parts:
                for decl in self.file_index(repo, part_path).items.get(prefix, {}).get(leaf, ()):
                    if decl.kind in ("module", "module-file") and any("cfg(test)" in a for a in decl.decorators):
                        return True
            module = parent
        return False

    def _field(self, ty: Ty, name: str, depth: int = 0) -> Ty | None:
        if depth > 6:
            return None
        if isinstance(ty, WsTy):
            d = ty.sym.definition
            index = self.file_index(ty.sym.repo, ty.sym.path)
            for b in index.bindings.get(d.qualname, {}).get(name, ()):
                if b.annotation:
                    ctx = self._type_ctx(ty)
                    return self.type_of(ctx, parse_type(b.annotation))
            if d.keyword == "enum":  # `.Variant` in a pattern's chain: the variant, typed like a struct
                for m in index.members.get(d.qualname, ()):
                    if m.kind == "variant" and _display(m.name) == name:
                        return WsTy(self.symbol(ty.sym.repo, ty.sym.path, m), ty.args)
            if name == _display(d.name):  # `Foo { a, .. }` matched against a Foo
                return ty
            return None
        if isinstance(ty, ExtTy):
            if ty.path == "()" and name.isdigit() and int(name) < len(ty.args):
                return ty.args[int(name)]
            if ty.last in OPTION_TYPES and ty.args:
                if name in ("Some", "Ok"):
                    return ExtTy("()", ty.args[:1])
                if name == "Err" and len(ty.args) > 1:
                    return ExtTy("()", ty.args[1:2])
                if name == "Err" and ty.path.startswith("anyhow::"):  # anyhow::Result<T> = Result<T, Error>
                    return ExtTy("()", (ExtTy("anyhow::Error"),))
            if ty.last in DEREF_TYPES and ty.args:
                return self._field(ty.args[0], name, depth + 1)
        return None

    def _type_ctx(self, ty: WsTy) -> _Ctx:
        """The context a type's fields and bounds resolve in, with its generic parameters bound to the
        arguments of ``ty``."""
        base = self._module_ctx(ty.sym)
        ctx = _Ctx(base.repo, base.path, base.facts, base.module, base.scope)
        owner = ty.sym.definition
        if owner.kind == "variant":  # a variant's fields use its enum's generic parameters
            owner = self.file_index(ty.sym.repo, ty.sym.path).by_qualname.get(owner.parent, owner)
        params = [b.partition(":")[0].strip() for b in owner.bounds]
        for i, p in enumerate(params):
            if i < len(ty.args):
                ctx.generics[p] = ty.args[i]
        ctx.self_ty = ty
        return ctx

    def _returns(self, sym: RustSymbol, receiver: Ty | None) -> Ty | None:
        """The type a call of ``sym`` returns, seen from the caller: generic parameters are unknown (they
        are inferred at the call site) unless the receiver's type arguments give them."""
        d = sym.definition
        if not d.returns:
            return None
        body = self.ctx_for(sym)
        ctx = _Ctx(body.repo, body.path, body.facts, body.module, body.scope)
        for name in body.generics:
            ctx.generics[name] = _UNKNOWN
        if d.in_class and d.self_type:
            ctx.self_ty = (
                receiver if isinstance(receiver, (WsTy, ExtTy)) else self.type_of(ctx, parse_type(d.self_type))
            )
            if isinstance(receiver, WsTy):
                written = parse_type(d.self_type)
                for i, arg in enumerate(written.args):
                    if arg.kind == "path" and len(arg.path) == 1 and i < len(receiver.args):
                        ctx.generics[arg.path[0]] = receiver.args[i]
        elif d.in_class:
            ctx.self_trait = body.self_trait
            ctx.self_ty = receiver if receiver is not None else body.self_ty
        return self.type_of(ctx, parse_type(d.returns))

    # -- names ------------------------------------------------------------------------------------------------

    def _scopes(self, ctx: _Ctx) -> list[str]:
        """The function and block scopes around ``ctx.scope``, innermost first."""
        index = self._scope_index(ctx)
        out: list[str] = []
        scope = ctx.scope
        while scope:
            d = index.by_qualname.get(scope)
            if d is None or d.kind != "function":
                break
            out.append(scope)
            scope = d.parent
        return out

    def _scope_index(self, ctx: _Ctx, locals_: bool = False) -> _FileIndex:
        """The lookups names in ``ctx`` need. The headers have every item and ``use`` of a file, also those
        inside functions; a spawned block's scope and a function's locals (``locals_``) are in its full facts."""
        index = self.file_index(ctx.repo, ctx.path)
        if ctx.scope:
            d = index.by_qualname.get(ctx.scope)
            if d is None or (locals_ and d.kind == "function"):
                index = self.file_index(ctx.repo, ctx.path, body=True)
        return index

    def _local(self, ctx: _Ctx, name: str, line: int) -> tuple[Value | None, Resolution] | None:
        """A local variable or parameter: ``(value, how)``, ``(None, ...)`` when bound to something unknown,
        None when ``name`` is not local."""
        index = self._scope_index(ctx, locals_=True)
        for scope in self._scopes(ctx):
            bindings = [b for b in index.bindings.get(scope, {}).get(name, ()) if b.line <= line]
            if bindings:
                binding = max(bindings, key=lambda b: b.line)
                return self._binding_value(ctx, binding)
            d = index.by_qualname.get(scope)
            if d is not None:
                for p in d.params:
                    if p.name == name:
                        if name == "self":
                            return self._self_param(ctx, p.annotation)
                        if p.annotation:
                            ty = self.type_of(ctx, parse_type(p.annotation))
                            if isinstance(ty, ExtTy) and ty.last in SENDER_TYPES and d.keyword == "fn":
                                chan = self._param_origin(self.symbol(ctx.repo, ctx.path, d), d.params.index(p))
                                if chan is not None:
                                    return chan, Resolution.TYPED
                            return (InstV(ty), Resolution.TYPED) if ty is not None else (None, Resolution.UNRESOLVED)
                        return None, Resolution.UNRESOLVED
        return None

    def _self_param(self, ctx: _Ctx, annotation: str | None) -> tuple[Value | None, Resolution]:
        if ctx.self_ty is None:
            return None, Resolution.UNRESOLVED
        return InstV(ctx.self_ty), Resolution.TYPED

    def _binding_value(self, ctx: _Ctx, b: Binding) -> tuple[Value | None, Resolution]:
        if b.annotation:
            ty = self.type_of(ctx, parse_type(b.annotation))
            if ty is not None:
                return InstV(ty), Resolution.TYPED
        chain = b.value
        if not chain:
            return None, Resolution.UNRESOLVED
        if len(chain) >= 2 and chain[-1] in (".0", ".1") and chain[-2].endswith("()"):
            head = self._eval(ctx, chain[:-1], b.line - 1)
            if head is not None and isinstance(head[0], ExtV) and _last(head[0].path[:-2]) in CHANNEL_FNS:
                side = "tx" if chain[-1] == ".0" else "rx"
                return ChanV((ctx.repo, ctx.path, b.scope, b.line), side), Resolution.TYPED
        found = self._eval(ctx, chain, b.line - 1 if b.line > 1 else b.line)
        if found is None:
            return None, Resolution.UNRESOLVED
        return found[0], _weaker(found[1], Resolution.TYPED) if not isinstance(found[0], ChanV) else found[1]

    def _lookup(self, ctx: _Ctx, name: str, line: int, locals_: bool = True) -> list[tuple[Value, Resolution]]:
        """A single name as the first segment of a path (locals are handled by the caller)."""
        index = self._scope_index(ctx)
        for scope in self._scopes(ctx):
            items = index.items.get(scope, {}).get(name)
            if items:
                return [(self._item_value(ctx.repo, ctx.path, d), Resolution.DIRECT) for d in items]
            imports = index.imports.get(scope, {}).get(name)
            if imports:
                return self._import_values(ctx.module, imports, frozenset())
        if name in ctx.generics:
            ty = ctx.generics[name]
            return [(GenV(ty) if isinstance(ty, DynTy) else _type_value(ty), Resolution.TYPED)]
        if ctx.module is not None:
            found = self._module_lookup(ctx.module, name, frozenset())
            if found:
                return found
            crate = self.world(ctx.repo).crate_named(name, ctx.module.crate)
            if crate is not None and crate.root is not None:
                return [(ModV(crate.root), Resolution.IMPORT)]
        if name in PRELUDE:
            return [(ExtV(name), Resolution.EXTERNAL)]
        if ctx.module is not None:
            for imp in self._stars(ctx.module):
                values = self._resolve_use(ctx.module, imp.target, frozenset())
                if any(isinstance(v, ExtV) for v, _ in values):
                    return [(ExtV(f"{imp.target}::{name}"), Resolution.EXTERNAL)]
        return []

    def _stars(self, module: _Module) -> list[Import]:
        out = []
        for path, prefix in module.parts:
            out.extend(self.file_index(self.world_of_module(module), path).stars.get(prefix, ()))
        return out

    @staticmethod
    def world_of_module(module: _Module) -> str:
        return module.crate.repo

    def _item_value(self, repo: str, path: str, d: Definition) -> Value:
        if d.kind in ("module", "module-file"):
            module, prefix = self.world(repo).module_of(path, d.qualname)
            if module is not None and prefix == d.qualname:
                return ModV(module)
            parent_module, _ = self.world(repo).module_of(path, d.parent or "")
            if parent_module is not None and _display(d.name) in parent_module.children:
                return ModV(parent_module.children[_display(d.name)])
        if d.kind == "type" and not d.in_class:
            sym = self.symbol(repo, path, d)
            ty = self.type_of(self._module_ctx(sym), parse_type(d.returns))
            if ty is not None:
                value = _type_value(ty)
                return InstV(value.ty, sym) if isinstance(value, InstV) and _type_params(d) else value
        return ItemV(self.symbol(repo, path, d))

    def _module_lookup(self, module: _Module, name: str, seen: frozenset[str]) -> list[tuple[Value, Resolution]]:
        """``name`` in a module: its items, its child modules, its imports, then its glob imports."""
        if not seen:
            cache_key = (id(module), name)
            cached = self._lookups.get(cache_key)
            if cached is None:
                self._lookups[cache_key] = []  # an import cycle through this name finds nothing
                cached = self._module_lookup_uncached(module, name, seen)
                self._lookups[cache_key] = cached
            return cached
        return self._module_lookup_uncached(module, name, seen)

    def _module_lookup_uncached(
        self, module: _Module, name: str, seen: frozenset[str]
    ) -> list[tuple[Value, Resolution]]:
        key = f"{module.name}::{name}"
        if key in seen or len(seen) > 40:
            return []
        seen = seen | {key}
        repo = self.world_of_module(module)
        out: list[tuple[Value, Resolution]] = []
        for path, prefix in module.parts:
            index = self.file_index(repo, path)
            for d in index.items.get(prefix, {}).get(name, ()):
                value = self._item_value(repo, path, d)
                if all(value != v for v, _ in out):
                    out.append((value, Resolution.DIRECT))
        if name in module.children and all(
            not (isinstance(v, ModV) and v.module is module.children[name]) for v, _ in out
        ):
            out.append((ModV(module.children[name]), Resolution.DIRECT))
        if out:
            return out
        for path, prefix in module.parts:
            index = self.file_index(repo, path)
            imports = index.imports.get(prefix, {}).get(name)
            if imports:
                found = self._import_values(module, imports, seen)
                if found:
                    return found
        for imp in self._stars(module):
            values = self._resolve_use(module, imp.target, seen)
            for v, _ in values:
                if isinstance(v, ModV):
                    found = self._module_lookup(v.module, name, seen)
                    if found:
                        return [(fv, _weaker(how, Resolution.IMPORT)) for fv, how in found]
                elif isinstance(v, ItemV) and v.sym.definition.keyword == "enum":
                    found = self._member(v, name, None)
                    if found:
                        return found
        return []

    def _import_values(
        self, module: _Module | None, imports: list[Import], seen: frozenset[str]
    ) -> list[tuple[Value, Resolution]]:
        out: list[tuple[Value, Resolution]] = []
        for imp in imports:
            for v, how in self._resolve_use(module, imp.target, seen):
                out.append((v, _weaker(how, Resolution.IMPORT) if how is not Resolution.EXTERNAL else how))
        return out

    def _resolve_use(self, module: _Module | None, target: str, seen: frozenset[str]) -> list[tuple[Value, Resolution]]:
        """What a ``use`` path names, seen from ``module``."""
        segments = ["::", *target[2:].split("::")] if target.startswith("::") else target.split("::")
        if module is None:
            return [(ExtV(target.lstrip(":")), Resolution.EXTERNAL)]
        first = segments[0]
        world = self.world(self.world_of_module(module))
        values: list[tuple[Value, Resolution]]
        if first == "crate":
            values = [(ModV(module.crate.root), Resolution.IMPORT)] if module.crate.root else []
        elif first == "self":
            values = [(ModV(module), Resolution.IMPORT)]
        elif first == "super":
            values = [(ModV(module.parent), Resolution.IMPORT)] if module.parent else []
        elif first == "::":
            if len(segments) < 2:
                return []
            crate = world.crate_named(segments[1], module.crate)
            segments = segments[1:]
            values = (
                [(ModV(crate.root), Resolution.IMPORT)]
                if crate is not None and crate.root is not None
                else [(ExtV(segments[0]), Resolution.EXTERNAL)]
            )
        else:
            values = self._module_lookup(module, first, seen)
            if not values:
                crate = world.crate_named(first, module.crate)
                if crate is not None and crate.root is not None:
                    values = [(ModV(crate.root), Resolution.IMPORT)]
                else:
                    values = [(ExtV(first), Resolution.EXTERNAL)]
        for seg in segments[1:]:
            nxt: list[tuple[Value, Resolution]] = []
            for v, how in values:
                if seg == "super" and isinstance(v, ModV):
                    if v.module.parent is not None:
                        nxt.append((ModV(v.module.parent), how))
                    continue
                if isinstance(v, ModV):
                    nxt.extend((fv, _weaker(how, fh)) for fv, fh in self._module_lookup(v.module, seg, seen))
                else:
                    nxt.extend(self._member(v, seg, None, how))
            values = nxt
            if not values:
                return []
        return values

    def _path(self, ctx: _Ctx, names: tuple[str, ...], line: int) -> list[tuple[Value, Resolution]]:
        """Every value a path may name (several under ``cfg`` branches)."""
        first = names[0]
        values: list[tuple[Value, Resolution]]
        module = ctx.module
        if first == "crate":
            values = [(ModV(module.crate.root), Resolution.DIRECT)] if module and module.crate.root else []
        elif first == "self" and len(names) > 1:
            values = [(ModV(module), Resolution.DIRECT)] if module else []
        elif first == "super":
            values = [(ModV(module.parent), Resolution.DIRECT)] if module and module.parent else []
        elif first == "::":
            if len(names) < 2 or module is None:
                return []
            crate = self.world(ctx.repo).crate_named(names[1], module.crate)
            names = names[1:]
            values = (
                [(ModV(crate.root), Resolution.IMPORT)]
                if crate is not None and crate.root is not None
                else [(ExtV(names[0]), Resolution.EXTERNAL)]
            )
        elif first == "Self":
            if ctx.self_ty is None:
                return []
            values = [
                (GenV(ctx.self_ty) if isinstance(ctx.self_ty, DynTy) else _type_value(ctx.self_ty), Resolution.DIRECT)
            ]
        elif first.startswith("<") and first.endswith(">"):
            values = self._qualified(ctx, first)
        else:
            values = self._lookup(ctx, first, line)
            if not values and len(names) > 1:
                values = [(ExtV(first), Resolution.EXTERNAL)]  # a crate outside the workspace
        for seg in names[1:]:
            nxt: list[tuple[Value, Resolution]] = []
            for v, how in values:
                if seg == "super" and isinstance(v, ModV):
                    if v.module.parent is not None:
                        nxt.append((ModV(v.module.parent), how))
                    continue
                nxt.extend(self._member(v, seg, ctx, how))
            values = nxt
            if not values:
                return []
        return values

    def _qualified(self, ctx: _Ctx, text: str) -> list[tuple[Value, Resolution]]:
        te = parse_type(text + "::x")
        if te.kind != "qualified":
            ty = self.type_of(ctx, parse_type(text[1:-1]))
            return [(_type_value(ty), Resolution.TYPED)] if ty is not None else []
        self_te, trait_te = te.args
        ty = self.type_of(ctx, self_te)
        trait = self.trait_of(ctx, trait_te)
        if isinstance(trait, RustSymbol):
            return [(QualV(ty, trait), Resolution.TYPED)]
        if trait:
            return [(ExtV(trait), Resolution.EXTERNAL)]
        return []

    def _member(
        self, value: Value, name: str, ctx: _Ctx | None, how: Resolution = Resolution.DIRECT
    ) -> list[tuple[Value, Resolution]]:
        """``value::name``: a module item, an associated function or variant, an external path."""
        if isinstance(value, ModV):
            return [(v, _weaker(how, h)) for v, h in self._module_lookup(value.module, name, frozenset())]
        if isinstance(value, ExtV):
            return [(ExtV(f"{value.path}::{name}"), Resolution.EXTERNAL)]
        if isinstance(value, ItemV):
            sym = value.sym
            d = sym.definition
            if d.keyword == "enum":
                index = self.file_index(sym.repo, sym.path)
                for m in index.members.get(d.qualname, ()):
                    if m.kind == "variant" and _display(m.name) == name:
                        return [(ItemV(self.symbol(sym.repo, sym.path, m)), how)]
            if d.keyword == "trait":
                decl = self._trait_method(sym, name)
                if decl is not None:
                    dispatch = self._dispatch(sym, name)
                    if dispatch is not None:
                        return [(dispatch, Resolution.CANDIDATES)]
                return []
            if d.kind == "class":
                hit = self._method_on(WsTy(sym), name)
                if isinstance(hit, tuple):
                    return [(ItemV(hit[0]), _weaker(how, hit[1]))]
                if isinstance(hit, _Dispatch):
                    return [(hit, Resolution.CANDIDATES)]
                if isinstance(hit, str):
                    return [(ExtV(hit), Resolution.EXTERNAL)]
            return []
        if isinstance(value, InstV):  # a type used as a path: `Self::new`, an alias
            ty = value.ty
            if isinstance(ty, WsTy):
                return self._member(ItemV(ty.sym), name, ctx, how)
            if isinstance(ty, ExtTy):
                for world in list(self._worlds.values()):
                    world.impls()
                    for impl in world.by_type.get("ext:" + ty.last, []):
                        if name in impl.methods:
                            return [(ItemV(impl.methods[name]), Resolution.TYPED)]
                return [(ExtV(f"{ty.path}::{name}"), Resolution.EXTERNAL)]
            return []
        if isinstance(value, GenV):
            hit = self._method_on(value.ty, name)
            if isinstance(hit, _Dispatch):
                return [(hit, Resolution.CANDIDATES)]
            if isinstance(hit, str):
                return [(ExtV(hit), Resolution.EXTERNAL)]
            return []
        if isinstance(value, QualV):
            if isinstance(value.ty, WsTy):
                world = self.world(value.ty.sym.repo)
                world.impls()
                for impl in world.by_type.get(value.ty.sym, []):
                    if impl.trait == value.trait and name in impl.methods:
                        return [(ItemV(impl.methods[name]), Resolution.TYPED)]
                default = self._trait_method(value.trait, name)
                if default is not None and default.definition.keyword == "fn":
                    return [(ItemV(default), Resolution.INHERITED)]
            dispatch = self._dispatch(value.trait, name)
            return [(dispatch, Resolution.CANDIDATES)] if dispatch is not None else []
        return []

    # -- types ------------------------------------------------------------------------------------------------

    def type_of(self, ctx: _Ctx, te: TypeExpr, depth: int = 0) -> Ty | None:
        """The type a type expression names in ``ctx``; None when it is not known."""
        if depth > 12:
            return None
        if te.kind == "tuple":
            return ExtTy("()", tuple(self.type_of(ctx, a, depth + 1) or _UNKNOWN for a in te.args))
        if te.kind == "slice":
            inner = self.type_of(ctx, te.args[0], depth + 1) if te.args else None
            return ExtTy("[]", (inner,) if inner is not None else ())
        if te.kind == "dyn":
            return self._dyn(ctx, te.args, depth)
        if te.kind == "qualified":
            return None
        if te.kind != "path" or not te.path:
            return None
        args = tuple(self.type_of(ctx, a, depth + 1) or _UNKNOWN for a in te.args)
        if len(te.path) == 1:
            name = te.path[0]
            if name == "Self":
                return ctx.self_ty
            if name in ctx.generics:
                return ctx.generics[name]
        if te.path[0] == "Self" or te.path[0] in ctx.generics:
            cached = self._named_type(ctx, te.path)
        else:
            key = (ctx.repo, ctx.path, ctx.scope, "::".join(te.path))
            cached = self._types.get(key, _MISSING)
            if cached is _MISSING:
                self._types[key] = None  # recursion guard (aliases of aliases)
                cached = self._named_type(ctx, te.path)
                self._types[key] = cached
        base = cached
        if isinstance(base, _AliasRef):
            if args:  # `Alias<A, B>`: the alias's parameters are A and B in its body
                return self._alias_type(base.sym, args, depth)
            base = base.ty
        if isinstance(base, WsTy):
            return WsTy(base.sym, args) if args else base
        if isinstance(base, ExtTy):
            if base.path in FUTURE_TYPES or base.last in FUTURE_TYPES:
                output = dict(te.assoc).get("Output")
                if output is not None:
                    out_ty = self.type_of(ctx, output, depth + 1)
                    return ExtTy(base.path, (out_ty,) if out_ty is not None else ())
            if te.ret is not None:
                ret = self.type_of(ctx, te.ret, depth + 1)
                return ExtTy(base.path, (ret,) if ret is not None else ())
            return ExtTy(base.path, args) if args else base
        return base

    def _alias_type(self, alias: RustSymbol, args: tuple[Ty, ...], depth: int) -> Ty | None:
        """The type a generic alias names with these arguments: its body with its parameters bound to them."""
        key = (alias, args)
        if key in self._alias_types:
            return self._alias_types[key]
        self._alias_types[key] = None  # recursion guard
        base = self._module_ctx(alias)
        ctx = _Ctx(base.repo, base.path, base.facts, base.module, base.scope)
        for i, name in enumerate(_type_params(alias.definition)):
            ctx.generics[name] = args[i] if i < len(args) else _UNKNOWN
        found = self.type_of(ctx, parse_type(alias.definition.returns or ""), depth + 1)
        self._alias_types[key] = found
        return found

    def _named_type(self, ctx: _Ctx, path: tuple[str, ...]) -> Ty | _AliasRef | None:
        values = self._path(ctx, path, 1 << 30)
        for v, _ in values:
            if isinstance(v, ItemV):
                d = v.sym.definition
                if d.kind == "class":
                    if d.keyword == "trait":
                        return DynTy((v.sym,))
                    return WsTy(v.sym)
                if d.kind == "type" and d.returns:
                    return self.type_of(self._module_ctx(v.sym), parse_type(d.returns), 1)
            if isinstance(v, InstV):
                return _AliasRef(v.alias, v.ty) if v.alias is not None else v.ty
            if isinstance(v, GenV):
                return v.ty
            if isinstance(v, ExtV):
                return ExtTy(v.path)
        return None

    def _dyn(self, ctx: _Ctx, bounds: tuple[TypeExpr, ...], depth: int) -> Ty | None:
        traits: list[RustSymbol] = []
        ext: list[str] = []
        args: list[tuple[Ty, ...]] = []
        for bound in bounds:
            if bound.kind != "path":
                continue
            name = bound.path[-1]
            if name in ("Future", "IntoFuture") and bound.assoc:
                output = self.type_of(ctx, dict(bound.assoc).get("Output") or bound, depth + 1)
                return ExtTy("Future", (output,) if output is not None else ())
            if name in ("Stream", "Iterator", "IntoIterator") and bound.assoc:
                item = self.type_of(ctx, dict(bound.assoc).get("Item") or bound, depth + 1)
                return ExtTy("Seq", (item,) if item is not None else ())
            if name in ("Fn", "FnMut", "FnOnce"):
                return ExtTy(name)
            found = self.trait_of(ctx, bound)
            if isinstance(found, RustSymbol):
                traits.append(found)
                args.append(tuple(self.type_of(ctx, a, depth + 1) or _UNKNOWN for a in bound.args))
            elif found:
                ext.append(found)
        return DynTy(tuple(traits), tuple(ext), tuple(args) if any(args) else ())

    def trait_of(self, ctx: _Ctx, te: TypeExpr) -> RustSymbol | str | None:
        """A trait named by a type expression: its symbol in the workspace, or its external path."""
        if te.kind != "path" or not te.path:
            return None
        if te.path[-1] in ("Send", "Sync", "Sized", "Unpin", "Copy", "Clone", "Debug", "'static"):
            return te.path[-1] if len(te.path) == 1 else "::".join(te.path)
        values = self._path(ctx, te.path, 1 << 30)
        for v, _ in values:
            if isinstance(v, ItemV) and v.sym.definition.keyword == "trait":
                return v.sym
            if isinstance(v, ExtV):
                return v.path
        return None


_MISSING = object()


@dataclass(frozen=True, slots=True)
class _AliasRef:
    """A generic type alias as a type name: the alias, and the type it names without arguments."""

    sym: RustSymbol
    ty: Ty


_TEST_ATTR = re.compile(r"#\[\s*(?:[\w:]+::)?test\s*(?:\(|\])")
_ARG = re.compile(r"(?:&\s*(?:mut\s+)?)?([A-Za-z_]\w*)((?:\.[A-Za-z_]\w*(?:\(\))?)*)")


def _arg_chain(text: str) -> tuple[str, ...]:
    """The chain of an argument written as a name, a field path or plain method calls (``tx``,
    ``&self.tx``, ``tx.clone()``); empty for anything else."""
    m = _ARG.fullmatch(text.strip())
    if m is None or m.group(1) == "mut":
        return ()
    rest = [f".{part}" for part in m.group(2).split(".")[1:]]
    return (m.group(1), *rest)


def _param_name(d: Definition, position: int, method: bool) -> str | None:
    """The parameter of ``d`` that receives argument ``position`` of a call (``self`` is not an argument
    of a method call)."""
    params = [p for p in d.params if not (method and p.name == "self")]
    if position >= len(params) or not re.fullmatch(r"[A-Za-z_]\w*", params[position].name):
        return None
    return params[position].name


def _sender_type(ty: Ty) -> bool:
    """A channel sender, or a collection (``Vec``...) of them."""
    if not isinstance(ty, ExtTy):
        return False
    if ty.last in SENDER_TYPES:
        return True
    inner = _element(ty, False) if ty.last in SEQ_TYPES else None
    return isinstance(inner, ExtTy) and inner.last in SENDER_TYPES


def _compatible(a: Ty, b: Ty, depth: int = 0) -> bool:
    """Whether two types may be the same type: False only when both are known and differ (a different
    workspace type, a different external type by name, or such a difference in their arguments)."""
    if depth > 8 or isinstance(a, DynTy) or isinstance(b, DynTy):
        return True
    if isinstance(a, WsTy) and isinstance(b, WsTy):
        if a.sym != b.sym:
            return False
    elif isinstance(a, ExtTy) and isinstance(b, ExtTy):
        if a.last != b.last:
            return False
    else:
        return False
    return len(a.args) != len(b.args) or all(_compatible(x, y, depth + 1) for x, y in zip(a.args, b.args, strict=True))


def _type_params(d: Definition) -> tuple[str, ...]:
    """The generic type parameters of an item, in order (where-clause predicates on them repeat no name)."""
    names: list[str] = []
    for bound in d.bounds:
        name = bound.partition(":")[0].strip()
        if re.fullmatch(r"[A-Za-z_]\w*", name) and name != "Self" and name not in names:
            names.append(name)
    return tuple(names)


_UNWRAP_ELEMENTS = frozenset(f".{m}()" for m in UNWRAP_METHODS)
FUTURE_ADAPTERS_NAMES = frozenset({"instrument", "in_current_span", "boxed", "fuse", "with_current_subscriber"})


class _Dispatch:
    """A trait method reached through ``dyn``/``impl``/a bound: the declaration and the impls it may run."""

    def __init__(
        self, resolver: RustResolver, decl: RustSymbol | None, candidates: tuple[RustSymbol, ...], note: str
    ) -> None:
        self.decl = decl
        self.candidates = candidates
        self.note = note

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Dispatch) and (self.decl, self.candidates) == (other.decl, other.candidates)

    def __hash__(self) -> int:
        return hash((self.decl, self.candidates))

    def outcome(self) -> Outcome:
        target = self.decl.qualname if self.decl is not None else self.candidates[0].qualname
        if not self.candidates and self.decl is not None:
            return Outcome(Resolution.CANDIDATES, target, callee=self.decl, note="no impl in the workspace")
        return Outcome(Resolution.CANDIDATES, target, callee=self.decl, candidates=self.candidates, note=self.note)


_MethodHit = tuple[RustSymbol, Resolution, "RustSymbol | None", Ty] | _Dispatch | str


def _sym_key(sym: RustSymbol) -> tuple[str, str, str, int]:
    return sym.qualname, sym.repo, sym.path, sym.definition.line


def _type_value(ty: Ty) -> Value:
    if isinstance(ty, WsTy):
        return ItemV(ty.sym) if not ty.args else InstV(ty)
    return InstV(ty)


def _quiet_path(path: str) -> bool:
    """Whether an external path call is plumbing: a listed constructor or conversion, a std container's
    ``new``, or a plumbing method called on a type (``Foo::default``, ``Arc::clone``)."""
    parts = path.split("::")
    tail2 = "::".join(parts[-2:])
    if path in QUIET_CALLS or parts[-1] in QUIET_CALLS or tail2 in QUIET_CALLS:
        return True
    if len(parts) < 2 or not parts[-2][:1].isupper():
        return False
    if parts[-1] in ("new", "default") and parts[-2] in DEREF_TYPES | CELL_TYPES | SEQ_TYPES | MAP_TYPES:
        return True
    return parts[-1] in QUIET_METHODS


def _unwrapped(ty: Ty, element: str) -> Ty:
    """The type after ``?``, ``.await`` or ``.unwrap()``: the content of a Result/Option/future."""
    if isinstance(ty, ExtTy):
        if element == ".await":
            if (ty.last in FUTURE_TYPES or ty.path == "Future") and ty.args:
                inner = ty.args[0]
                return inner
            if ty.last in ("Pin", "Box") and ty.args:
                return _unwrapped(ty.args[0], element)
            return ty
        if ty.last in OPTION_TYPES and ty.args:
            return ty.args[0]
    return ty


def _element(ty: Ty, iterating: bool) -> Ty | None:
    """An element of a container: ``v[i]`` or ``for x in v``."""
    if not isinstance(ty, ExtTy):
        return None
    last = ty.last
    if last in DEREF_TYPES and ty.args:
        return _element(ty.args[0], iterating)
    if (last in SEQ_TYPES or ty.path == "[]" or last in OPTION_TYPES) and ty.args:
        return ty.args[0]
    if last in MAP_TYPES and len(ty.args) >= 2:
        return ExtTy("()", (ty.args[0], ty.args[1])) if iterating else ty.args[1]
    if last in ("Receiver", "UnboundedReceiver") and ty.args:
        return ty.args[0]
    return None


def _std_method_result(ty: Ty, name: str) -> Ty | None:
    """The result type of a std method on a std type, where it keeps a workspace type visible."""
    if not isinstance(ty, ExtTy):
        return None
    last, args = ty.last, ty.args
    if last in OPTION_TYPES and args:
        if name in UNWRAP_METHODS:
            return args[0]
        if name in KEEP_METHODS:
            return ty
    if last in DEREF_TYPES and args:
        if name in ("clone",):
            return ty
        if name in ("as_ref", "deref", "as_mut", "deref_mut", "get_ref", "get_mut", "as_deref", "borrow"):
            return args[0]
        if last in ("Lazy", "LazyLock") or (last == "ArcSwap" and name in ("load", "load_full")):
            return args[0]
        return _std_method_result(args[0], name)
    if last in CELL_TYPES and args and name in CELL_ACCESSORS:
        if name in ("get",) and last in ("OnceCell", "OnceLock"):
            return ExtTy("Option", args[:1])
        return args[0]
    if last == "Weak" and args and name == "upgrade":
        return ExtTy("Option", (ExtTy("Arc", args[:1]),))
    if (last in SEQ_TYPES or ty.path == "[]") and args:
        if name in ("get", "first", "last", "get_mut", "first_mut", "last_mut", "pop", "pop_front", "pop_back", "next"):
            return ExtTy("Option", args[:1])
        if name in ("iter", "iter_mut", "into_iter", "drain", "values"):
            return ExtTy("Seq", args[:1])
        if name in ("filter", "rev", "skip", "take", "cloned", "copied", "peekable", "by_ref", "chain"):
            return ty
    if last in MAP_TYPES and len(args) >= 2:
        if name in ("get", "get_mut", "remove"):
            return ExtTy("Option", args[1:2])
        if name in ("values", "values_mut", "into_values"):
            return ExtTy("Seq", args[1:2])
        if name in ("keys", "into_keys"):
            return ExtTy("Seq", args[:1])
        if name in ("iter", "iter_mut", "into_iter", "drain"):
            return ExtTy("Seq", (ExtTy("()", args[:2]),))
    if last in ("Receiver", "UnboundedReceiver") and args and name in RECV_METHODS:
        return ExtTy("Option", args[:1])
    if last in FUTURE_TYPES and name in FUTURE_ADAPTERS_NAMES:
        return ty
    return None


__all__ = ["RustResolver", "RustSymbol"]
