"""The pytest plugin (entry point ``faultio``): run another project's stream tests under every fault.

Rules for this module:
- Loading it costs nothing: only the stdlib and pytest are imported here. faultio, pyOpenSSL, the monitors,
  the runner and the report renderer are imported inside the hooks and fixtures that need them, and only for
  tests that use the ``faults`` marker or a ``fault_*`` fixture. ``-p no:faultio`` switches it off.
- It changes nothing for a test that uses neither the marker nor a fixture of this module.
- State lives in ``config.stash`` (per session) and ``item.stash`` (per test); nothing is global.
- Judging is not done here: the invariant engine (``harness.engine``) judges streams, ``harness._plugin_world``
  builds the world and turns what they saw into a verdict, ``harness._plugin_report`` writes the report.
- Files are written by the process that owns the session only (never by a pytest-xdist worker).
"""

from __future__ import annotations

import inspect
import sys
from typing import Any, Iterator

import pytest

from ._plugin_settings import GENERATED, SETTINGS_KEY, TRANSPORTS, Cell, Settings, replay_command

MARKER_HELP = (
    'faults(*kinds, transports=("plain",), inbound_size=256, outbound_size=256, profile="raw"): run the test '
    'once per fault kind (eintr, econnreset, ewouldblock, dribble, flood, or "all") and transport (plain, ssl), '
    "with the fault_plan / fault_streams / fault_event_loop / fault_socketpair fixtures set up for that kind. "
    "On ssl the TLS kinds (ragged-eof, eof-mid-record, record-split, records-coalesced, handshake-fail, "
    "tls-flood) are valid too, played by fault_streams' TLS peer; \"all\" includes them on ssl only. "
    "The sizes say how many bytes the test's stream reads and writes, so the faults land inside the exchange. "
    "profile is the fds' realism profile: raw (an injected EINTR raises InterruptedError) or cpython (retried "
    "inside the call, as CPython's socket methods do since PEP 475); the default is cpython for a test using "
    "fault_event_loop, raw otherwise."
)
#: The fixtures a faults marker acts through, and those that run on faultio's own (Tornado-4) loop.
FAULT_FIXTURES = ("fault_plan", "fault_streams", "fault_event_loop", "fault_socketpair")
FAULTIO_LOOP_FIXTURES = ("fault_loop", "fault_streams")


RECORDER_KEY = pytest.StashKey["_Recorder"]()


# --- options -----------------------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add faultio's command-line options (their own group) and ini settings."""
    group = parser.getgroup("faultio", "faultio: run stream tests under injected kernel faults")
    group.addoption("--faults", dest="faultio_faults", default=None, metavar="KINDS",
                    help="fault kinds to run marked tests under, a comma list or 'all'; narrows what each "
                         "test's faults marker names (default: what the marker says)")
    group.addoption("--fault-seed", dest="faultio_seed", default=None, metavar="N",
                    help="the seed every fault plan derives from, with the test's node id (default 0)")
    group.addoption("--fault-report", dest="faultio_report", default=None, metavar="DIR",
                    help="write one HTML report (index.html + report.json) of every faulted test to DIR")
    group.addoption("--fault-examples", dest="faultio_examples", default=None, metavar="N",
                    help="also run each marked test under N generated plans mixing its fault kinds "
                         "(default 0)")
    group.addoption("--fault-target", dest="faultio_target", default=None, metavar="MODULE:FACTORY",
                    help="the stream factory (or IOStream-like class) fault_streams wraps "
                         "(default faultio:IOStream)")
    group.addoption("--fault-invariants", dest="faultio_invariants", default=None, metavar="MODULE[:OBJ],...",
                    help="import your own checkers (Checker subclasses registered with @harness.invariant) "
                         "so every faulted test is judged by them too")
    group.addoption("--fault-class", dest="faultio_class", default=None, choices=("contract", "all"),
                    help="which findings fail a test: contract, or all (also the seed design's stricter "
                         "rules); default: all for faultio's own stream, contract for another factory")
    parser.addini("faults", "default for --faults", default="")
    parser.addini("fault_invariants", "default for --fault-invariants (comma or line separated)", default="")
    parser.addini("fault_class", "default for --fault-class", default="")
    parser.addini("fault_seed", "default for --fault-seed", default="")
    parser.addini("fault_report", "default for --fault-report", default="")
    parser.addini("fault_examples", "default for --fault-examples", default="")
    parser.addini("faultio_target", "default for --fault-target", default="")


