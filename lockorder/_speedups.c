/* lockorder._speedups: the steady state of a checked Lock and RLock, in C.
 *
 * The Python implementation (lockorder/_primitives.py, Lock and RLock) stays the
 * reference and the fallback: every function here does the common case only
 * (the thread's chain of held lock classes already validated, the lock free,
 * the lock last taken by this thread; for an RLock also a re-entry by its
 * holder and a release that only counts down) and otherwise calls the Python method it
 * stands for, before changing anything. So the two implementations behave the
 * same by construction: the slow path (new edges, findings, waits, the
 * deadlock check) is always Python's.
 *
 * The state lives where the Python code keeps it: the lock's __slots__ and the
 * thread's ThreadState __slots__ (read and written at the offsets of their
 * member descriptors), the ThreadState in lockorder._held._tls. A chain key is
 * Python's hash((previous key, class id)), computed here with CPython's tuple
 * hash (the same on every supported version). Where the raw lock's layout is
 * the one read for this version (checked at setup), it is taken and given
 * back without a call (the raw locks section below); else its methods are
 * called.
 *
 * Everything runs under the GIL; lockorder/_impl.py does not load this module
 * on a free-threaded build (Py_mod_gil says so too).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

typedef struct {
    /* lockorder._held._tls and the attribute name "ts" */
    PyObject *tls;
    PyObject *ts_name;
    /* whether tls is a plain _thread._local, and the per-thread dict's key */
    int cache;
    PyObject *cache_key;
    PyTypeObject *ts_type;
    /* ThreadState slots */
    Py_ssize_t ts_chains, ts_held, ts_known;
    /* _Checked slots, and RLock's recursion count */
    Py_ssize_t lo_owner, lo_user, lo_cid, lo_raw, lo_acquire, lo_release, lo_at, lo_count;
    /* _Checked's memo of the chain last found known (see take()) */
    Py_ssize_t lo_memo_known, lo_memo_previous, lo_memo_key;
    /* the raw Lock's and RLock's types where their layout is the one read
       here (the raw locks section), else NULL: their methods are called */
    PyTypeObject *lock_type, *rlock_type;
    /* the Python methods each C one stands for: Lock's, then RLock's */
    PyObject *py_enter, *py_exit, *py_acquire, *py_release;
    PyObject *py_r_enter, *py_r_exit, *py_r_acquire, *py_r_release;
    /* the ints 1 and 0 (an RLock's count after its first acquire, its last release) */
    PyObject *one, *zero;
    int ready;
} State;

static State state;

#if defined(__GNUC__) || defined(__clang__)
#define HOT static inline __attribute__((always_inline))
#else
#define HOT static inline
#endif

#define SLOT(obj, offset) (*(PyObject **)((char *)(obj) + (offset)))

/* Py_XSETREF of a slot, the old value's decref written out (the compiler
   otherwise calls an out-of-line copy of Py_XDECREF) */
#define SET_SLOT(obj, offset, value)                                                       \
    do {                                                                                   \
        PyObject *old_ = SLOT(obj, offset);                                                \
        SLOT(obj, offset) = (value);                                                       \
        if (old_ != NULL) {                                                                \
            Py_DECREF(old_);                                                               \
        }                                                                                  \
    } while (0)

static int
slot_offset(PyObject *type, const char *name, Py_ssize_t *offset)
{
    PyObject *descr = PyObject_GetAttrString(type, name);
    if (descr == NULL) {
        return -1;
    }
    if (!Py_IS_TYPE(descr, &PyMemberDescr_Type)) {
        PyErr_Format(PyExc_TypeError, "%s is not a slot", name);
        Py_DECREF(descr);
        return -1;
    }
    PyMemberDef *member = ((PyMemberDescrObject *)descr)->d_member;
    if (member->type != T_OBJECT_EX) {
        PyErr_Format(PyExc_TypeError, "%s is not an object slot", name);
        Py_DECREF(descr);
        return -1;
    }
    *offset = member->offset;
    Py_DECREF(descr);
    return 0;
}

/* CPython's tuple hash (Objects/tupleobject.c, 3.8 on) of a pair of ints */
#if SIZEOF_PY_UHASH_T > 4
#define XXPRIME_1 ((Py_uhash_t)11400714785074694791ULL)
#define XXPRIME_2 ((Py_uhash_t)14029467366897019727ULL)
#define XXPRIME_5 ((Py_uhash_t)2870177450012600261ULL)
#define XXROTATE(x) ((x << 31) | (x >> 33))
#else
#define XXPRIME_1 ((Py_uhash_t)2654435761UL)
#define XXPRIME_2 ((Py_uhash_t)2246822519UL)
#define XXPRIME_5 ((Py_uhash_t)374761393UL)
#define XXROTATE(x) ((x << 13) | (x >> 19))
#endif

static PyObject *
chain_key(PyObject *previous, PyObject *cid)
{
    Py_hash_t first = PyObject_Hash(previous);
    if (first == -1) {
        return NULL;
    }
    Py_hash_t second = PyObject_Hash(cid);
    if (second == -1) {
        return NULL;
    }
    Py_uhash_t acc = XXPRIME_5;
    acc += (Py_uhash_t)first * XXPRIME_2;
    acc = XXROTATE(acc);
    acc *= XXPRIME_1;
    acc += (Py_uhash_t)second * XXPRIME_2;
    acc = XXROTATE(acc);
    acc *= XXPRIME_1;
    acc += 2 ^ (XXPRIME_5 ^ 3527539UL);
    if (acc == (Py_uhash_t)-1) {
        return PyLong_FromLong(1546275796);
    }
    return PyLong_FromSsize_t((Py_ssize_t)acc);
}

