/* The sandbox's hottest guards, written in C: their fast paths only.
 *
 * Each function here does what the first lines of its Python twin do (operators.py,
 * access.py) for the exact types those lines let through, and hands every other case to the
 * Python twin itself, bound once by bind(). The semantics are the Python guards'; this only
 * saves the cost of a Python call on the common cases (a dict's item, a float's product).
 * Without this module (no compiler where the package was installed, or
 * NIGHTPOS_SANDBOX_NATIVE=0) the Python guards run alone: see nightpos_app/sandbox/native.py.
 *
 * Ticker is the budget's countdown (budget._make_tick's closures): see its comment below.
 *
 * ListTail is the iterator the budget gives a `for` loop over a list (budget.getiter): the
 * first `free` items (already paid for) run without a tick, each item the list gained
 * during the loop calls `tick` first: what chain(islice(it, n), _ticking(it, tick)) does,
 * without two Python-level iterator layers.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <limits.h>
#include <unistd.h>

/* The Python guards every case not handled here goes to (bind()). */
static PyObject *slow_getitem = NULL;
static PyObject *slow_getattr = NULL;
static PyObject *slow_add = NULL;
static PyObject *slow_iadd = NULL;
static PyObject *slow_mul = NULL;
/* access._RULES: type -> (names read as they are, names giving a checked method). */
static PyObject *getattr_rules = NULL;

static PyObject *
call_slow(PyObject *slow, PyObject *const *args, Py_ssize_t nargs)
{
    if (slow == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "_fastguards.bind() was not called");
        return NULL;
    }
    return PyObject_Vectorcall(slow, args, nargs, NULL);
}

static int
two_args(const char *name, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "%s() takes exactly 2 arguments (%zd given)", name, nargs);
        return 0;
    }
    return 1;
}

/* guarded_getitem: exact dict, list, tuple, str, bytes, range -> obj[key]. */
static PyObject *
fg_getitem(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (!two_args("getitem", nargs))
        return NULL;
    PyTypeObject *t = Py_TYPE(args[0]);
    if (t == &PyDict_Type || t == &PyList_Type || t == &PyTuple_Type || t == &PyUnicode_Type ||
        t == &PyBytes_Type || t == &PyRange_Type)
        return PyObject_GetItem(args[0], args[1]);
    return call_slow(slow_getitem, args, nargs);
}

/* guarded_getattr: a name allowed as it is on the object's exact type -> getattr(obj, name). */
static PyObject *
fg_getattr(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (!two_args("getattr", nargs))
        return NULL;
    PyObject *name = args[1];
    if (getattr_rules != NULL && PyUnicode_CheckExact(name)) {
        PyObject *rule = PyDict_GetItemWithError(getattr_rules, (PyObject *)Py_TYPE(args[0]));
        if (rule == NULL && PyErr_Occurred())
            return NULL;
        if (rule != NULL && PyTuple_CheckExact(rule) && PyTuple_GET_SIZE(rule) >= 1 &&
            PyFrozenSet_CheckExact(PyTuple_GET_ITEM(rule, 0))) {
            int allowed = PySet_Contains(PyTuple_GET_ITEM(rule, 0), name);
            if (allowed < 0)
                return NULL;
            if (allowed)
                return PyObject_GetAttr(args[0], name);
        }
    }
    return call_slow(slow_getattr, args, nargs);
}

static int
is_number(PyObject *value)
{
    PyTypeObject *t = Py_TYPE(value);
    return t == &PyLong_Type || t == &PyFloat_Type;
}

/* guarded_add: an exact int or float on the left -> a + b. */
static PyObject *
fg_add(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (!two_args("add", nargs))
        return NULL;
    if (is_number(args[0]))
        return PyNumber_Add(args[0], args[1]);
    return call_slow(slow_add, args, nargs);
}

