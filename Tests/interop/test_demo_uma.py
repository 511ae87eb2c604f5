"""`neosec demo uma` against a running suite: the whole sharing story (request_submitted, the
owner's approval, the RPT, withdrawal, request_denied) must run to its end."""
import os
import subprocess

from conftest import binary


def test_neosec_demo_uma_runs_to_the_end(suite):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEOSEC_")}
    env.update({f"NEOSEC_{name.upper()}_PORT": str(port) for name, port in suite["ports"].items()})
    store = os.path.join(suite["data_dir"], "store")
    result = subprocess.run(
        [binary("neosec"), "demo", "uma", "--data-dir", store], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "403 request_submitted" in out
    assert "with the RPT → 200" in out
    assert "with the old RPT → 401" in out
    assert "403 request_denied" in out
    assert out.rstrip().endswith("Done: UMA request, approval, RPT, withdrawal.")