def _setting(config: pytest.Config, option: str, ini: str) -> str | None:
    value = config.getoption(option)
    if value is None:
        value = config.getini(ini) or None
    return value.strip() if isinstance(value, str) else value


def _integer(text: str | None, name: str, default: int) -> int:
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise pytest.UsageError(f"{name} {text!r} is not valid; it must be an integer >= 0")
    return value


def _kinds(spec: str, where: str) -> tuple[str, ...]:
    from faultio._errors import PlanError
    from faultio._plan import parse_kinds

    try:
        return parse_kinds(spec, transports=TRANSPORTS)  # --faults filters every transport's kinds
    except PlanError as exc:
        raise pytest.UsageError(f"{where}: {exc}") from None


def _load_invariants(spec: str | None) -> tuple[str, ...]:
    specs = tuple(p.strip() for p in (spec or "").replace("\n", ",").split(",") if p.strip())
    if not specs:
        return ()
    from .engine import InvariantError, load_invariants

    for one in specs:
        try:
            load_invariants(one)
        except InvariantError as exc:
            raise pytest.UsageError(str(exc).replace("--invariants", "--fault-invariants", 1)) from None
    return specs


def _fail_class(value: str | None) -> str | None:
    if value in (None, ""):
        return None
    if value not in ("contract", "all"):
        raise pytest.UsageError(f"fault_class {value!r} is not valid; valid: contract, all")
    return value


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    """Register the ``faults`` marker, resolve faultio's settings and start the case recorder."""
    config.addinivalue_line("markers", MARKER_HELP)
    faults = _setting(config, "faultio_faults", "faults")
    settings = Settings(
        seed=_integer(_setting(config, "faultio_seed", "fault_seed"), "--fault-seed", 0),
        faults=_kinds(faults, "--faults") if faults and faults != "all" else None,
        report=_setting(config, "faultio_report", "fault_report"),
        examples=_integer(_setting(config, "faultio_examples", "fault_examples"), "--fault-examples", 0),
        target=_setting(config, "faultio_target", "faultio_target"),
        invariants=_load_invariants(_setting(config, "faultio_invariants", "fault_invariants")),
        fail_class=_fail_class(_setting(config, "faultio_class", "fault_class")),
    )
    config.stash[SETTINGS_KEY] = settings
    recorder = _Recorder(config)
    config.stash[RECORDER_KEY] = recorder
    config.pluginmanager.register(recorder, "faultio-recorder")


def pytest_unconfigure(config: pytest.Config) -> None:
    """Unregister faultio's case recorder."""
    recorder = config.stash.get(RECORDER_KEY, None)
    if recorder is not None and config.pluginmanager.is_registered(recorder):
        config.pluginmanager.unregister(recorder)


def pytest_report_header(config: pytest.Config) -> str:
    """Show the fault seed and faultio's other settings in the header."""
    settings = config.stash[SETTINGS_KEY]
    faults = ",".join(settings.faults) if settings.faults else "as each test's faults marker says"
    parts = [f"faultio: fault seed {settings.seed}, faults {faults}"]
    if settings.examples:
        parts.append(f"{settings.examples} generated plan(s) per test")
    if settings.target:
        parts.append(f"target {settings.target}")
    if settings.report:
        parts.append(f"report in {settings.report}")
    return ", ".join(parts)


# --- the marker ---------------------------------------------------------------------------------------


def _default_profile(fixturenames: Any) -> str:
    """The realism profile a test gets unless its marker says: asyncio code runs where CPython's sockets retry
    EINTR themselves (``cpython``); faultio's own stream is the seed's world (``raw``)."""
    return "cpython" if "fault_event_loop" in fixturenames else "raw"


