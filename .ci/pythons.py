"""Provide CPython 3.14 and 3.15 from Debian's own builds, in a private prefix.

No interpreter for these versions is installed on CI's machines and the package
index has none. Debian's archive serves unstable's (sid's) binary packages of
``python3.14`` and ``python3.15``; they need a newer C library than the
machine's, so this script unpacks each interpreter together with every library
it needs (sid's libc and loader included) into a prefix of its own, and points
the interpreter at them with patchelf (also sid's, run through the unpacked
loader): the loader path (``PT_INTERP``) and an ``RPATH``, which the extension
modules loaded later inherit. Nothing is installed on the system and no root is
needed.

Every download is checked: the release file's signature with ``gpgv`` against
the machine's Debian archive keyring, the package index against the release
file's SHA-256, each package against the index's.

Usage::

    python3 .ci/pythons.py 3.14 3.15      # prints one interpreter path per line

The prefixes live in a cache outside the checkout (``$LOCKORDER_PYTHONS``, else
``$XDG_CACHE_HOME/lockorder/pythons``, else ``~/.cache/lockorder/pythons``), so a
machine pays for them once (about 30 MB of downloads per version); a prefix
that is complete and runs is used again without touching the network.
"""

from __future__ import annotations

import hashlib
import json
import lzma
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

MIRROR = os.environ.get("LOCKORDER_DEBIAN_MIRROR", "http://deb.debian.org/debian")
SUITE = "sid"
ARCH = "amd64"
TRIPLET = "x86_64-linux-gnu"
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
INDEX = f"main/binary-{ARCH}/Packages.xz"
# the layout version of a prefix: bump it when what a prefix holds changes
LAYOUT = 3


def log(message: str) -> None:
    print(f"pythons: {message}", file=sys.stderr, flush=True)