/* The chain keys computed last, by the identity of (previous key, class id):
   a nested acquire finds its key without hashing the previous one or making
   an int, and pushes the same int object each time, which the next level
   finds in turn. The table holds its ints, so no identity is reused by another
   while it is there; an int's value, so the key, never changes. */
#define KEYS 64

static struct {
    PyObject *previous, *cid, *key;
} keys[KEYS];

/* chain_key(previous, cid), borrowed from the table (NULL: an error) */
HOT PyObject *
known_key(PyObject *previous, PyObject *cid)
{
    size_t slot = (((uintptr_t)previous >> 4) ^ ((uintptr_t)cid >> 3)) % KEYS;
    if (keys[slot].previous == previous && keys[slot].cid == cid) {
        return keys[slot].key;
    }
    PyObject *key = chain_key(previous, cid);
    if (key == NULL) {
        return NULL;
    }
    /* ints: freeing the old ones runs no code */
    Py_XSETREF(keys[slot].previous, Py_NewRef(previous));
    Py_XSETREF(keys[slot].cid, Py_NewRef(cid));
    Py_XSETREF(keys[slot].key, key);
    return key;
}

/* This thread's ThreadState, kept where a lookup is cheap.

   The interpreter's per-thread dict keeps it, once read, in a capsule (a
   dict lookup, where the threading.local attribute costs a few hundred
   instructions): both live exactly as long as the thread, and
   lockorder._threads sets _tls.ts once per thread; only a plain
   _thread._local (not one a green-thread library patched in, per green
   thread) is cached. The last one read is kept here too, with the thread
   state it was read for (its address and its id, never reused): a pointer
   comparison. That entry is borrowed from the capsule, whose destructor (the
   thread's dict torn down) forgets it first, so it never outlives the
   ThreadState and never keeps one alive. It relies on the GIL, as all of
   this module does. */
static PyThreadState *last_tstate;
static uint64_t last_id;
static PyObject *last_ts;

#define CAPSULE "lockorder._speedups.thread_state"

static void
forget_thread_state(PyObject *capsule)
{
    PyObject *ts = PyCapsule_GetPointer(capsule, CAPSULE);
    if (ts == NULL) {
        PyErr_Clear();
        return;
    }
    if (ts == last_ts) {
        last_tstate = NULL;
        last_ts = NULL;
    }
    Py_DECREF(ts);
}

/* The slow side of thread_state(): a borrowed reference, or a new one when
   *owned is set (a patched threading.local), or NULL with no error set when
   the thread has none yet (the Python method makes it). */
static PyObject *
thread_state_slow(PyThreadState *tstate, int *owned)
{
    PyObject *cache = state.cache ? PyThreadState_GetDict() : NULL;
    if (cache != NULL) {
        PyObject *capsule = PyDict_GetItemWithError(cache, state.cache_key);
        if (capsule != NULL) {
            PyObject *ts = PyCapsule_GetPointer(capsule, CAPSULE);
            if (ts == NULL) {
                return NULL;
            }
            last_tstate = tstate;
            last_id = tstate->id;
            last_ts = ts;
            return ts;
        }
        if (PyErr_Occurred()) {
            return NULL;
        }
    }
    PyObject *ts = PyObject_GetAttr(state.tls, state.ts_name);
    if (ts == NULL) {
        if (PyErr_ExceptionMatches(PyExc_AttributeError)) {
            PyErr_Clear();
        }
        return NULL;
    }
    if (!Py_IS_TYPE(ts, state.ts_type)) {
        Py_DECREF(ts);
        return NULL;
    }
    if (cache == NULL) {
        *owned = 1;
        return ts;
    }
    /* the capsule owns the reference */
    PyObject *capsule = PyCapsule_New(ts, CAPSULE, forget_thread_state);
    if (capsule == NULL) {
        Py_DECREF(ts);
        return NULL;
    }
    int stored = PyDict_SetItem(cache, state.cache_key, capsule);
    Py_DECREF(capsule);
    if (stored < 0) {
        return NULL;
    }
    last_tstate = tstate;
    last_id = tstate->id;
    last_ts = ts;
    return ts;
}

HOT PyObject *
thread_state(int *owned)
{
    PyThreadState *tstate = PyThreadState_Get();
    *owned = 0;
    if (tstate == last_tstate && tstate->id == last_id) {
        return last_ts;
    }
    return thread_state_slow(tstate, owned);
}

