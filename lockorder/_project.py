"""``[tool.lockorder]`` in pyproject.toml: ignore rules, allowed pairs, declared
orders and the baseline, for adopting lockorder without fixing everything at once.

::

    [tool.lockorder]
    ignore = ["name:metrics_*", "site:vendor/*", "module:legacy.*", "kind:long-hold"]
    allow = [["cache", "index"]]          # this inversion is accepted
    order = [["db", "cache", "log"]]      # must be taken in this order
    baseline = "lockorder-baseline.json"  # findings accepted as they are
    wrappers = ["mypkg.sync", "mypkg.util:make_lock"]  # lock wrappers and factories
    confirm_attempts = 3                  # confirm settings (docs/confirm.md)

Matching uses shell-style patterns (fnmatch) against a lock's name, its site
(``path:line`` as reports show it), or its module (the site's path as a dotted
module name). A pattern without a prefix matches the name or the site.
Every rule remembers whether it matched, so stale rules can be listed.
``wrappers`` names modules, classes or functions that make locks for their
callers: a lock made inside them belongs to the line that called them (see
docs/concepts.md, "Lock wrappers").
"""

from __future__ import annotations

import fnmatch
import os
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from lockorder._findings import Finding, LockRef
from lockorder._state import checker
from lockorder.errors import ConfigurationError

__all__ = [
    "ProjectConfig",
    "activate",
    "find_pyproject",
    "load_project_config",
    "read_baseline",
]

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

BASELINE_FORMAT = "lockorder-baseline"

_PREFIXES = ("name:", "site:", "module:", "kind:")


def _module_of(site: str) -> str:
    path = site.rpartition(":")[0]
    if path.endswith(".py"):
        path = path[:-3]
    return path.replace("\\", "/").strip("/").replace("/", ".")


def lock_matches(lock: LockRef, pattern: str) -> bool:
    if pattern.startswith("name:"):
        return bool(lock.name) and fnmatch.fnmatchcase(lock.name or "", pattern[5:])
    if pattern.startswith("site:"):
        return fnmatch.fnmatchcase(lock.site, pattern[5:])
    if pattern.startswith("module:"):
        return fnmatch.fnmatchcase(_module_of(lock.site), pattern[7:])
    return bool(lock.name and fnmatch.fnmatchcase(lock.name, pattern)) or fnmatch.fnmatchcase(
        lock.site, pattern
    )


