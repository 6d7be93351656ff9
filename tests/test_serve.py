"""`veiligheid serve` starts quietly, stops cleanly on Ctrl-C and leaves no process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

VEILIGHEID = Path(sys.executable).with_name("veiligheid")


def test_serve_starts_and_stops_cleanly_on_ctrl_c(settings):
    child = subprocess.Popen(
        [str(VEILIGHEID), "serve"],
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = child.stdout.readline()
            lines.append(line)
            if "Planner draait" in line or not line:
                break
        assert any("Planner draait" in line for line in lines), "".join(lines)
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)

    assert child.returncode == 0
    assert "Planner gestopt." in out
    assert "Traceback" not in out + err
    assert err.strip() == ""
    # Nothing of the session is left running.
    leftovers = subprocess.run(["pgrep", "-s", str(child.pid)], capture_output=True, text=True)
    assert leftovers.stdout.strip() == ""
