"""The `switchboard` command's first step: load the program with the garbage collector paused.

Loading allocates a few hundred thousand objects that live as long as the process (the rule,
settings and API models, the HTTP routes); the collector's passes over them while they are made
cost about 90 ms of CPU (a tenth of the loading, more on a busy machine: a restarted engine is
ready later) and free nothing. `gc.freeze()` then keeps them out of every later collection.

`freeze_started` does the same for what the engine builds as it starts (rules, snapshot, stores,
connections): a full collection that walks them all is a pause in the middle of calls (73-90 ms
in bench/engine_proc before it froze anything, 0.2-1.4 ms after). The price: what start built and
later becomes a reference cycle (the first AMI connection's objects after a reconnect, the first
rules after a reload) is never freed; bounded by the start's own size, once.
"""

from __future__ import annotations

import gc


def main() -> int:
    gc.disable()
    try:
        from switchboard.cli import main as cli_main  # noqa: PLC0415 - the point of this module
    finally:
        gc.freeze()
        gc.enable()
    return cli_main()


def freeze_started() -> None:
    """After the engine has started: its garbage collected once, what lives on frozen. Only in the
    engine's own process (`switchboard run`, the benchmark's engine): frozen objects are never
    collected, so a process that starts engines over and over (the tests) must not call it."""
    gc.collect()
    gc.freeze()