def _marker_cells(metafunc: pytest.Metafunc, marker: pytest.Mark, settings: Settings) -> list[Any]:
    """The parameter sets of a marked test; every problem is a collection error naming the valid values."""
    from faultio._errors import PlanError
    from faultio._plan import CONNECT_KINDS, FAULT_KINDS, KIND_TRANSPORTS, TIME_KINDS, TLS_KINDS, parse_kinds
    from faultio._shaped import PROFILES

    where = f"@pytest.mark.faults on {metafunc.definition.nodeid}"
    unknown_kw = set(marker.kwargs) - {"transports", "inbound_size", "outbound_size", "profile"}
    if unknown_kw:
        pytest.fail(f"{where}: unknown keyword(s) {sorted(unknown_kw)}; valid: transports, inbound_size, "
                    "outbound_size, profile", pytrace=False)
    profile = marker.kwargs.get("profile", _default_profile(metafunc.fixturenames))
    if not isinstance(profile, str) or profile not in PROFILES:
        pytest.fail(f"{where}: profile={profile!r} is not valid; valid: {', '.join(PROFILES)}", pytrace=False)
    given = marker.kwargs.get("transports", ("plain",))
    if isinstance(given, str):
        transports: tuple[Any, ...] = (given,)
    elif isinstance(given, (list, tuple)):  # ordered: every xdist worker must collect the same ids
        transports = tuple(given)
    else:
        pytest.fail(f"{where}: transports={given!r} is not valid; give a transport name or a tuple of them "
                    "(valid transports: plain, ssl, all)", pytrace=False)
    if not transports:
        pytest.fail(f"{where}: transports={given!r} names no transport; valid transports: plain, ssl, all",
                    pytrace=False)
    if transports == ("all",):
        transports = TRANSPORTS
    for transport in transports:
        if transport not in TRANSPORTS:
            pytest.fail(f"{where}: unknown transport {transport!r}; valid transports: plain, ssl, all",
                        pytrace=False)
    try:
        # Knowing the transports: "all" names the TLS kinds too where ssl is asked for, and a TLS kind asked
        # for on plain alone is refused with the kinds valid there.
        names = [str(k) for k in marker.args] or ["all"]
        kinds = parse_kinds(names, transports=transports)
    except PlanError as exc:
        pytest.fail(f"{where}: {exc}", pytrace=False)
    # The connect kinds act only when the test's code calls connect() on the target socket: the marker runs them
    # when it names them, and "all" leaves them out.
    kinds = tuple(k for k in kinds if k not in CONNECT_KINDS or k in names)
    if "fault_event_loop" in metafunc.fixturenames and transports != ("plain",):
        pytest.fail(f"{where}: fault_event_loop runs over the plain transport only (transports={given!r}); "
                    "for TLS under faults (and the TLS kinds) use fault_streams or the harness's "
                    "asyncio-streams target",
                    pytrace=False)
    sizes = {}
    for key in ("inbound_size", "outbound_size"):
        value = marker.kwargs.get(key, 256)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            pytest.fail(f"{where}: {key}={value!r} is not valid; it must be an integer >= 0", pytrace=False)
        sizes[key] = value
    # The time kinds run where they are named: a marker's "all" (or no argument) keeps the kinds it had, so
    # every marked test is not multiplied by six (``docs/time-faults.md``).
    named_kinds = {str(k) for k in marker.args}
    kinds = tuple(k for k in kinds if k not in TIME_KINDS or k in named_kinds)
    if "fault_socketpair" in metafunc.fixturenames:
        # Real sockets have no virtual clock: a time kind named for them is refused, and "all" leaves them out.
        named = [str(k) for k in marker.args if str(k) in TIME_KINDS]
        if named:
            pytest.fail(f"{where}: the time kinds ({', '.join(named)}) need the simulated kernel's virtual clock; "
                        "fault_socketpair is a real OS socket pair (use fault_streams or fault_event_loop)",
                        pytrace=False)
        kinds = tuple(k for k in kinds if k not in TIME_KINDS)
    chosen = tuple(k for k in kinds if settings.faults is None or k in settings.faults)
    tls_chosen = [k for k in chosen if k in TLS_KINDS]
    if tls_chosen and "fault_socketpair" in metafunc.fixturenames and "fault_streams" not in metafunc.fixturenames:
        pytest.fail(f"{where}: the TLS kinds ({', '.join(tls_chosen)}) act through fault_streams' TLS peer; "
                    f"fault_socketpair is a plain socket pair with no TLS layer (its kinds: {', '.join(FAULT_KINDS)})",
                    pytrace=False)
    # Each kind runs on the transports it applies to (a TLS kind on ssl only).
    cells = [Cell(kind, t, profile=profile, **sizes) for t in transports for kind in chosen
             if t in KIND_TRANSPORTS[kind]]
    # Generated plans mix the kernel faults; the TLS kinds are peer behaviours, the time kinds timed plans and
    # the connect kinds act on a connect only: none of them are steps to mix.
    core = tuple(k for k in chosen if k not in TLS_KINDS and k not in TIME_KINDS and k not in CONNECT_KINDS)
    if settings.examples and core:
        from . import _plugin_world

        plans = _plugin_world.generated_plans(settings.examples, seed=settings.seed,
                                              nodeid=metafunc.definition.nodeid, kinds=core, **sizes)
        cells += [Cell(GENERATED, t, plan=plan, index=i, profile=profile, **sizes) for t in transports
                  for i, plan in enumerate(plans)]
    if not cells:
        reason = (f"--faults {','.join(settings.faults or ())} leaves none of the kinds this test's marker "
                  f"names ({', '.join(kinds)})")
        return [pytest.param(None, id="no-faults", marks=pytest.mark.skip(reason=reason))]
    return [pytest.param(cell, id=cell.id) for cell in cells]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize a ``faults``-marked test: one cell per fault kind and transport (and generated plan)."""
    if "fault_event_loop" in metafunc.fixturenames:
        mixed = [name for name in FAULTIO_LOOP_FIXTURES if name in metafunc.fixturenames]
        if mixed:
            pytest.fail(f"{metafunc.definition.nodeid}: fault_event_loop (the simulated asyncio loop) and "
                        f"{' and '.join(mixed)} (faultio's Tornado-4 loop) do not mix in one test; use one or "
                        "the other", pytrace=False)
    marker = metafunc.definition.get_closest_marker("faults")
    if marker is None:
        return
    if "_faultio_cell" not in metafunc.fixturenames:
        pytest.fail(f"@pytest.mark.faults on {metafunc.definition.nodeid}: the test uses none of the fixtures "
                    "the faults act through; request fault_plan, fault_streams, fault_event_loop or "
                    "fault_socketpair", pytrace=False)
    settings = metafunc.config.stash[SETTINGS_KEY]
    metafunc.parametrize("_faultio_cell", _marker_cells(metafunc, marker, settings), indirect=True)


# --- fixtures -----------------------------------------------------------------------------------------


@pytest.fixture
def _faultio_cell(request: pytest.FixtureRequest) -> Cell:
    """The fault kind and transport of this parametrisation (a clean plan when the test is not marked)."""
    cell = getattr(request, "param", None)
    return cell if isinstance(cell, Cell) else Cell("clean", profile=_default_profile(request.fixturenames))


def _world(request: pytest.FixtureRequest) -> Any:
    from . import _plugin_world

    return _plugin_world.state_for(request.node, request.config.stash[SETTINGS_KEY])


@pytest.fixture
def fault_plan(request: pytest.FixtureRequest, _faultio_cell: Cell) -> Any:
    """The ``faultio.FaultPlan`` of this parametrisation (a ``@pytest.mark.faults`` kind over a transport).

    Seeded from ``--fault-seed`` and the test's node id, so every run of this test id gets the same plan.
    Without the marker the plan is clean (an ordinary socket). The seed and the plan are recorded as the
    test's ``user_properties`` (so ``--junitxml`` carries them).
    """
    return _world(request).set_cell(_faultio_cell)


@pytest.fixture
def fault_loop(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A deterministic ``faultio.IOLoop`` (virtual clock, fixed order, step budget), current for the test.

    ``fault_loop.run_sync(async_fn)`` runs an ``async def`` to completion; ``fault_loop.spawn(coro)``
    starts one and returns its future. A loop that goes quiet while the test still waits, or never settles,
    fails the test with the ``liveness`` or ``no-busy-loop`` invariant instead of hanging.
    """
    state = _world(request)
    yield state.make_loop()
    state.close()