@dataclass
class ProjectConfig:
    """The parsed ``[tool.lockorder]`` table."""

    path: str = ""
    ignore: list[str] = field(default_factory=list)
    allow: list[list[str]] = field(default_factory=list)
    order: list[list[str]] = field(default_factory=list)
    baseline: str | None = None
    baseline_fingerprints: dict[str, str] = field(default_factory=dict)
    #: fingerprint -> the identities of the accepted finding's locks (None: a
    #: baseline written before they were recorded)
    baseline_locks: dict[str, list[str] | None] = field(default_factory=dict)
    #: the baseline file's entries, as read
    baseline_entries: list[dict[str, Any]] = field(default_factory=list)
    #: lock wrappers: "module", "module:function", "module:Class.method"
    wrappers: list[str] = field(default_factory=list)
    #: rule text -> times it matched
    matched: dict[str, int] = field(default_factory=dict)
    #: confirm settings (confirm_attempts, ...): name without the prefix -> value
    confirm: dict[str, float | int] = field(default_factory=dict)

    def rules(self) -> list[str]:
        rules = [f"ignore {rule!r}" for rule in self.ignore]
        rules += [f"allow {pair!r}" for pair in self.allow]
        rules += [self.baseline_rule(fp) for fp in self.baseline_fingerprints]
        return rules

    def _hit(self, rule: str) -> None:
        self.matched[rule] = self.matched.get(rule, 0) + 1

    def suppresses(self, finding: Finding) -> str | None:
        """The rule that suppresses ``finding``, if one does (and count the match)."""
        for rule in self.ignore:
            if rule.startswith("kind:"):
                if fnmatch.fnmatchcase(finding.kind, rule[5:]):
                    self._hit(f"ignore {rule!r}")
                    return f"ignore {rule!r}"
                continue
            if any(lock_matches(lock, rule) for lock in finding.locks):
                self._hit(f"ignore {rule!r}")
                return f"ignore {rule!r}"
        if finding.kind == "potential-deadlock":
            for pair in self.allow:
                if _pair_matches(finding.locks, pair):
                    self._hit(f"allow {pair!r}")
                    return f"allow {pair!r}"
        if self.baseline_fingerprints:
            from lockorder.report.fingerprint import fingerprint

            fp = fingerprint(finding)
            if fp in self.baseline_fingerprints:
                rule = self.baseline_rule(fp)
                self._hit(rule)
                return rule
        return None

    def use_baseline(self, path: str) -> None:
        """Accept the findings of the baseline file at ``path``."""
        self.baseline = path
        self.baseline_entries = entries = read_baseline(path)
        self.baseline_fingerprints = {
            entry["fingerprint"]: str(entry.get("message", "")) for entry in entries
        }
        self.baseline_locks = {entry["fingerprint"]: entry.get("locks") for entry in entries}

    def baseline_rule(self, fp: str) -> str:
        """How rules, reports and stale lists name the baseline entry ``fp``."""
        return f"baseline {fp} ({self.baseline_fingerprints[fp]})"

    def baseline_matched(self, fp: str) -> None:
        """Count the baseline entry ``fp`` as matched (a finding had it)."""
        if fp in self.baseline_fingerprints:
            self._hit(self.baseline_rule(fp))

    def stale(self, classes: Iterable[dict[str, Any]]) -> list[str]:
        """Rules that matched nothing although the run could have matched them.

        ``classes``: the lock classes the run made (a wire graph's). A rule that
        names locks could have matched when the run made a lock it names (an
        allowed pair: one for each side); a baseline entry, when the run made every
        lock of the accepted finding (entries of baselines written before the locks
        were recorded: never judged); a ``kind:`` rule, always."""
        classes = list(classes)
        locks = [_class_ref(cls) for cls in classes]
        stale = []
        for rule in self.ignore:
            text = f"ignore {rule!r}"
            if not self.matched.get(text) and (
                rule.startswith("kind:") or any(lock_matches(lock, rule) for lock in locks)
            ):
                stale.append(text)
        for pair in self.allow:
            text = f"allow {pair!r}"
            if not self.matched.get(text) and all(
                any(lock_matches(lock, side) for lock in locks) for side in pair
            ):
                stale.append(text)
        stale.extend(self.baseline_rule(fp) for fp in self.stale_baseline(classes))
        return stale

    def stale_baseline(self, classes: Iterable[dict[str, Any]]) -> list[str]:
        """The fingerprints of the baseline entries whose finding no longer occurs:
        no finding matched them although the run made every lock of it (see
        :meth:`stale`; ``classes`` as there)."""
        if not self.baseline_fingerprints:
            return []
        from lockorder.report.fingerprint import lock_identity

        made = {lock_identity(_class_ref(cls)) for cls in classes}
        stale = []
        for fp in self.baseline_fingerprints:
            identities = self.baseline_locks.get(fp)
            if (
                not self.matched.get(self.baseline_rule(fp))
                and identities
                and set(identities) <= made
            ):
                stale.append(fp)
        return stale

    def order_position(self, lock: LockRef) -> tuple[int, int] | None:
        """(which declared order, position in it) of a lock, if it is in one."""
        for number, names in enumerate(self.order):
            for position, pattern in enumerate(names):
                if lock_matches(
                    lock, pattern if pattern.startswith(_PREFIXES) else f"name:{pattern}"
                ):
                    return number, position
        return None


def _class_ref(cls: dict[str, Any]) -> LockRef:
    """A wire graph's lock class as findings name locks."""
    via = cls.get("via")
    return LockRef(
        key=str(cls.get("key", "")),
        site=str(cls.get("site", "")),
        name=cls.get("name"),
        kind=str(cls.get("kind", "Lock")),
        function=str(cls.get("function", "")),
        via=str(via.get("site", "")) if isinstance(via, dict) else "",
    )


def _pair_matches(locks: tuple[LockRef, ...], pair: list[str]) -> bool:
    first, second = pair
    classes = {lock.key: lock for lock in locks}
    if len(classes) != 2:
        return False
    a, b = classes.values()
    return (lock_matches(a, first) and lock_matches(b, second)) or (
        lock_matches(a, second) and lock_matches(b, first)
    )


def find_pyproject(start: str | None = None) -> str | None:
    """The nearest pyproject.toml at or above ``start`` (default: the working directory)."""
    directory = os.path.abspath(start or os.getcwd())
    while True:
        candidate = os.path.join(directory, "pyproject.toml")
        if os.path.isfile(candidate):
            return candidate
        parent = os.path.dirname(directory)
        if parent == directory:
            return None
        directory = parent


#: a word and a colon at the start of a pattern: a prefix (a site pattern's colon
#: follows a file name, which has a dot or a slash)
_PREFIX_LIKE = re.compile(r"[A-Za-z_]+:")


def _check_prefix(pattern: str, key: str, path: str, known: tuple[str, ...]) -> None:
    """An unknown prefix is a typo to report now, not a rule that never matches."""
    found = _PREFIX_LIKE.match(pattern)
    if found and found.group(0) not in known:
        raise ConfigurationError(
            f"tool.lockorder.{key}",
            pattern,
            "a pattern with one of the prefixes " + ", ".join(known) + " or none",
            path,
            f"tool.lockorder.{key}: unknown prefix {found.group(0)!r} in {pattern!r} "
            f"(the prefixes are {', '.join(known)}; a pattern without one matches a "
            f"lock's name or site) in {path}",
        )