/* The raw locks, taken and given back without a call where their layout is
   the one read here. The raw lock's acquire(False) through its bound method
   parses an argument tuple: about 500 instructions of a C `with Lock`, where
   the raw `with` itself costs 800 to 2,600 (docs/performance.md).

   Read in CPython's Modules/_threadmodule.c: up to 3.13 (read at 3.12;
   3.13.0's sizes and the probe agree) lockobject {PyThread_type_lock
   lock_lock; PyObject *in_weakreflist; char locked;} and rlockobject
   {PyThread_type_lock rlock_lock; unsigned long rlock_owner; unsigned long
   rlock_count; PyObject *in_weakreflist;}; from 3.14 (read on main; 3.14's
   and 3.15's sizes and the probe agree) lockobject {PyMutex lock;} and
   rlockobject {_PyRecursiveMutex lock;}, that is {PyMutex mutex; unsigned
   long long thread; size_t level;}, level counting the holds after the
   first. A PyMutex's byte is taken by a compare-exchange from 0 to 1 (what
   PyMutex_Lock tries first); a thread that waits for it parks with the GIL
   released and sets another bit, so every access is atomic, and a give-back
   that finds that bit calls PyMutex_Unlock (public API), which wakes it.

   raw_access() (setup's caller, lockorder/_impl.py) checks the layout of a
   fresh lock of each type (probe_lock, probe_rlock): its __basicsize__, then
   by behaviour, taken here and seen held by its own methods and the reverse.
   Where either does not match, the raw lock's methods are called, as before
   (state.lock_type, state.rlock_type NULL). A take that does not succeed at once (another thread holds it, a
   waiter is parked) changes nothing and goes to the Python method, whose
   raw acquire(False) decides. */
#if PY_VERSION_HEX >= 0x030E0000
typedef struct {
    PyObject_HEAD
    PyMutex mutex;
} raw_lock;

HOT int
raw_lock_try(PyObject *raw)
{
    uint8_t unlocked = 0;
    return _Py_atomic_compare_exchange_uint8(&((raw_lock *)raw)->mutex._bits, &unlocked, 1);
}

HOT int
raw_lock_held(PyObject *raw)
{
    return (_Py_atomic_load_uint8(&((raw_lock *)raw)->mutex._bits) & 1) != 0;
}

HOT void
raw_lock_give(PyObject *raw)
{
    PyMutex_Unlock(&((raw_lock *)raw)->mutex);
}
#else
typedef struct {
    PyObject_HEAD
    PyThread_type_lock lock;
    PyObject *weakrefs;
    char locked;
} raw_lock;

HOT int
raw_lock_try(PyObject *raw)
{
    raw_lock *lock = (raw_lock *)raw;
    if (PyThread_acquire_lock(lock->lock, NOWAIT_LOCK) != PY_LOCK_ACQUIRED) {
        return 0;
    }
    lock->locked = 1;
    return 1;
}

HOT int
raw_lock_held(PyObject *raw)
{
    return ((raw_lock *)raw)->locked != 0;
}

HOT void
raw_lock_give(PyObject *raw)
{
    raw_lock *lock = (raw_lock *)raw;
    PyThread_release_lock(lock->lock);
    lock->locked = 0;
}
#endif

/* This thread's ident, as the RLock keeps its owner: PyThread_get_thread_ident(),
   which on Linux is pthread_self() (Python/thread_pthread.h), read here without
   the call; the probe checks the two agree. */
#if defined(__linux__) && defined(_POSIX_THREADS)
#include <pthread.h>
#define IDENT() ((unsigned long)pthread_self())
#else
#define IDENT() PyThread_get_thread_ident()
#endif

#if PY_VERSION_HEX >= 0x030E0000
typedef struct {
    PyObject_HEAD
    PyMutex mutex;
    unsigned long long thread;
    size_t level;
} raw_rlock;

/* how many times this thread holds it (0: not this thread) */
HOT size_t
raw_rlock_depth(PyObject *raw)
{
    raw_rlock *lock = (raw_rlock *)raw;
    if (_Py_atomic_load_ullong_relaxed(&lock->thread) != IDENT()) {
        return 0;
    }
    return lock->level + 1;
}

/* a first take, by a thread that does not hold it */
HOT int
raw_rlock_try(PyObject *raw)
{
    raw_rlock *lock = (raw_rlock *)raw;
    unsigned long long me = IDENT();
    uint8_t unlocked = 0;
    if (_Py_atomic_load_ullong_relaxed(&lock->thread) == me ||
        !_Py_atomic_compare_exchange_uint8(&lock->mutex._bits, &unlocked, 1)) {
        return 0;
    }
    _Py_atomic_store_ullong_relaxed(&lock->thread, me);
    return 1;
}

/* depth (raw_rlock_depth) up and down by one, the holder's. No overflow
   check: the level is a size_t, and CPython's own _PyRecursiveMutex_Lock
   counts it up without one (the older layout's unsigned long has its
   OverflowError, below). */
HOT int
raw_rlock_more(PyObject *raw)
{
    ((raw_rlock *)raw)->level++;
    return 1;
}

HOT void
raw_rlock_fewer(PyObject *raw)
{
    ((raw_rlock *)raw)->level--;
}

/* the last release, depth 1 */
HOT void
raw_rlock_give(PyObject *raw)
{
    raw_rlock *lock = (raw_rlock *)raw;
    _Py_atomic_store_ullong_relaxed(&lock->thread, 0);
    PyMutex_Unlock(&lock->mutex);
}
#else
typedef struct {
    PyObject_HEAD
    PyThread_type_lock lock;
    unsigned long owner;
    unsigned long count;
    PyObject *weakrefs;
} raw_rlock;

HOT size_t
raw_rlock_depth(PyObject *raw)
{
    raw_rlock *lock = (raw_rlock *)raw;
    if (lock->count == 0 || lock->owner != IDENT()) {
        return 0;
    }
    return lock->count;
}