@pytest.fixture
def fault_stream_factory(request: pytest.FixtureRequest) -> Any:
    """The stream class or factory ``fault_streams`` wraps around the faulty fd. Override it in a conftest.

    Either an IOStream-like class taking ``(sock, io_loop=..., max_buffer_size=...)`` (and
    ``ssl_options=..., server_side=True`` for TLS), or a factory
    ``factory(sock, *, io_loop, transport, max_buffer_size, ssl_context)``. Default: ``--fault-target`` /
    the ``faultio_target`` ini value, else faultio's own ``IOStream`` / ``SSLIOStream``.
    """
    from . import _plugin_world

    return _plugin_world.configured_factory(request.config.stash[SETTINGS_KEY].target)


@pytest.fixture
def fault_streams(request: pytest.FixtureRequest, fault_plan: Any, fault_loop: Any,
                  fault_stream_factory: Any) -> Any:
    """A connected pair over fake fds on ``fault_loop``: ``.stream`` and ``.peer``.

    ``.stream`` is the stream under test (from ``fault_stream_factory``) on the fd that obeys
    ``fault_plan``, watched by the invariant monitors: every read and write it makes is checked at every
    loop step. ``.peer`` is the ``faultio.Peer`` (``faultio.TLSPeer`` on the ssl transport, which
    handshakes on first use and plays the cell's TLS kind as the matrix's peer does) the test drives; it
    treats a connection the plan cut as EOF instead of raising. ``.check_received(received, sent)`` judges
    what your code read against what was sent; ``.disrupted`` says whether the plan cut the exchange short.
    When the test ends the loop is run until quiet, the stream is closed if it is still open, and any broken
    invariant fails the test with its slug, the trace around it and the command that replays it.
    """
    return _world(request).open_pair(fault_stream_factory)