/* guarded_iadd: an exact int or float on the left -> x + y. */
static PyObject *
fg_iadd(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (!two_args("iadd", nargs))
        return NULL;
    if (is_number(args[0]))
        return PyNumber_Add(args[0], args[1]);
    return call_slow(slow_iadd, args, nargs);
}

static int
fits_long_long(PyObject *value)
{
    int overflow = 0;
    (void)PyLong_AsLongLongAndOverflow(value, &overflow);
    return overflow == 0;
}

/* guarded_mul: a float on either side, or two exact ints of at most 64 bits each (far
 * below MAX_INT_BITS together) -> a * b. */
static PyObject *
fg_mul(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (!two_args("mul", nargs))
        return NULL;
    PyTypeObject *ta = Py_TYPE(args[0]), *tb = Py_TYPE(args[1]);
    if (ta == &PyFloat_Type || tb == &PyFloat_Type)
        return PyNumber_Multiply(args[0], args[1]);
    if (ta == &PyLong_Type && tb == &PyLong_Type && fits_long_long(args[0]) &&
        fits_long_long(args[1]))
        return PyNumber_Multiply(args[0], args[1]);
    return call_slow(slow_mul, args, nargs);
}

static int
set_slow(PyObject **slot, PyObject *value, const char *name)
{
    if (!PyCallable_Check(value)) {
        PyErr_Format(PyExc_TypeError, "bind(): %s must be callable", name);
        return 0;
    }
    Py_INCREF(value);
    Py_XSETREF(*slot, value);
    return 1;
}

static PyObject *
fg_bind(PyObject *module, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"getitem", "getattr", "add", "iadd", "mul", "rules", NULL};
    PyObject *getitem, *getattr_, *add, *iadd, *mul, *rules;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "$OOOOOO!:bind", keywords, &getitem,
                                     &getattr_, &add, &iadd, &mul, &PyDict_Type, &rules))
        return NULL;
    if (!set_slow(&slow_getitem, getitem, "getitem") ||
        !set_slow(&slow_getattr, getattr_, "getattr") || !set_slow(&slow_add, add, "add") ||
        !set_slow(&slow_iadd, iadd, "iadd") || !set_slow(&slow_mul, mul, "mul"))
        return NULL;
    Py_INCREF(rules);
    Py_XSETREF(getattr_rules, rules);
    Py_RETURN_NONE;
}


/* statm_pages(fd): the second field of /proc/self/statm read from `fd` (resident pages), or
 * None when it cannot be read: budget._RssReader.read's pread and parse, without the bytes
 * object and the list its Python twin makes. */
static PyObject *
fg_statm_pages(PyObject *module, PyObject *arg)
{
    long number = PyLong_AsLong(arg);
    if (number == -1 && PyErr_Occurred())
        return NULL;
    if (number < 0 || number > INT_MAX) {
        PyErr_SetString(PyExc_ValueError, "statm_pages(): not a file descriptor");
        return NULL;
    }
    int fd = (int)number;
    char buffer[128];
    ssize_t got;
    Py_BEGIN_ALLOW_THREADS
    got = pread(fd, buffer, sizeof(buffer) - 1, 0);
    Py_END_ALLOW_THREADS
    if (got <= 0)
        Py_RETURN_NONE;
    buffer[got] = '\0';
    char *p = buffer;
    while (*p == ' ')
        p++;
    while (*p >= '0' && *p <= '9') /* the first field: the size */
        p++;
    if (*p != ' ')
        Py_RETURN_NONE;
    while (*p == ' ')
        p++;
    if (*p < '0' || *p > '9')
        Py_RETURN_NONE;
    unsigned long long pages = 0;
    while (*p >= '0' && *p <= '9') {
        if (pages > (ULLONG_MAX - 9) / 10)
            Py_RETURN_NONE;
        pages = pages * 10 + (unsigned long long)(*p - '0');
        p++;
    }
    return PyLong_FromUnsignedLongLong(pages);
}