HOT int
raw_rlock_try(PyObject *raw)
{
    raw_rlock *lock = (raw_rlock *)raw;
    if (lock->count > 0 ||
        PyThread_acquire_lock(lock->lock, NOWAIT_LOCK) != PY_LOCK_ACQUIRED) {
        return 0;
    }
    lock->owner = IDENT();
    lock->count = 1;
    return 1;
}

HOT int
raw_rlock_more(PyObject *raw)
{
    raw_rlock *lock = (raw_rlock *)raw;
    if (lock->count + 1 == 0) {
        return 0; /* the raw RLock's own OverflowError */
    }
    lock->count++;
    return 1;
}

HOT void
raw_rlock_fewer(PyObject *raw)
{
    ((raw_rlock *)raw)->count--;
}

HOT void
raw_rlock_give(PyObject *raw)
{
    raw_rlock *lock = (raw_rlock *)raw;
    lock->count = 0;
    lock->owner = 0;
    PyThread_release_lock(lock->lock);
}
#endif

/* Call raw's method name with args (a format for Py_BuildValue, or NULL), and
   compare its result's repr with expected: 1 same, 0 not, -1 error. */
static int
call_is(PyObject *raw, const char *name, const char *expected)
{
    PyObject *result = PyObject_CallMethod(raw, name, NULL);
    if (result == NULL) {
        return -1;
    }
    PyObject *repr = PyObject_Repr(result);
    Py_DECREF(result);
    if (repr == NULL) {
        return -1;
    }
    int same = PyUnicode_CompareWithASCIIString(repr, expected) == 0;
    Py_DECREF(repr);
    return same;
}

#define PROBE(condition)                                                                   \
    do {                                                                                   \
        int ok_ = (condition);                                                             \
        if (ok_ != 1) {                                                                    \
            goto mismatch;                                                                 \
        }                                                                                  \
    } while (0)

/* Whether raw (a fresh threading.Lock, unlocked) has the layout read above:
   1 yes, 0 no (any error cleared). Only its own methods touch it until its
   size matches. */
static int
probe_lock(PyObject *raw)
{
    if (Py_TYPE(raw)->tp_basicsize != (Py_ssize_t)sizeof(raw_lock)) {
        return 0;
    }
    PROBE(call_is(raw, "locked", "False"));
    PROBE(!raw_lock_held(raw));
    PROBE(raw_lock_try(raw));
    PROBE(call_is(raw, "locked", "True"));
    PROBE(!raw_lock_try(raw));
    raw_lock_give(raw);
    PROBE(call_is(raw, "locked", "False"));
    PROBE(call_is(raw, "acquire", "True"));
    PROBE(raw_lock_held(raw));
    PROBE(!raw_lock_try(raw));
    PROBE(call_is(raw, "release", "None"));
    PROBE(!raw_lock_held(raw));
    PROBE(raw_lock_try(raw));
    raw_lock_give(raw);
    PROBE(call_is(raw, "locked", "False"));
    return 1;
mismatch:
    PyErr_Clear();
    return 0;
}

/* The same for raw, a fresh threading.RLock (the C one), unlocked. */
static int
probe_rlock(PyObject *raw)
{
    if (Py_TYPE(raw)->tp_basicsize != (Py_ssize_t)sizeof(raw_rlock)) {
        return 0;
    }
    char me[64];
    if (IDENT() != PyThread_get_thread_ident()) {
        return 0;
    }
    PyOS_snprintf(me, sizeof(me), "(2, %lu)", PyThread_get_thread_ident());
    PROBE(call_is(raw, "_is_owned", "False"));
    PROBE(raw_rlock_depth(raw) == 0);
    PROBE(raw_rlock_try(raw));
    PROBE(call_is(raw, "_is_owned", "True"));
    PROBE(raw_rlock_depth(raw) == 1);
    PROBE(!raw_rlock_try(raw));
    PROBE(raw_rlock_more(raw));
    PROBE(raw_rlock_depth(raw) == 2);
    /* (count, owner), and the RLock given back whole */
    PROBE(call_is(raw, "_release_save", me));
    PROBE(call_is(raw, "_is_owned", "False"));
    PROBE(raw_rlock_depth(raw) == 0);
    PROBE(raw_rlock_try(raw));
    raw_rlock_give(raw);
    PROBE(call_is(raw, "_is_owned", "False"));
    PROBE(call_is(raw, "acquire", "True"));
    PROBE(call_is(raw, "acquire", "True"));
    PROBE(raw_rlock_depth(raw) == 2);
    raw_rlock_fewer(raw);
    PROBE(raw_rlock_depth(raw) == 1);
    PROBE(call_is(raw, "release", "None"));
    PROBE(call_is(raw, "_is_owned", "False"));
    PROBE(raw_rlock_depth(raw) == 0);
    return 1;
mismatch:
    PyErr_Clear();
    return 0;
}

static PyObject *
fallback(PyObject *method, PyObject *self, PyObject *const *args, size_t nargsf,
         PyObject *kwnames)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    Py_ssize_t total = nargs + (kwnames ? PyTuple_GET_SIZE(kwnames) : 0);
    PyObject *small[8];
    PyObject **stack = small;
    if (total + 1 > 8) {
        stack = PyMem_Malloc((total + 1) * sizeof(PyObject *));
        if (stack == NULL) {
            return PyErr_NoMemory();
        }
    }
    stack[0] = self;
    for (Py_ssize_t i = 0; i < total; i++) {
        stack[i + 1] = args[i];
    }
    PyObject *result = PyObject_Vectorcall(method, stack, nargs + 1, kwnames);
    if (stack != small) {
        PyMem_Free(stack);
    }
    return result;
}

