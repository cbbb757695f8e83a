"""The campaigncall dashboard: a Textual app on the store, and the `campaigncalls` command."""

import signal as _signal

# A command started in the background of a script inherits SIGINT ignored (the shell does
# that for `&` jobs). The long-running commands stop on SIGINT once they run, so a SIGINT
# sent while they start (before their handler is in place) would be lost and the command
# would run on: SIGINT stops a command from its first moment, as later. (The package is
# imported first by both `campaigncalls` and `python -m dashboard`.)


def default_sigint() -> None:
    """SIGINT raises KeyboardInterrupt again if this process was started with it ignored."""
    if _signal.getsignal(_signal.SIGINT) is _signal.SIG_IGN:
        _signal.signal(_signal.SIGINT, _signal.default_int_handler)


default_sigint()
