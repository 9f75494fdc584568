"""DeferredInterrupt: Ctrl-C becomes a request checked at safe points; twice means now."""

from __future__ import annotations

import os
import signal

import pytest

from kubetune.components.core import DeferredInterrupt


def press_ctrl_c() -> None:
    os.kill(os.getpid(), signal.SIGINT)


def test_the_first_ctrl_c_waits_for_the_next_check() -> None:
    with DeferredInterrupt() as interrupt:
        press_ctrl_c()
        written = "the write in progress goes on"  # no KeyboardInterrupt here
        assert interrupt.requested
        with pytest.raises(KeyboardInterrupt):
            interrupt.check()
    assert written and signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_second_ctrl_c_interrupts_at_once() -> None:
    with pytest.raises(KeyboardInterrupt), DeferredInterrupt():
        press_ctrl_c()
        press_ctrl_c()
        pytest.fail("the second Ctrl-C should have interrupted before this line")


def test_where_sigint_is_ignored_it_stays_ignored() -> None:
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with DeferredInterrupt() as interrupt:
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            press_ctrl_c()
            interrupt.check()  # nothing was requested
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)