def cache_root() -> Path:
    if os.environ.get("LOCKORDER_PYTHONS"):
        return Path(os.environ["LOCKORDER_PYTHONS"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "lockorder" / "pythons"


def download(url: str, attempts: int = 3) -> bytes:
    for attempt in range(1, attempts + 1):
        try:
            with urllib.request.urlopen(url, timeout=120) as response:
                return response.read()
        except OSError as error:
            if attempt == attempts:
                raise SystemExit(f"pythons: cannot download {url}: {error}") from None
            log(f"{url}: {error}; trying again")
    raise AssertionError("unreachable")


def signed_release(work: Path) -> str:
    """The suite's InRelease, its signature checked; its text."""
    path = work / "InRelease"
    path.write_bytes(download(f"{MIRROR}/dists/{SUITE}/InRelease"))
    if shutil.which("gpgv") is None or not os.path.exists(KEYRING):
        raise SystemExit(
            f"pythons: gpgv and {KEYRING} are needed to check Debian's release file"
            " (Debian packages gpgv and debian-archive-keyring)"
        )
    check = subprocess.run(
        ["gpgv", "--keyring", KEYRING, str(path)], capture_output=True, text=True
    )
    if check.returncode != 0:
        raise SystemExit(f"pythons: bad signature on {SUITE}'s InRelease:\n{check.stderr}")
    return path.read_text(encoding="utf-8", errors="replace")


def package_index(release: str) -> dict[str, dict[str, str]]:
    """The suite's package index (checked against the release file), by name."""
    sums = re.search(r"^SHA256:\n((?: .*\n)+)", release, re.MULTILINE)
    if sums is None:
        raise SystemExit("pythons: no SHA256 section in the release file")
    expected = None
    for line in sums.group(1).splitlines():
        digest, _size, name = line.split()
        if name == INDEX:
            expected = digest
    if expected is None:
        raise SystemExit(f"pythons: {INDEX} is not in the release file")
    data = download(f"{MIRROR}/dists/{SUITE}/{INDEX}")
    if hashlib.sha256(data).hexdigest() != expected:
        raise SystemExit(f"pythons: {INDEX} does not match the release file's SHA-256")
    packages: dict[str, dict[str, str]] = {}
    for block in lzma.decompress(data).decode("utf-8", "replace").split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            if line and not line[0].isspace() and ":" in line:
                key, value = line.split(":", 1)
                fields[key] = value.strip()
        if "Package" in fields:
            packages.setdefault(fields["Package"], fields)
    return packages


def is_library(fields: dict[str, str]) -> bool:
    """A package of shared libraries (``libc6``, ``zlib1g``), not a -dev one."""
    name = fields["Package"]
    if name.endswith("-dev"):
        return False
    return name.startswith("lib") or fields.get("Section", "").split("/")[-1] == "libs"


def closure(packages: dict[str, dict[str, str]], roots: list[str]) -> list[str]:
    """The roots and the shared libraries they depend on, transitively.

    Only libraries and the interpreter's own packages are followed: data packages (tzdata, media-types, netbase) and tools are not
    needed to run the interpreter and its test suite. Of alternatives
    (``a | b``), the first the index has.
    """
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        if name not in packages:
            raise SystemExit(f"pythons: {SUITE} has no package {name}")
        seen.add(name)
        for key in ("Pre-Depends", "Depends"):
            for group in packages[name].get(key, "").split(","):
                for alternative in group.split("|"):
                    dep = re.split(r"[ (:]", alternative.strip())[0]
                    if dep in packages:
                        if is_library(packages[dep]):
                            todo.append(dep)
                        break
    return sorted(seen)


def fetch_package(fields: dict[str, str], debs: Path) -> Path:
    path = debs / os.path.basename(fields["Filename"])
    if path.exists() and hashlib.sha256(path.read_bytes()).hexdigest() == fields["SHA256"]:
        return path
    data = download(f"{MIRROR}/{fields['Filename']}")
    if hashlib.sha256(data).hexdigest() != fields["SHA256"]:
        raise SystemExit(f"pythons: {fields['Filename']} does not match the index's SHA-256")
    path.write_bytes(data)
    return path


def runs(python: Path) -> bool:
    try:
        done = subprocess.run(
            [str(python), "-c", "import ssl, sqlite3, ctypes, lzma, bz2, zlib, pyexpat, decimal"],
            capture_output=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def provide(version: str, root: Path) -> Path:
    prefix = root / version
    python = prefix / "usr" / "bin" / f"python{version}"
    stamp = prefix / "lockorder-prefix.json"
    if stamp.exists() and python.exists():
        try:
            recorded = json.loads(stamp.read_text())
        except ValueError:
            recorded = {}
        if recorded.get("layout") == LAYOUT and runs(python):
            return python
    log(f"building a private CPython {version} from Debian {SUITE}'s packages in {prefix}")
    root.mkdir(parents=True, exist_ok=True)
    debs = root / "debs"
    debs.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root) as scratch:
        work = Path(scratch)
        packages = package_index(signed_release(work))
        roots = [
            f"python{version}-minimal",
            f"libpython{version}-stdlib",
            f"libpython{version}-dev",  # the headers the C extension builds against
            # CPython's own test package, which Debian ships apart: its
            # Lib/test/lock_tests.py is the primitives' conformance suite, and
            # benchmarks/cpython_suites.py runs its threading suites
            f"libpython{version}-testsuite",
            "python3-pip-whl",  # pip, as a wheel, for a venv made --without-pip
            "patchelf",
        ]
        names = closure(packages, roots)
        staging = work / "prefix"
        staging.mkdir()
        for name in names:
            deb = fetch_package(packages[name], debs)
            subprocess.run(["dpkg-deb", "-x", str(deb), str(staging)], check=True)
        libdirs = [
            staging / "usr" / "lib" / TRIPLET,
            staging / "lib" / TRIPLET,
        ]
        loaders = sorted(staging.glob(f"usr/lib/{TRIPLET}/ld-linux-*.so.*")) or sorted(
            staging.glob("usr/lib64/ld-linux-*.so.*")
        )
        if not loaders:
            raise SystemExit("pythons: no loader (ld-linux) in the unpacked C library")
        # the final paths, under prefix/, which staging is renamed to
        final_libs = ":".join(str(prefix / d.relative_to(staging)) for d in libdirs)
        final_loader = prefix / loaders[0].relative_to(staging)
        staged_libs = ":".join(str(d) for d in libdirs)
        patchelf = [str(loaders[0]), "--library-path", staged_libs, str(staging / "usr/bin/patchelf")]
        target = staging / "usr" / "bin" / f"python{version}"
        # two calls: patchelf 0.18 given both at once writes a python3.14 that
        # crashes at start (seen here); an RPATH, not a RUNPATH, because an
        # RPATH also serves the libraries and extension modules loaded later
        subprocess.run([*patchelf, "--force-rpath", "--set-rpath", final_libs, str(target)], check=True)
        subprocess.run([*patchelf, "--set-interpreter", str(final_loader), str(target)], check=True)
        # Debian's pyconfig.h only includes <TRIPLET/pythonX.Y/pyconfig.h>, found
        # under /usr/include on a Debian system, not under this prefix: the real
        # one takes its place, so that a C extension builds with the prefix's
        # include directory alone
        include = staging / "usr" / "include"
        shutil.copyfile(
            include / TRIPLET / f"python{version}" / "pyconfig.h",
            include / f"python{version}" / "pyconfig.h",
        )
        (staging / "lockorder-prefix.json").write_text(
            json.dumps(
                {
                    "layout": LAYOUT,
                    "suite": SUITE,
                    "packages": {name: packages[name]["Version"] for name in names},
                },
                indent=1,
            )
        )
        if prefix.exists():
            shutil.rmtree(prefix)
        staging.rename(prefix)
    if not runs(python):
        raise SystemExit(f"pythons: the unpacked {python} does not run")
    log(f"CPython {version}: {python}")
    return python


def main(argv: list[str]) -> int:
    versions = argv or ["3.14", "3.15"]
    for version in versions:
        if not re.fullmatch(r"3\.\d+", version):
            raise SystemExit(f"pythons: not a CPython version: {version!r}")
    if os.uname().machine != "x86_64":
        raise SystemExit("pythons: only x86_64 machines are provided for")
    if shutil.which("dpkg-deb") is None:
        raise SystemExit("pythons: dpkg-deb is needed to unpack Debian's packages")
    root = cache_root()
    for version in versions:
        print(provide(version, root))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
