"""The `switchboard` command's first step: load the program with the garbage collector paused.

Loading allocates a few hundred thousand objects that live as long as the process (the rule,
settings and API models, the HTTP routes); the collector's passes over them while they are made
cost about 90 ms of CPU (a tenth of the loading, more on a busy machine: a restarted engine is
ready later) and free nothing. `gc.freeze()` then keeps them out of every later collection.
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