@pytest.fixture
def fault_sequences(request: pytest.FixtureRequest, fault_stream_factory: Any) -> Any:
    """Generated sequences of calls on the stream ``fault_stream_factory`` gives, judged by the monitors and
    the reference model (plain transport).

    ``fault_sequences.check(count=100)`` draws ``count`` sequences (reads of every kind in both styles, writes,
    closes from either side, ``set_close_callback``, idle periods) under drawn fault plans, each on a fresh
    stream, seeded from ``--fault-seed``; the first failure fails the test, shrunk, with its JSON.
    ``fault_sequences.run(sequence)`` judges one ``faultio.Sequence`` (from your own Hypothesis test of
    ``faultio.strategies.sequences()``) and returns the result (``.outcome``, ``.violations``).
    """
    from ._plugin_sequences import FaultSequences

    return FaultSequences(fault_stream_factory, seed=request.config.stash[SETTINGS_KEY].seed)


@pytest.fixture
def fault_event_loop(request: pytest.FixtureRequest, fault_plan: Any) -> Iterator[Any]:
    """The simulated asyncio loop and a faulty connection on it, for your own asyncio code.

    An ``async def`` test using it runs as a task on ``.loop``, a ``faultio.SimEventLoop`` (the stdlib's
    ``SelectorEventLoop`` over fake fds, on a virtual clock: ``asyncio.sleep`` and ``wait_for`` cost
    nothing), which is the running loop. ``.sock`` is the server end of the connection, a fake socket that
    obeys ``fault_plan``: hand it to asyncio (``asyncio.open_connection(sock=...)``,
    ``loop.connect_accepted_socket``) or to Tornado 6 (``IOStream(sock)``). ``.peer`` is the fault-free
    client end (``faultio.Peer``: ``send_all``, ``recv_exactly``, ``recv_until_eof``, ``close``), awaited
    from the test; it reads a connection the plan cut as EOF. ``.check_received(received, sent)`` judges
    what your code read. When the test ends the peer hangs up and the loop runs until quiet: a loop that
    stalled while the test waited fails with ``liveness``, one that spun with ``no-busy-loop``, an fd still
    open (a leaked connection) or used after close with ``no-io-after-close``, a task that died unseen
    with ``target-crashed``. The fds' profile is ``cpython`` unless the marker says ``profile=``.
    """
    state = _world(request)
    yield state.open_event_loop()
    state.close()