/* ------------------------------------------------------------------ ListTail */
typedef struct {
    PyObject_HEAD
    PyObject *list; /* NULL once exhausted: it stays exhausted, as a list iterator does */
    Py_ssize_t index;
    Py_ssize_t free; /* items already paid for */
    PyObject *tick;
} ListTail;

static PyTypeObject ListTailType;

static PyObject *
listtail_make(PyObject *list, Py_ssize_t free, PyObject *tick)
{
    ListTail *self = PyObject_GC_New(ListTail, &ListTailType);
    if (self == NULL)
        return NULL;
    Py_INCREF(list);
    Py_INCREF(tick);
    self->list = list;
    self->index = 0;
    self->free = free < 0 ? 0 : free;
    self->tick = tick;
    PyObject_GC_Track(self);
    return (PyObject *)self;
}

static PyObject *
listtail_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    PyObject *list, *tick;
    Py_ssize_t free;
    if (kwargs != NULL && PyDict_GET_SIZE(kwargs) != 0) {
        PyErr_SetString(PyExc_TypeError, "ListTail() takes no keyword arguments");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "O!nO:ListTail", &PyList_Type, &list, &free, &tick))
        return NULL;
    if (!PyCallable_Check(tick)) {
        PyErr_SetString(PyExc_TypeError, "ListTail(): tick must be callable");
        return NULL;
    }
    return listtail_make(list, free, tick);
}

static int
listtail_traverse(ListTail *self, visitproc visit, void *arg)
{
    Py_VISIT(self->list);
    Py_VISIT(self->tick);
    return 0;
}

static int
listtail_clear(ListTail *self)
{
    Py_CLEAR(self->list);
    Py_CLEAR(self->tick);
    return 0;
}

static void
listtail_dealloc(ListTail *self)
{
    PyObject_GC_UnTrack(self);
    listtail_clear(self);
    PyObject_GC_Del(self);
}

static PyObject *
listtail_next(ListTail *self)
{
    PyObject *list = self->list;
    if (list == NULL)
        return NULL;
    if (self->index >= PyList_GET_SIZE(list)) {
        Py_CLEAR(self->list);
        return NULL;
    }
    PyObject *item = PyList_GET_ITEM(list, self->index);
    Py_INCREF(item);
    self->index++;
    if (self->index > self->free) {
        /* An item the list gained while it was iterated: it ticks (and may raise). */
        PyObject *ticked = self->tick == NULL ? NULL : PyObject_CallNoArgs(self->tick);
        if (ticked == NULL) {
            Py_DECREF(item);
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_RuntimeError, "ListTail without a tick");
            return NULL;
        }
        Py_DECREF(ticked);
    }
    return item;
}

static PyTypeObject ListTailType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "nightpos_app.sandbox._fastguards.ListTail",
    .tp_basicsize = sizeof(ListTail),
    .tp_dealloc = (destructor)listtail_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "ListTail(list, free, tick): a list's items, the first `free` without a tick.",
    .tp_traverse = (traverseproc)listtail_traverse,
    .tp_clear = (inquiry)listtail_clear,
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)listtail_next,
    .tp_new = listtail_new,
};


/* ------------------------------------------------------------------ Ticker */
/* The budget's countdown (budget._make_tick's closures, in C): calling it ticks; `left` is
 * the countdown; expire() makes every later tick call `check` (which then raises); getiter()
 * charges a loop's ticks for its items when the loop starts (Budget.getiter). `check(unspent)`
 * returns the next countdown; `slow(ticker, iterable, n)` serves the loops not handled here:
 * n >= 0 for a list (or other bounded iterable) longer than the countdown, n == -1 for an
 * iterable that ticks per item. */
typedef struct {
    PyObject_HEAD
    Py_ssize_t left;
    PyObject *check;
    PyObject *slow;
    vectorcallfunc vectorcall;
} Ticker;

static PyTypeObject TickerType;

