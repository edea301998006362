"""Finding fingerprints: an identity that survives unrelated edits.

A lock is identified by its ``name`` when it has one; otherwise by the file
(as the report shows it, relative to the working directory), the function that
created it, and the text of its creation line (stripped), read from the source
when the fingerprint is made; for a lock made by a lock wrapper, also the
wrapper's file and the text of its line. Lines shifting above a lock's creation change
none of these, so an accepted finding stays accepted; editing the creation line
itself, renaming the function or moving the lock to another file makes a new
finding. When the source cannot be read, the line number stands in for the text.

A finding's fingerprint is a hash of its kind and its locks' identities (for a
cycle, in a canonical rotation), independent of which instance, thread or test
made it.
"""

from __future__ import annotations

import hashlib
import linecache

from lockorder._findings import Finding, LockRef

__all__ = ["fingerprint", "lock_identity"]


def lock_identity(lock: LockRef) -> str:
    if lock.name:
        return f"name:{lock.name}"
    path, _, line = lock.site.rpartition(":")
    text = ""
    if line.isdigit():
        text = linecache.getline(lock.source_file or path, int(line)).strip()
    identity = f"site:{path}::{lock.function}::{text or line}"
    if lock.via:  # the wrapper's line tells apart the locks one wrapper makes
        via_path, _, via_line = lock.via.rpartition(":")
        via_file = lock.key.partition(" via ")[2].rpartition(":")[0] or via_path
        via_text = linecache.getline(via_file, int(via_line)).strip() if via_line.isdigit() else ""
        identity += f"::via:{via_path}::{via_text or via_line}"
    return identity


def fingerprint(finding: Finding) -> str:
    identities = [lock_identity(lock) for lock in finding.locks]
    if finding.kind == "potential-deadlock" and identities:
        start = identities.index(min(identities))
        identities = identities[start:] + identities[:start]
    else:
        identities = sorted(identities)
    digest = hashlib.sha256("\n".join([finding.kind, *identities]).encode("utf-8"))
    return digest.hexdigest()[:24]