@pytest.fixture
def fault_socketpair(request: pytest.FixtureRequest, fault_plan: Any) -> Iterator[Any]:
    """A real, connected, non-blocking OS socket pair ``(target, peer)`` (``socket.socketpair()``).

    ``target`` is a ``faultio._realfd.FaultySocket``: its ``recv``/``recv_into``/``send`` obey
    ``fault_plan`` (raising the real ``InterruptedError``, ``BlockingIOError``, ``ConnectionResetError``,
    ``BrokenPipeError``, delivering short reads and partial sends; under the marker's ``profile="cpython"``
    an injected EINTR is retried inside the call instead, as CPython does), and ``fileno()`` is the real
    descriptor, so any event loop (asyncio, Tornado 6's ``IOStream``) can use it. ``peer`` is an ordinary
    ``socket.socket``. Both are closed when the test ends.
    """
    pair = _world(request).real_pair()
    yield pair
    for sock in pair:
        sock.close()


# --- judging and reporting ----------------------------------------------------------------------------


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run an ``async def`` test that uses ``fault_event_loop`` as a task on its simulated loop."""
    if "fault_event_loop" not in pyfuncitem.fixturenames:
        return None
    # A plugin that runs coroutine tests on its own loop may have swapped the test for a synchronous wrapper
    # made with functools.wraps (pytest-asyncio in auto mode does): the test's own coroutine function is
    # under it, and a test on fault_event_loop runs on the simulated loop, not that plugin's.
    func = inspect.unwrap(pyfuncitem.obj)
    if not inspect.iscoroutinefunction(func):
        return None
    from . import _plugin_asyncio

    _plugin_asyncio.run_test(pyfuncitem, func, pyfuncitem.funcargs["fault_event_loop"])
    return True


def _state(item: pytest.Item) -> Any:
    """The test's faultio state, if one of this plugin's fixtures made one (without importing anything)."""
    world = sys.modules.get("harness._plugin_world")
    return None if world is None else item.stash.get(world.STATE_KEY, None)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    """Judge a faulted test after its call: a broken invariant fails it."""
    state = _state(item)
    if state is None:
        return (yield)
    try:
        result = yield
    except (pytest.skip.Exception, pytest.xfail.Exception, KeyboardInterrupt):
        raise
    except BaseException as exc:
        failure = state.judge(exc)
        if failure is None:
            raise
        if state.absorbed(exc):  # a stall or a livelock: the violation says everything it said
            raise failure from None
        raise failure from exc
    failure = state.judge(None)
    if failure is not None:
        raise failure
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    """Attach a faulted test's case (and, on failure, the faultio section) to its report."""
    report = yield
    state = _state(item)
    if state is not None:
        state.annotate(report, call, replay=replay_command(item))
    return report


class _Recorder:
    """Collects the faulted tests' cases of one session (also from xdist workers' reports) and, in the
    process that owns the session, writes the report at the end."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.cases: list[dict] = []
        self.started = 0.0
        self.path: str | None = None

    def pytest_sessionstart(self) -> None:
        """Note when the session started, for the report."""
        import time

        self.started = time.time()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Collect the faulted case a report carries (also from xdist workers)."""
        # Set by ``_plugin_world`` on the report; pytest-xdist carries report attributes to the controller.
        case = getattr(report, "faultio_case", None)
        if case is not None:
            self.cases.append(case)

    def pytest_sessionfinish(self) -> None:
        """Write the ``--fault-report`` report (in the process that owns the session only)."""
        settings = self.config.stash[SETTINGS_KEY]
        if settings.report and not hasattr(self.config, "workerinput"):
            from . import _plugin_report

            self.path = str(_plugin_report.write(self.config, settings, self.cases, started=self.started))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """Say where the faultio report was written."""
        if self.path:
            terminalreporter.write_line(
                f"faultio: report of {len(self.cases)} faulted test case(s) written to {self.path}")