static int
ticker_refill(Ticker *self, PyObject *unspent)
{
    /* left = check() or check(unspent); on an error `left` is kept (<= 0: the next tick
     * calls check again, which raises again). A Ticker the garbage collector has cleared
     * (tp_clear) has no check left: it raises instead of calling NULL. */
    if (self->check == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "a cleared Ticker");
        return -1;
    }
    PyObject *args[1] = {unspent};
    PyObject *next = PyObject_Vectorcall(self->check, args, unspent == NULL ? 0 : 1, NULL);
    if (next == NULL)
        return -1;
    Py_ssize_t value = PyLong_AsSsize_t(next);
    Py_DECREF(next);
    if (value == -1 && PyErr_Occurred())
        return -1;
    self->left = value;
    return 0;
}

static PyObject *
ticker_vectorcall(PyObject *callable, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    Ticker *self = (Ticker *)callable;
    if (PyVectorcall_NARGS(nargsf) != 0 || (kwnames != NULL && PyTuple_GET_SIZE(kwnames))) {
        PyErr_SetString(PyExc_TypeError, "a tick takes no arguments");
        return NULL;
    }
    self->left -= 1;
    if (self->left <= 0 && ticker_refill(self, NULL) < 0)
        return NULL;
    Py_RETURN_TRUE;
}

static PyObject *
ticker_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"check", "slow", "left", NULL};
    PyObject *check, *slow;
    Py_ssize_t left = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO|n:Ticker", keywords, &check, &slow,
                                     &left))
        return NULL;
    if (!PyCallable_Check(check) || !PyCallable_Check(slow)) {
        PyErr_SetString(PyExc_TypeError, "Ticker(): check and slow must be callable");
        return NULL;
    }
    Ticker *self = PyObject_GC_New(Ticker, &TickerType);
    if (self == NULL)
        return NULL;
    Py_INCREF(check);
    Py_INCREF(slow);
    self->left = left;
    self->check = check;
    self->slow = slow;
    self->vectorcall = ticker_vectorcall;
    PyObject_GC_Track(self);
    return (PyObject *)self;
}

static int
ticker_traverse(Ticker *self, visitproc visit, void *arg)
{
    Py_VISIT(self->check);
    Py_VISIT(self->slow);
    return 0;
}

static int
ticker_clear(Ticker *self)
{
    Py_CLEAR(self->check);
    Py_CLEAR(self->slow);
    return 0;
}

static void
ticker_dealloc(Ticker *self)
{
    PyObject_GC_UnTrack(self);
    ticker_clear(self);
    PyObject_GC_Del(self);
}

static PyObject *
ticker_expire(Ticker *self, PyObject *unused)
{
    self->left = -((Py_ssize_t)1 << 62);
    Py_RETURN_NONE;
}

static int
bounded_iteration(PyTypeObject *t)
{
    /* budget._BOUNDED_ITERATION: iteration bounded by the length when the loop starts. */
    return t == &PyTuple_Type || t == &PyUnicode_Type || t == &PyBytes_Type ||
           t == &PyFrozenSet_Type || t == &PyRange_Type || t == &PyDict_Type ||
           t == &PyDictKeys_Type || t == &PyDictValues_Type || t == &PyDictItems_Type;
}

static PyObject *
ticker_slow(Ticker *self, PyObject *iterable, Py_ssize_t n)
{
    if (self->check == NULL || self->slow == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "a cleared Ticker");
        return NULL;
    }
    PyObject *count = PyLong_FromSsize_t(n);
    if (count == NULL)
        return NULL;
    PyObject *args[3] = {(PyObject *)self, iterable, count};
    PyObject *result = PyObject_Vectorcall(self->slow, args, 3, NULL);
    Py_DECREF(count);
    return result;
}

