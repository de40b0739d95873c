"""Child processes that do not outlive the process that started them.

`hedgemesh up` runs nats-server and every service as children. Were the launcher killed with
SIGKILL (an operator, a test's teardown, the OOM killer), its children would run on as orphans:
a cluster nobody supervises, holding ports and CPU. On Linux the kernel can signal a child when
its parent dies (`prctl(PR_SET_PDEATHSIG)`); elsewhere nothing changes.

The signal follows the *thread* that started the child: start children from a thread that lives
as long as the supervisor (the main thread, or its watcher).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Callable

PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A `preexec_fn` for `subprocess.Popen`: the child gets `sig` when its parent dies
    (SIGTERM: services drain and exit 0). None where the platform cannot do it."""
    if not sys.platform.startswith("linux"):
        return None
    parent = os.getpid()

    def preexec() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
            return  # not fatal: the child merely could outlive its parent
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), sig)

    return preexec
