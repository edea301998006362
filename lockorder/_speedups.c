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
 * hash (the same on every supported version).
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
    Py_ssize_t lo_owner, lo_user, lo_cid, lo_acquire, lo_release, lo_at, lo_count;
    /* the Python methods each C one stands for: Lock's, then RLock's */
    PyObject *py_enter, *py_exit, *py_acquire, *py_release;
    PyObject *py_r_enter, *py_r_exit, *py_r_acquire, *py_r_release;
    /* the ints 1 and 0 (an RLock's count after its first acquire, its last release) */
    PyObject *one, *zero;
    int ready;
} State;

static State state;

#define SLOT(obj, offset) (*(PyObject **)((char *)(obj) + (offset)))

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

/* This thread's ThreadState (a new reference), or NULL with no error set when
   it has none yet (the Python method makes it). */
static PyObject *
thread_state(void)
{
    /* Kept in the interpreter's per-thread dict too, once read: that is a dict
       lookup, where the threading.local attribute costs a few hundred
       instructions. Both live exactly as long as the thread, and
       lockorder._threads sets _tls.ts once per thread; only a plain
       _thread._local (not one a green-thread library patched in, per green
       thread) is cached. */
    PyObject *cache = state.cache ? PyThreadState_GetDict() : NULL;
    if (cache != NULL) {
        PyObject *ts = PyDict_GetItemWithError(cache, state.cache_key);
        if (ts != NULL) {
            return Py_NewRef(ts);
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
    if (cache != NULL && PyDict_SetItem(cache, state.cache_key, ts) < 0) {
        Py_DECREF(ts);
        return NULL;
    }
    return ts;
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
static void
drop_last(PyObject *list)
{
    Py_ssize_t size = PyList_GET_SIZE(list) - 1;
    PyObject *item = PyList_GET_ITEM(list, size);
    PyList_SET_ITEM(list, size, NULL);
    Py_SET_SIZE(list, size);
    Py_DECREF(item);
}

/* An RLock's re-entry by its holder: the raw RLock counts it, and so does
   _lo_count (RLock.__enter__'s first branch). */
static int
reenter(PyObject *self)
{
    PyObject *acquire = SLOT(self, state.lo_acquire);
    PyObject *count = SLOT(self, state.lo_count);
    if (acquire == NULL || count == NULL || !PyLong_CheckExact(count)) {
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
    PyObject *taken = PyObject_CallNoArgs(acquire);
    if (taken == NULL) {
        Py_DECREF(more);
        return -1;
    }
    Py_DECREF(taken);
    Py_XSETREF(SLOT(self, state.lo_count), more);
    return 1;
}

/* The common case of a blocking acquire; 1 done, 0 not the common case
   (nothing changed), -1 error. reentrant: self is an RLock. */
static int
take(PyObject *self, int reentrant)
{
    PyObject *ts = thread_state();
    if (ts == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    int done = 0;
    PyObject *key = NULL;
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
    if (depth) {
        key = chain_key(PyList_GET_ITEM(chains, depth - 1), cid);
        if (key == NULL) {
            done = -1;
            goto done;
        }
    }
    else {
        key = Py_NewRef(cid);
    }
    int found = PySet_Contains(known, key);
    if (found != 1) {
        done = found < 0 ? -1 : 0;
        goto done;
    }
    PyObject *acquire = SLOT(self, state.lo_acquire);
    if (acquire == NULL) {
        goto done;
    }
    PyObject *no = Py_False;
    PyObject *taken = PyObject_Vectorcall(acquire, &no, 1, NULL);
    if (taken == NULL) {
        done = -1;
        goto done;
    }
    int got = taken == Py_True;
    Py_DECREF(taken);
    if (!got) {
        goto done; /* taken by another thread: Python's wait, with the deadlock check */
    }
    if (PyList_Append(chains, key) < 0) {
        goto undo;
    }
    if (PyList_Append(held, self) < 0) {
        drop_last(chains);
        goto undo;
    }
    Py_XSETREF(SLOT(self, state.lo_owner), Py_NewRef(ts));
    if (reentrant) {
        Py_XSETREF(SLOT(self, state.lo_count), Py_NewRef(state.one));
    }
    PyObject *frame = (PyObject *)PyEval_GetFrame(); /* the caller's */
    Py_XSETREF(SLOT(self, state.lo_at), Py_XNewRef(frame ? frame : Py_None));
    done = 1;
    goto done;
undo:;
    /* out of memory with the raw lock taken: give it back, keep the error */
    PyObject *release = SLOT(self, state.lo_release);
    if (release != NULL) {
        PyObject *type, *value, *traceback;
        PyErr_Fetch(&type, &value, &traceback);
        PyObject *r = PyObject_CallNoArgs(release);
        Py_XDECREF(r);
        PyErr_Restore(type, value, traceback);
    }
    done = -1;
done:
    Py_XDECREF(key);
    Py_DECREF(ts);
    return done;
}

/* The common case of a release by the holder, its most recent hold; for an
   RLock (reentrant) also a release that only counts down. */
static int
give(PyObject *self, int reentrant)
{
    PyObject *ts = thread_state();
    if (ts == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    int done = 0;
    PyObject *held = SLOT(ts, state.ts_held);
    PyObject *chains = SLOT(ts, state.ts_chains);
    PyObject *release = SLOT(self, state.lo_release);
    if (SLOT(self, state.lo_owner) != ts || release == NULL) {
        goto done;
    }
    if (reentrant) {
        PyObject *count = SLOT(self, state.lo_count);
        if (count == NULL || !PyLong_CheckExact(count)) {
            goto done;
        }
        Py_ssize_t n = PyLong_AsSsize_t(count);
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
            Py_XSETREF(SLOT(self, state.lo_count), fewer);
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
    Py_XSETREF(SLOT(self, state.lo_owner), Py_NewRef(Py_None));
    if (reentrant) {
        Py_XSETREF(SLOT(self, state.lo_count), Py_NewRef(state.zero));
    }
    Py_XSETREF(SLOT(self, state.lo_at), Py_NewRef(Py_None));
    drop_last(held);
    drop_last(chains);
give_back:;
    PyObject *r = PyObject_CallNoArgs(release);
    if (r == NULL) {
        done = -1;
        goto done;
    }
    Py_DECREF(r);
    done = 1;
done:
    Py_DECREF(ts);
    return done;
}

static int lock_take(PyObject *self) { return take(self, 0); }
static int lock_give(PyObject *self) { return give(self, 0); }
static int rlock_take(PyObject *self) { return take(self, 1); }
static int rlock_give(PyObject *self) { return give(self, 1); }

/* The C method: the common case when the call has at most max_args
   positional arguments and no keywords, else (or when fast says so) the
   Python method it stands for. */
static PyObject *
steady(int (*fast)(PyObject *), PyObject *method, PyObject *done_value, Py_ssize_t max_args,
       PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    if (PyVectorcall_NARGS(nargsf) <= max_args && kwnames == NULL) {
        int done = fast(self);
        if (done < 0) {
            return NULL;
        }
        if (done) {
            return Py_NewRef(done_value);
        }
    }
    return fallback(method, self, args, nargsf, kwnames);
}

#define STEADY_METHOD(name, fast, method, done_value, max_args)                             \
    static PyObject *name(PyObject *self, PyObject *const *args, size_t nargsf,            \
                          PyObject *kwnames)                                               \
    {                                                                                      \
        return steady(fast, state.method, done_value, max_args, self, args, nargsf, kwnames); \
    }

STEADY_METHOD(lock_enter, lock_take, py_enter, Py_True, 0)
/* acquire() with its defaults is __enter__; a timeout or a try is Python's */
STEADY_METHOD(lock_acquire, lock_take, py_acquire, Py_True, 0)
/* __exit__(exc_type, exc, tb) */
STEADY_METHOD(lock_exit, lock_give, py_exit, Py_None, 3)
STEADY_METHOD(lock_release, lock_give, py_release, Py_None, 0)
STEADY_METHOD(rlock_enter, rlock_take, py_r_enter, Py_True, 0)
STEADY_METHOD(rlock_acquire, rlock_take, py_r_acquire, Py_True, 0)
STEADY_METHOD(rlock_exit, rlock_give, py_r_exit, Py_None, 3)
STEADY_METHOD(rlock_release, rlock_give, py_r_release, Py_None, 0)

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
        slot_offset(checked, "_lo_acquire", &state.lo_acquire) < 0 ||
        slot_offset(checked, "_lo_release", &state.lo_release) < 0 ||
        slot_offset(checked, "_lo_at", &state.lo_at) < 0 ||
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
