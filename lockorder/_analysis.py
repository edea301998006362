"""Turning a cycle of the lock-order graph into a finding: its signature and its
report. Shared by the live tracker and the merge of several runs' graphs."""

from __future__ import annotations

from lockorder._findings import EdgeReport, Finding, LockRef, cycle_holder
from lockorder._graph import Edge, LockClass, made_alone, thread_labels, thread_phrase

__all__ = ["class_ref", "cycle_finding", "cycle_signature"]


def class_ref(cls: LockClass, instance: str = "") -> LockRef:
    return LockRef(cls.key, cls.site, cls.name, cls.kind, cls.function, instance, cls.via)


def cycle_signature(cycle: list[Edge], classes: list[LockClass]) -> str:
    """The cycle's identity: its class keys in a canonical rotation (one per class
    for two locks of one class)."""
    keys = [classes[edge.src].key for edge in cycle]
    if cycle[0].instances:
        return "potential-deadlock:same-class:" + keys[0]
    start = keys.index(min(keys))
    return "potential-deadlock:" + "|".join(keys[start:] + keys[:start])


def cycle_finding(
    cycle: list[Edge],
    classes: list[LockClass],
    *,
    found_in: str,
    single: bool,
    policy: str,
    private: bool = False,
    test: str | None,
    signature: str,
) -> Finding:
    """The potential-deadlock finding of ``cycle`` (its closing edge first).

    ``private``: single although several threads made its edges, because some
    class of it never had a lock acquired by two threads (graph.judge)."""
    # present the edges in the order they were made: the closing edge last
    cycle = cycle[1:] + cycle[:1]
    numbers: dict[int, str] = {}
    for edge in cycle:
        if edge.instances:
            numbers.setdefault(edge.instances[0], f"(instance {len(numbers) + 1})")
    labels = thread_labels(cycle)
    threads = tuple(labels.values())
    edges = []
    for edge in cycle:
        if edge.instances:
            src = class_ref(classes[edge.src], numbers[edge.instances[0]])
            dst = class_ref(classes[edge.dst], numbers[edge.instances[1]])
        else:
            src = class_ref(classes[edge.src])
            dst = class_ref(classes[edge.dst])
        edges.append(
            EdgeReport(
                src=src,
                dst=dst,
                thread=edge.first.thread,
                threads=tuple(labels[ident] for ident in edge.threads),
                stack=edge.first.stack,
                held=edge.first.held,
                test=edge.first.test,
                tests=tuple(edge.tests),
                held_at=edge.first.held_at,
                thread_started_at=edge.first.started_at,
                holder=edge.first.holder,
            )
        )
    locks = tuple(e.src for e in edges)
    same_class = bool(cycle[0].instances)
    what = "two locks of one class taken in both orders" if same_class else "lock-order inversion"
    alone = made_alone(cycle)
    maker = labels[min(alone, key=str)] if alone else threads[0]
    # the holders are named by their kind: an asyncio task is not a thread
    kind = cycle_holder(edges)
    lonely = list(
        dict.fromkeys(classes[edge.src].label for edge in cycle if not classes[edge.src].shared)
    )
    # one thread made every edge, and others repeated some on locks of their own;
    # or no thread made them all (each thread one method of an object of its own)
    alone_clause = (
        f", but {thread_phrase(maker, kind)} made all of them alone and" if alone else ", but"
    )
    private_why = (
        "the edges were made by "
        + ", ".join(repr(t) for t in threads)
        + f"{alone_clause} no lock of "
        + ", ".join(lonely)
        + f" was ever acquired by two {kind}s: each {kind} took locks of its own (one "
        f"object per {kind}), so none could block another in this run"
    )
    if single and private and policy != "strict":
        severity = "warning"
        reason = (
            f"{private_why} (seen in one {kind} only); a real deadlock if two {kind}s can "
            "run these paths on the same locks; it becomes a full finding once a lock of "
            f"every class of the cycle is acquired by two {kind}s"
        )
    elif single and policy != "strict":
        severity = "warning"
        reason = (
            f"every edge was made by {thread_phrase(threads[0], kind)} alone (seen in one "
            f"{kind} only): a real deadlock if two {kind}s can run these paths, a false alarm "
            f"if the locks are private to one {kind}; it becomes a full finding once a "
            f"second {kind} makes one of its edges"
        )
    else:
        severity = "error"
        if single and private:
            reason = f"{private_why}; counted in full because single_thread='strict'"
        elif single:
            reason = (
                f"every edge was made by {thread_phrase(threads[0], kind)} alone; counted in full "
                "because single_thread='strict'"
            )
        else:
            reason = (
                "the edges were made by "
                + ", ".join(repr(t) for t in threads)
                + " and no common lock was held around all of them"
            )
    return Finding(
        kind="potential-deadlock",
        severity=severity,
        message=f"{what}: " + " -> ".join(lock.label for lock in locks) + f" -> {locks[0].label}",
        locks=locks,
        thread=found_in,
        stack=edges[-1].stack,
        cycle=tuple(edges),
        reason=reason,
        single_thread=single,
        test=test,
        signature=signature,
    )
