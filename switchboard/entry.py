"""What `switchboard run` and `switchboard demo` execute (the CLI imports this lazily).

Both return an exit code. SIGINT/SIGTERM cancel the coroutine: cleanup is in
`finally`. A refused AMI login raises AmiLoginError (the CLI exits 3 with a
message naming the cause) instead of retrying in a loop that hides it.
"""

from __future__ import annotations

from switchboard.launch import freeze_started
from switchboard.runtime import Runtime
from switchboard.settings import Settings


async def run_engine(settings: Settings) -> int:
    settings.require_for_run()
    runtime = Runtime(settings)
    parts = await runtime.start()
    freeze_started()
    try:
        # Runs until cancelled; a login refused on a later reconnect ends it loudly.
        raise await parts.engine.client.wait_fatal()
    finally:
        await runtime.stop()


async def run_demo(settings: Settings, duration_s: float) -> int:
    from switchboard.demo import run_demo as demo  # noqa: PLC0415 - pulls in the simulator only for the demo

    return await demo(settings, duration_s)