def _strings(value: Any, key: str, path: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigurationError(f"tool.lockorder.{key}", value, "a list of strings", path)
    return list(value)


#: [tool.lockorder] keys of the confirm settings (docs/confirm.md)
CONFIRM_KEYS = ("confirm_attempts", "confirm_budget", "confirm_total", "confirm_pause")


def load_project_config(path: str | None = None, *, with_baseline: bool = True) -> ProjectConfig:
    """Read ``[tool.lockorder]`` from ``path`` (or the nearest pyproject.toml), and
    the baseline file it names unless ``with_baseline`` is false (another baseline
    replaces it).

    Raises:
        ConfigurationError: the file is not valid TOML, or a setting has the
            wrong type; the message names the key and the file.
        ReportError: the baseline file is missing or cannot be used (a
            misspelled path is said, not taken for an empty baseline).
    """
    if path is None:
        path = find_pyproject()
        if path is None:
            return ProjectConfig()
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise ConfigurationError(
            "pyproject.toml", path, "a readable file", path, f"cannot read {path}: {exc.strerror}"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(
            "pyproject.toml", path, "valid TOML", path, f"{path} is not valid TOML: {exc}"
        ) from None
    table = data.get("tool", {}).get("lockorder", {})
    if not isinstance(table, dict):
        raise ConfigurationError("tool.lockorder", table, "a table", path)
    known = {"ignore", "allow", "order", "baseline", "wrappers", *CONFIRM_KEYS}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigurationError(
            "a key of tool.lockorder",
            unknown[0],
            "one of " + ", ".join(sorted(known)),
            path,
        )
    config = ProjectConfig(path=path)
    from lockorder._confirm import OPTION_LIMITS, parse_option

    for key in CONFIRM_KEYS:
        if key in table:
            name = key.removeprefix("confirm_")
            value = parse_option(name, table[key])
            if value is None or isinstance(table[key], str):
                raise ConfigurationError(
                    f"tool.lockorder.{key}", table[key], OPTION_LIMITS[name][0], path
                )
            config.confirm[name] = value
    config.ignore = _strings(table.get("ignore", []), "ignore", path)
    for rule in config.ignore:
        _check_prefix(rule, "ignore", path, _PREFIXES)
    config.wrappers = _strings(table.get("wrappers", []), "wrappers", path)
    for wrapper in config.wrappers:
        if not _WRAPPER.fullmatch(wrapper):
            raise ConfigurationError(
                "tool.lockorder.wrappers",
                wrapper,
                'a module ("pkg.locks") or a module and a function or class in it '
                '("pkg.locks:make_lock", "pkg.locks:Lock")',
                path,
            )
    for key in ("allow", "order"):
        value = table.get(key, [])
        if not isinstance(value, list) or not all(
            isinstance(group, list) and all(isinstance(item, str) for item in group)
            for group in value
        ):
            raise ConfigurationError(
                f"tool.lockorder.{key}", value, "a list of lists of lock names", path
            )
        if key == "allow" and any(len(group) != 2 for group in value):
            raise ConfigurationError(
                "tool.lockorder.allow", value, "a list of pairs [first, second]", path
            )
        for group in value:
            for pattern in group:
                _check_prefix(pattern, key, path, _PREFIXES[:3])
        setattr(config, key, [list(group) for group in value])
    baseline = table.get("baseline")
    if baseline is not None:
        if not isinstance(baseline, str):
            raise ConfigurationError("tool.lockorder.baseline", baseline, "a file path", path)
        config.baseline = os.path.join(os.path.dirname(path), baseline)
        if with_baseline:
            if not os.path.exists(config.baseline):
                from lockorder.report import ReportError

                raise ReportError(
                    config.baseline,
                    "unreadable",
                    f"no such baseline file (tool.lockorder.baseline in {path}; "
                    "'lockorder baseline REPORT.json -o FILE' writes one)",
                )
            config.use_baseline(config.baseline)
    return config


_DOTTED = r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*"
_WRAPPER = re.compile(f"{_DOTTED}(?::{_DOTTED})?")


def activate(config: ProjectConfig | None) -> None:
    """Make ``config`` the run's [tool.lockorder] (None: none)."""
    from lockorder import _sites

    checker.use_project(config)
    _sites.set_wrappers(config.wrappers if config is not None else ())


def read_baseline(path: str) -> list[dict[str, Any]]:
    """The entries of the baseline file at ``path`` (``lockorder baseline`` wrote
    it), checked against its schema: :class:`~lockorder.report.ReportError` says
    what is wrong, naming the file and the field."""
    from lockorder.report import ReportError, read_json
    from lockorder.report._schema import SchemaError, check_baseline

    data = read_json(path, "baseline")
    if not isinstance(data, dict) or data.get("format") != BASELINE_FORMAT:
        raise ReportError(path, "not-a-report", "valid JSON but not a lockorder baseline")
    version = data.get("version")
    if type(version) is not int or version != 1:
        raise ReportError(path, "version", f"baseline version {version!r}; this lockorder reads 1")
    try:
        check_baseline(data)
    except SchemaError as exc:
        raise ReportError(path, "not-a-report", f"not a lockorder baseline: {exc}") from None
    return list(data.get("findings", []))