/* Remove a list's last item, as list.pop() but without ever shrinking its
   storage: the held stacks go up and down by one all the time, and a list
   shrunk to empty is reallocated at its next append. */
HOT void
drop_last(PyObject *list)
{
    Py_ssize_t size = PyList_GET_SIZE(list) - 1;
    PyObject *item = PyList_GET_ITEM(list, size);
    PyList_SET_ITEM(list, size, NULL);
    Py_SET_SIZE(list, size);
    Py_DECREF(item);
}

/* list.append(item), without a call while the list has room (a list being
   sorted says it has none) */
HOT int
push(PyObject *list, PyObject *item)
{
    Py_ssize_t size = PyList_GET_SIZE(list);
    if (size < ((PyListObject *)list)->allocated) {
        PyList_SET_ITEM(list, size, Py_NewRef(item));
        Py_SET_SIZE(list, size + 1);
        return 0;
    }
    return PyList_Append(list, item);
}

/* An RLock's re-entry by its holder: the raw RLock counts it, and so does
   _lo_count (RLock.__enter__'s first branch). */
static int
reenter(PyObject *self)
{
    PyObject *raw = SLOT(self, state.lo_raw);
    PyObject *acquire = SLOT(self, state.lo_acquire);
    PyObject *count = SLOT(self, state.lo_count);
    if (raw == NULL || acquire == NULL || count == NULL || !PyLong_CheckExact(count)) {
        return 0;
    }
    Py_ssize_t n = PyLong_AsSsize_t(count);
    if (n < 1 || n == PY_SSIZE_T_MAX) {
        if (PyErr_Occurred()) {
            PyErr_Clear();
        }
        return 0;
    }
    PyObject *more = PyLong_FromSsize_t(n + 1); /* before the acquire: cannot fail after it */
    if (more == NULL) {
        return -1;
    }
    if (Py_TYPE(raw) == state.rlock_type && raw_rlock_depth(raw) > 0) {
        if (!raw_rlock_more(raw)) {
            Py_DECREF(more);
            return 0;
        }
    }
    else {
        PyObject *taken = PyObject_CallNoArgs(acquire);
        if (taken == NULL) {
            Py_DECREF(more);
            return -1;
        }
        Py_DECREF(taken);
    }
    Py_XSETREF(SLOT(self, state.lo_count), more);
    return 1;
}

/* raw.acquire(False): 1 taken, 0 not, -1 error */
HOT int
try_raw(PyObject *self, PyObject *raw, int reentrant)
{
    if (raw != NULL) {
        if (reentrant ? Py_TYPE(raw) == state.rlock_type : Py_TYPE(raw) == state.lock_type) {
            return reentrant ? raw_rlock_try(raw) : raw_lock_try(raw);
        }
    }
    PyObject *acquire = SLOT(self, state.lo_acquire);
    if (acquire == NULL) {
        return 0;
    }
    PyObject *no = Py_False;
    PyObject *taken = PyObject_Vectorcall(acquire, &no, 1, NULL);
    if (taken == NULL) {
        return -1;
    }
    int got = taken == Py_True;
    Py_DECREF(taken);
    return got;
}

/* raw.release(): 0 done, -1 error */
HOT int
release_raw(PyObject *self, int reentrant)
{
    PyObject *raw = SLOT(self, state.lo_raw);
    if (raw != NULL) {
        if (reentrant) {
            if (Py_TYPE(raw) == state.rlock_type) {
                size_t depth = raw_rlock_depth(raw);
                if (depth > 1) {
                    raw_rlock_fewer(raw);
                    return 0;
                }
                if (depth == 1) {
                    raw_rlock_give(raw);
                    return 0;
                }
            }
        }
        else if (Py_TYPE(raw) == state.lock_type && raw_lock_held(raw)) {
            raw_lock_give(raw);
            return 0;
        }
    }
    /* anything else (the raw lock not held: its RuntimeError) as the raw
       lock's own release() does it */
    PyObject *release = SLOT(self, state.lo_release);
    if (release == NULL) {
        PyErr_SetString(PyExc_AttributeError, "_lo_release");
        return -1;
    }
    PyObject *r = PyObject_CallNoArgs(release);
    if (r == NULL) {
        return -1;
    }
    Py_DECREF(r);
    return 0;
}

/* The common case of a blocking acquire; 1 done, 0 not the common case
   (nothing changed), -1 error. reentrant: self is an RLock. */