static PyObject *
ticker_getiter(Ticker *self, PyObject *iterable)
{
    PyTypeObject *t = Py_TYPE(iterable);
    int is_list = t == &PyList_Type;
    if (!is_list && !bounded_iteration(t))
        return ticker_slow(self, iterable, -1);
    Py_ssize_t n = PyObject_Length(iterable);
    if (n < 0) {
        if (!PyErr_ExceptionMatches(PyExc_OverflowError))
            return NULL;
        PyErr_Clear(); /* range(10**30): ticks per item */
        return ticker_slow(self, iterable, -1);
    }
    if (n >= self->left) {
        /* Where a tick per item would have checked: before the items instead. */
        PyObject *unspent = PyLong_FromSsize_t(self->left);
        if (unspent == NULL)
            return NULL;
        int failed = ticker_refill(self, unspent);
        Py_DECREF(unspent);
        if (failed)
            return NULL;
    }
    if (n < self->left) {
        self->left -= n;
        if (!is_list)
            return PyObject_GetIter(iterable);
        return listtail_make(iterable, n, (PyObject *)self);
    }
    return ticker_slow(self, iterable, n);
}

static PyMemberDef ticker_members[] = {
    {"left", T_PYSSIZET, offsetof(Ticker, left), 0, "ticks before the next check"},
    {"check", T_OBJECT, offsetof(Ticker, check), READONLY, "the budget's check"},
    {NULL},
};

static PyMethodDef ticker_methods[] = {
    {"expire", (PyCFunction)ticker_expire, METH_NOARGS, "Every later tick checks (and raises)."},
    {"getiter", (PyCFunction)ticker_getiter, METH_O, "A loop's iterator, its ticks charged."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject TickerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "nightpos_app.sandbox._fastguards.Ticker",
    .tp_basicsize = sizeof(Ticker),
    .tp_dealloc = (destructor)ticker_dealloc,
    .tp_vectorcall_offset = offsetof(Ticker, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_doc = "Ticker(check, slow, left=1): a call's countdown; calling it ticks.",
    .tp_traverse = (traverseproc)ticker_traverse,
    .tp_clear = (inquiry)ticker_clear,
    .tp_members = ticker_members,
    .tp_methods = ticker_methods,
    .tp_new = ticker_new,
};

/* ------------------------------------------------------------------ module */
static PyMethodDef methods[] = {
    {"getitem", (PyCFunction)(void (*)(void))fg_getitem, METH_FASTCALL,
     "guarded_getitem's fast path."},
    {"getattr", (PyCFunction)(void (*)(void))fg_getattr, METH_FASTCALL,
     "guarded_getattr's fast path."},
    {"add", (PyCFunction)(void (*)(void))fg_add, METH_FASTCALL, "guarded_add's fast path."},
    {"iadd", (PyCFunction)(void (*)(void))fg_iadd, METH_FASTCALL, "guarded_iadd's fast path."},
    {"mul", (PyCFunction)(void (*)(void))fg_mul, METH_FASTCALL, "guarded_mul's fast path."},
    {"statm_pages", (PyCFunction)fg_statm_pages, METH_O,
     "statm_pages(fd): resident pages from /proc/self/statm's descriptor, or None."},
    {"bind", (PyCFunction)(void (*)(void))fg_bind, METH_VARARGS | METH_KEYWORDS,
     "bind(*, getitem, getattr, add, iadd, mul, rules): the Python guards and rules."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "nightpos_app.sandbox._fastguards",
    .m_doc = "The fast paths of the sandbox's hottest guards (see nightpos_app/sandbox/native.py).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__fastguards(void)
{
    if (PyType_Ready(&ListTailType) < 0 || PyType_Ready(&TickerType) < 0)
        return NULL;
    PyObject *module = PyModule_Create(&module_def);
    if (module == NULL)
        return NULL;
    Py_INCREF(&ListTailType);
    if (PyModule_AddObject(module, "ListTail", (PyObject *)&ListTailType) < 0) {
        Py_DECREF(&ListTailType);
        Py_DECREF(module);
        return NULL;
    }
    Py_INCREF(&TickerType);
    if (PyModule_AddObject(module, "Ticker", (PyObject *)&TickerType) < 0) {
        Py_DECREF(&TickerType);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
