"""Which checker hooks the monitor calls, and which trace events it hears for them.

Rules for this module:
- One pass over the checkers makes the tables (a monitor is made for every case). The fd and loop hooks are
  then picked per event by the fd event's result or the loop event's kind (``Checker.FD_RESULTS``,
  ``Checker.LOOP_KINDS``), a list made the first time each is met.
- Every list keeps the checkers' order: where a violation lands in the trace never depends on these tables.
- Nothing here calls a hook: the monitor does, and contains what one raises.
"""

from __future__ import annotations

from typing import Any, Callable

from .registry import Checker

#: ``(checker, its bound hook)``, in the checkers' order.
Hooks = list[tuple[Checker, Callable[..., Any]]]
#: ``(checker, its bound hook, compact)``: an fd or loop hook in either form (``compact``: it takes the trace's
#: compact record, else a ``TraceEvent``).
EitherHooks = list[tuple[Checker, Callable[..., Any], bool]]

#: Each hook with ``Checker``'s own (do-nothing) version of it.
_BASE_HOOKS = tuple((hook, getattr(Checker, hook)) for hook in Checker.HOOKS)
#: The fd and loop hooks: the list of either form each goes to, and whether it takes the compact record.
_EITHER = {"on_fd": ("on_fd", False), "on_fd_record": ("on_fd", True), "on_loop": ("on_loop", False),
           "on_loop_record": ("on_loop", True)}


class HookTables:
    """The hooks of ``checkers`` the monitor calls: by name (those a watching checker's class overrides), and
    the fd and loop hooks by the event's result and kind."""

    __slots__ = ("hooks", "either", "fd", "loop")

    def __init__(self, checkers: list[Checker]) -> None:
        self.hooks: dict[str, Hooks] = {hook: [] for hook in Checker.HOOKS}
        self.either: dict[str, EitherHooks] = {"on_fd": [], "on_loop": []}
        for checker in checkers:
            if checker.watching:
                kind = type(checker)
                for hook, base in _BASE_HOOKS:
                    if getattr(kind, hook) is not base:
                        fn = getattr(checker, hook)
                        self.hooks[hook].append((checker, fn))
                        form = _EITHER.get(hook)
                        if form is not None:
                            self.either[form[0]].append((checker, fn, form[1]))
        #: result -> the fd hooks that look at fd events with it (``fd_for``).
        self.fd: dict[Any, EitherHooks] = {}
        #: kind -> the loop hooks that look at loop events of it (``loop_for``).
        self.loop: dict[str, EitherHooks] = {}

    def fd_for(self, result: Any) -> EitherHooks:
        """The fd hooks of the checkers that look at fd events with this ``result``, in order (kept)."""
        try:
            hash(result)
        except TypeError:  # an unhashable result (no FD_RESULTS holds it): every checker is asked, each time
            return self.either["on_fd"]
        hooks = self.fd[result] = [h for h in self.either["on_fd"]
                                   if h[0].FD_RESULTS is None or result in h[0].FD_RESULTS]
        return hooks

    def loop_for(self, kind: str) -> EitherHooks:
        """The loop hooks of the checkers that look at loop events of this ``kind``, in order (kept)."""
        hooks = self.loop[kind] = [h for h in self.either["on_loop"]
                                   if h[0].LOOP_KINDS is None or kind in h[0].LOOP_KINDS]
        return hooks


# What the monitor's three trace listeners hear (``Trace.add_listener(hears=...)``, asked once per pair).
def hears_fd(source: str, kind: str) -> bool:
    """Every fd event (the stream's fd and its peer's: the trace cannot tell them apart by source and kind)."""
    return source == "fd"


def hears_loop(source: str, kind: str) -> bool:
    """The loop's events but a step starting (``callback``) and a callback scheduled."""
    return source == "loop" and kind != "callback" and kind != "add_callback"


def hears_add_callback(source: str, kind: str) -> bool:
    """A callback scheduled (judged when the stream schedules one in the step it closed)."""
    return source == "loop" and kind == "add_callback"