HOT int
take(PyObject *self, int reentrant)
{
    int owned;
    PyObject *ts = thread_state(&owned);
    if (ts == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    int done = 0;
    PyObject *owner = SLOT(self, state.lo_owner);
    if (owner == ts && reentrant) {
        done = reenter(self);
        goto done;
    }
    PyObject *user = SLOT(self, state.lo_user);
    PyObject *chains = SLOT(ts, state.ts_chains);
    PyObject *held = SLOT(ts, state.ts_held);
    PyObject *known = SLOT(ts, state.ts_known);
    PyObject *cid = SLOT(self, state.lo_cid);
    if (owner == ts || user != ts || chains == NULL || held == NULL || known == NULL ||
        cid == NULL || !PyList_CheckExact(chains) || !PyList_CheckExact(held) ||
        !PySet_CheckExact(known)) {
        goto done;
    }
    Py_ssize_t depth = PyList_GET_SIZE(chains);
    PyObject *previous = depth ? PyList_GET_ITEM(chains, depth - 1) : Py_None;
    PyObject *key;
    /* The memo: this lock's chain key after `previous`, found in `known`
       before. It holds all three, so no identity is reused while it is
       kept; an int never changes, and a known set only grows (reset() gives
       each thread a new one), so a chain found known there stays known. */
    if (SLOT(self, state.lo_memo_known) == known &&
        SLOT(self, state.lo_memo_previous) == previous &&
        (key = SLOT(self, state.lo_memo_key)) != NULL) {
        goto take_raw;
    }
    key = cid;
    if (depth) {
        if (!PyLong_CheckExact(previous) || !PyLong_CheckExact(cid)) {
            goto done;
        }
        key = known_key(previous, cid);
        if (key == NULL) {
            done = -1;
            goto done;
        }
    }
    int found = PySet_Contains(known, key);
    if (found != 1) {
        done = found < 0 ? -1 : 0;
        goto done;
    }
    SET_SLOT(self, state.lo_memo_known, Py_NewRef(known));
    SET_SLOT(self, state.lo_memo_previous, Py_NewRef(previous));
    SET_SLOT(self, state.lo_memo_key, Py_NewRef(key));
take_raw:;
    int got = try_raw(self, SLOT(self, state.lo_raw), reentrant);
    if (got != 1) {
        done = got; /* 0: taken by another thread: Python's wait, with the deadlock check */
        goto done;
    }
    if (push(chains, key) < 0) {
        goto undo;
    }
    if (push(held, self) < 0) {
        drop_last(chains);
        goto undo;
    }
    SET_SLOT(self, state.lo_owner, Py_NewRef(ts));
    if (reentrant) {
        SET_SLOT(self, state.lo_count, Py_NewRef(state.one));
    }
    PyObject *frame = (PyObject *)PyEval_GetFrame(); /* the caller's */
    SET_SLOT(self, state.lo_at, Py_XNewRef(frame ? frame : Py_None));
    done = 1;
    goto done;
undo:;
    /* out of memory with the raw lock taken: give it back, keep the error */
    {
        PyObject *type, *value, *traceback;
        PyErr_Fetch(&type, &value, &traceback);
        if (release_raw(self, reentrant) < 0) {
            PyErr_Clear();
        }
        PyErr_Restore(type, value, traceback);
    }
    done = -1;
done:
    if (owned) {
        Py_DECREF(ts);
    }
    return done;
}

/* The common case of a release by the holder, its most recent hold; for an
   RLock (reentrant) also a release that only counts down. */
HOT int
give(PyObject *self, int reentrant)
{
    int owned;
    PyObject *ts = thread_state(&owned);
    if (ts == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    int done = 0;
    PyObject *held = SLOT(ts, state.ts_held);
    PyObject *chains = SLOT(ts, state.ts_chains);
    if (SLOT(self, state.lo_owner) != ts || SLOT(self, state.lo_release) == NULL) {
        goto done;
    }
    if (reentrant) {
        PyObject *count = SLOT(self, state.lo_count);
        if (count == NULL || !PyLong_CheckExact(count)) {
            goto done;
        }
        Py_ssize_t n = count == state.one ? 1 : PyLong_AsSsize_t(count);
        if (n < 1) {
            if (PyErr_Occurred()) {
                PyErr_Clear();
            }
            goto done;
        }
        if (n > 1) {
            /* one of several holds: count down, the raw RLock too */
            PyObject *fewer = PyLong_FromSsize_t(n - 1);
            if (fewer == NULL) {
                done = -1;
                goto done;
            }
            SET_SLOT(self, state.lo_count, fewer);
            goto give_back;
        }
    }
    if (held == NULL || chains == NULL || !PyList_CheckExact(held) || !PyList_CheckExact(chains)) {
        goto done;
    }
    Py_ssize_t depth = PyList_GET_SIZE(held);
    if (depth == 0 || PyList_GET_ITEM(held, depth - 1) != self ||
        PyList_GET_SIZE(chains) != depth) {
        goto done;
    }
    SET_SLOT(self, state.lo_owner, Py_NewRef(Py_None));
    if (reentrant) {
        SET_SLOT(self, state.lo_count, Py_NewRef(state.zero));
    }
    SET_SLOT(self, state.lo_at, Py_NewRef(Py_None));
    drop_last(held);
    drop_last(chains);
give_back:
    done = release_raw(self, reentrant) < 0 ? -1 : 1;
done:
    if (owned) {
        Py_DECREF(ts);
    }
    return done;
}

/* The C method: the common case when the call has at most max_args
   positional arguments and no keywords, else (or when the common case is not
   the case) the Python method it stands for. */
#define STEADY_METHOD(name, fast, reentrant, method, done_value, max_args)                 \
    static PyObject *name(PyObject *self, PyObject *const *args, size_t nargsf,            \
                          PyObject *kwnames)                                               \
    {                                                                                      \
        if (PyVectorcall_NARGS(nargsf) <= (max_args) && kwnames == NULL) {                 \
            int done = fast(self, reentrant);                                              \
            if (done < 0) {                                                                \
                return NULL;                                                               \
            }                                                                              \
            if (done) {                                                                    \
                return Py_NewRef(done_value);                                              \
            }                                                                              \
        }                                                                                  \
        return fallback(state.method, self, args, nargsf, kwnames);                        \
    }

STEADY_METHOD(lock_enter, take, 0, py_enter, Py_True, 0)
/* acquire() with its defaults is __enter__; a timeout or a try is Python's */
STEADY_METHOD(lock_acquire, take, 0, py_acquire, Py_True, 0)
/* __exit__(exc_type, exc, tb) */
STEADY_METHOD(lock_exit, give, 0, py_exit, Py_None, 3)
STEADY_METHOD(lock_release, give, 0, py_release, Py_None, 0)
STEADY_METHOD(rlock_enter, take, 1, py_r_enter, Py_True, 0)
STEADY_METHOD(rlock_acquire, take, 1, py_r_acquire, Py_True, 0)
STEADY_METHOD(rlock_exit, give, 1, py_r_exit, Py_None, 3)
STEADY_METHOD(rlock_release, give, 1, py_r_release, Py_None, 0)

#define FASTCALL(f) (PyCFunction)(void (*)(void))(f), METH_FASTCALL | METH_KEYWORDS

static PyMethodDef lock_methods[] = {
    {"__enter__", FASTCALL(lock_enter),
     "Acquire the lock (the C steady state of lockorder.Lock.__enter__)."},
    {"__exit__", FASTCALL(lock_exit),
     "Release the lock (the C steady state of lockorder.Lock.__exit__)."},
    {"acquire", FASTCALL(lock_acquire),
     "Acquire the lock, as threading.Lock.acquire; records lock-order edges."},
    {"release", FASTCALL(lock_release), "Release the lock, as threading.Lock.release."},
    {NULL, NULL, 0, NULL},
};

static PyMethodDef rlock_methods[] = {
    {"__enter__", FASTCALL(rlock_enter),
     "Acquire the lock (the C steady state of lockorder.RLock.__enter__)."},
    {"__exit__", FASTCALL(rlock_exit),
     "Release the lock (the C steady state of lockorder.RLock.__exit__)."},
    {"acquire", FASTCALL(rlock_acquire),
     "Acquire the lock, as threading.RLock.acquire; re-entry makes no edge."},
    {"release", FASTCALL(rlock_release), "Release the lock, as threading.RLock.release."},
    {NULL, NULL, 0, NULL},
};

/* The Python methods of cls the C ones stand for, in *out (new references). */
static int
python_methods(PyObject *cls, PyObject **out)
{
    static const char *names[] = {"__enter__", "__exit__", "acquire", "release"};
    for (int i = 0; i < 4; i++) {
        out[i] = PyObject_GetAttrString(cls, names[i]);
        if (out[i] == NULL) {
            for (int j = 0; j < i; j++) {
                Py_CLEAR(out[j]);
            }
            return -1;
        }
    }
    return 0;
}

/* {name: method descriptor of cls} for the C methods in defs */
static PyObject *
descriptors(PyObject *cls, PyMethodDef *defs)
{
    PyObject *methods = PyDict_New();
    if (methods == NULL) {
        return NULL;
    }
    for (PyMethodDef *def = defs; def->ml_name != NULL; def++) {
        PyObject *descr = PyDescr_NewMethod((PyTypeObject *)cls, def);
        if (descr == NULL || PyDict_SetItemString(methods, def->ml_name, descr) < 0) {
            Py_XDECREF(descr);
            Py_DECREF(methods);
            return NULL;
        }
        Py_DECREF(descr);
    }
    return methods;
}

/* setup(checked, thread_state, tls, lock_class, rlock_class): read the
   slots' offsets, keep the Python methods, and return two dicts
   {name: method descriptor}, for lock_class and rlock_class (subclasses of
   checked) to take in place of their own. */
static PyObject *
setup(PyObject *module, PyObject *args)
{
    PyObject *checked, *ts_type, *tls, *lock_class, *rlock_class;
    if (!PyArg_ParseTuple(args, "O!O!OO!O!", &PyType_Type, &checked, &PyType_Type, &ts_type,
                          &tls, &PyType_Type, &lock_class, &PyType_Type, &rlock_class)) {
        return NULL;
    }
    if (!PyType_IsSubtype((PyTypeObject *)lock_class, (PyTypeObject *)checked) ||
        !PyType_IsSubtype((PyTypeObject *)rlock_class, (PyTypeObject *)checked)) {
        PyErr_SetString(PyExc_TypeError, "lock_class and rlock_class must subclass checked");
        return NULL;
    }
    if (slot_offset(ts_type, "chains", &state.ts_chains) < 0 ||
        slot_offset(ts_type, "held", &state.ts_held) < 0 ||
        slot_offset(ts_type, "known", &state.ts_known) < 0 ||
        slot_offset(checked, "_lo_owner", &state.lo_owner) < 0 ||
        slot_offset(checked, "_lo_user", &state.lo_user) < 0 ||
        slot_offset(checked, "_lo_cid", &state.lo_cid) < 0 ||
        slot_offset(checked, "_lo_raw", &state.lo_raw) < 0 ||
        slot_offset(checked, "_lo_acquire", &state.lo_acquire) < 0 ||
        slot_offset(checked, "_lo_release", &state.lo_release) < 0 ||
        slot_offset(checked, "_lo_at", &state.lo_at) < 0 ||
        slot_offset(checked, "_lo_memo_known", &state.lo_memo_known) < 0 ||
        slot_offset(checked, "_lo_memo_previous", &state.lo_memo_previous) < 0 ||
        slot_offset(checked, "_lo_memo_key", &state.lo_memo_key) < 0 ||
        slot_offset(rlock_class, "_lo_count", &state.lo_count) < 0) {
        return NULL;
    }
    PyObject *lock_py[4], *rlock_py[4];
    if (python_methods(lock_class, lock_py) < 0) {
        return NULL;
    }
    if (python_methods(rlock_class, rlock_py) < 0) {
        for (int i = 0; i < 4; i++) {
            Py_DECREF(lock_py[i]);
        }
        return NULL;
    }
    Py_XSETREF(state.py_enter, lock_py[0]);
    Py_XSETREF(state.py_exit, lock_py[1]);
    Py_XSETREF(state.py_acquire, lock_py[2]);
    Py_XSETREF(state.py_release, lock_py[3]);
    Py_XSETREF(state.py_r_enter, rlock_py[0]);
    Py_XSETREF(state.py_r_exit, rlock_py[1]);
    Py_XSETREF(state.py_r_acquire, rlock_py[2]);
    Py_XSETREF(state.py_r_release, rlock_py[3]);
    Py_XSETREF(state.tls, Py_NewRef(tls));
    state.cache = strcmp(Py_TYPE(tls)->tp_name, "_thread._local") == 0;
    Py_XSETREF(state.ts_type, (PyTypeObject *)Py_NewRef(ts_type));
    /* the descriptors check their self's type: only an RLock has _lo_count */
    PyObject *for_lock = descriptors(lock_class, lock_methods);
    PyObject *for_rlock = for_lock ? descriptors(rlock_class, rlock_methods) : NULL;
    if (for_rlock == NULL) {
        Py_XDECREF(for_lock);
        return NULL;
    }
    state.ready = 1;
    return Py_BuildValue("(NN)", for_lock, for_rlock);
}

/* raw_access(lock, rlock): whether the C code takes and gives back the raw
   locks itself (the raw locks section), for each: lock and rlock are fresh
   raw locks of the types lockorder.Lock and RLock use (a threading.Lock, the
   C threading.RLock), probed; None for one the raw methods serve.
   raw_access() says which do. */
static PyObject *
raw_access(PyObject *module, PyObject *args)
{
    PyObject *lock = NULL, *rlock = NULL;
    if (!PyArg_ParseTuple(args, "|OO", &lock, &rlock)) {
        return NULL;
    }
    if (lock != NULL) {
        PyTypeObject *type = lock != Py_None && probe_lock(lock) ? Py_TYPE(lock) : NULL;
        Py_XINCREF(type);
        Py_XSETREF(state.lock_type, type);
    }
    if (rlock != NULL) {
        PyTypeObject *type = rlock != Py_None && probe_rlock(rlock) ? Py_TYPE(rlock) : NULL;
        Py_XINCREF(type);
        Py_XSETREF(state.rlock_type, type);
    }
    return Py_BuildValue("(OO)", state.lock_type ? Py_True : Py_False,
                         state.rlock_type ? Py_True : Py_False);
}

static PyObject *
chain_key_py(PyObject *module, PyObject *args)
{
    PyObject *previous, *cid;
    if (!PyArg_ParseTuple(args, "OO", &previous, &cid)) {
        return NULL;
    }
    return chain_key(previous, cid);
}

static PyMethodDef module_methods[] = {
    {"setup", setup, METH_VARARGS,
     "setup(checked, thread_state, tls, lock_class, rlock_class) -> "
     "({name: C method of Lock}, {name: C method of RLock})"},
    {"raw_access", raw_access, METH_VARARGS,
     "raw_access([lock, rlock]) -> (whether the C code takes a raw Lock itself, "
     "an RLock): lock and rlock, fresh raw locks, are probed (None: call their methods)"},
    {"chain_key", chain_key_py, METH_VARARGS,
     "chain_key(previous, cid) -> hash((previous, cid)), as the C hot path computes it"},
    {NULL, NULL, 0, NULL},
};

static int
exec_module(PyObject *module)
{
    state.ts_name = PyUnicode_InternFromString("ts");
    state.cache_key = PyUnicode_InternFromString("lockorder._speedups.thread_state");
    state.one = PyLong_FromLong(1);
    state.zero = PyLong_FromLong(0);
    return state.ts_name == NULL || state.cache_key == NULL || state.one == NULL ||
                   state.zero == NULL
               ? -1
               : 0;
}

static PyModuleDef_Slot module_slots[] = {
    {Py_mod_exec, exec_module},
#if PY_VERSION_HEX >= 0x030C0000
    /* one state per process (module globals), as lockorder's own Python state */
    {Py_mod_multiple_interpreters, Py_MOD_MULTIPLE_INTERPRETERS_NOT_SUPPORTED},
#endif
#ifdef Py_mod_gil
    /* not proven safe without the GIL: a free-threaded build runs Python's code
       (lockorder/_impl.py does not import this module there) */
    {Py_mod_gil, Py_MOD_GIL_USED},
#endif
    {0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "lockorder._speedups",
    .m_doc = "The steady state of a checked Lock and RLock, in C (lockorder/_impl.py).",
    .m_size = 0,
    .m_methods = module_methods,
    .m_slots = module_slots,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    return PyModuleDef_Init(&module_def);
}
