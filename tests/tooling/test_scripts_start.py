"""scripts/wgtwo and scripts/listen as a developer runs them: real processes, no Home Assistant.

The integration package's ``__init__`` imports Home Assistant, two seconds before anything
can happen; the tools need none of it. Python's import profile (``-X importtime``) lists
every module a run loaded.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from tests.client.helpers import publish_voice
from tests.sandbox_fixtures import MakeSandbox
from tools import run

REPO = Path(__file__).resolve().parents[2]


async def run_script(*args: str) -> tuple[int, str, set[str]]:
    """Run a script with the import profile on; its exit code, stdout and loaded modules."""
    process = await asyncio.create_subprocess_exec(
        *args,
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPROFILEIMPORTTIME": "1"},
    )
    async with asyncio.timeout(60):
        out, err = await process.communicate()
    assert process.returncode is not None
    modules = {
        line.rsplit("|", 1)[1].strip()
        for line in err.decode().splitlines()
        if line.startswith("import time:") and "|" in line
    }
    return process.returncode, out.decode(), modules


def loads_home_assistant(modules: set[str]) -> bool:
    return any(name == "homeassistant" or name.startswith("homeassistant.") for name in modules)


async def test_wgtwo_help_loads_no_home_assistant() -> None:
    code, out, modules = await run_script(str(REPO / "scripts" / "wgtwo"), "--help")
    assert code == 0
    assert "send-sms" in out
    assert "custom_components.wgtwo.client" in modules
    assert not loads_home_assistant(modules)


async def test_listen_prints_an_event_without_home_assistant(make_sandbox: MakeSandbox) -> None:
    server = await make_sandbox()
    [sequence] = await publish_voice(server, 1)
    code, out, modules = await run_script(
        str(REPO / "scripts" / "listen"),
        "--target",
        server.grpc_target,
        "--plaintext",
        "--type",
        "VOICE_EVENT",
        "--start",
        "oldest",
        "--max-events",
        "1",
    )
    assert code == 0
    [line] = out.splitlines()
    assert json.loads(line)["event"]["metadata"]["sequence"] == str(sequence)
    assert not loads_home_assistant(modules)


async def test_the_integration_package_still_loads_whole_in_process() -> None:
    """The shortcut is for the scripts' own processes; here the real package is loaded."""
    run.skip_package_init()  # a no-op once the integration is imported (it is, in the tests)
    package = sys.modules[run.PACKAGE]
    assert hasattr(package, "async_setup_entry")
