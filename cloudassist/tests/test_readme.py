"""The README's request flow runs as written: its marked shell blocks, in order, in one bash
(`set -e`), against a real `manage.py serve` (what `make run` runs) on free ports."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from cloudassist.tests.test_serve import _start, _stop, _wait_until_ready

README = Path(__file__).resolve().parents[2] / "README.md"
MARKER = "<!-- the next block runs in the tests (cloudassist/tests/test_readme.py)"
BLOCK = re.compile(r"```sh\n(.*?)```", re.S)


def marked_blocks(text: str) -> list[str]:
    blocks = []
    for part in text.split(MARKER)[1:]:
        match = BLOCK.search(part)
        assert match, "a marker without a ```sh block after it"
        assert part[: match.start()].count("\n") <= 1, "a marker must sit right above its ```sh block"
        blocks.append(match.group(1))
    return blocks


def test_the_marked_blocks_are_found():
    blocks = marked_blocks(README.read_text())
    assert len(blocks) >= 2
    assert "wait_for $REQ DEPLOYED" in blocks[0]
    assert any("credentials/" in block for block in blocks[1:])
    # Every block that acts on a request by $ID sets ID itself, and runs here.
    text = README.read_text()
    with_id = [block for block in BLOCK.findall(text) if "$ID" in block]
    assert len(with_id) >= 4  # retry, mark cleaned up, the lease cap, extend
    for block in with_id:
        assert block in blocks, block
        assert block.index("ID=") < block.index("$ID"), block


@pytest.mark.skipif(shutil.which("bash") is None or shutil.which("curl") is None, reason="needs bash and curl")
def test_the_readme_request_flow_works_against_a_live_server(serve_env, tmp_path):
    serve_env["DEMO_PASSWORD"] = "cloudassist"  # the README's password
    base = f"http://127.0.0.1:{serve_env['PORT']}"
    script = "\n".join(marked_blocks(README.read_text())).replace("http://127.0.0.1:8000", base)
    proc = _start(serve_env)
    try:
        _wait_until_ready(proc, base)
        work = tmp_path / "client"
        work.mkdir()
        try:
            result = subprocess.run(
                ["bash", "-e", "-x", "-c", script],
                cwd=work,
                env={"PATH": os.environ["PATH"], "HOME": str(work)},
                capture_output=True,
                text=True,
                timeout=600,
            )
        except subprocess.TimeoutExpired as exc:  # say where it stood (bash -x traces every command)
            seen = (exc.stdout or b"") + (exc.stderr or b"")
            seen = seen.decode(errors="replace") if isinstance(seen, bytes) else seen
            pytest.fail(f"the README's blocks did not finish in 600 s; the end of their output:\n{seen[-4000:]}")
    finally:
        _stop(proc)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert '"code": "invalid_transition"' in output or '"code":"invalid_transition"' in output
    assert "past the template's cap of 720 hours" in output  # the lease cap block, as written
    assert "No FAILED request to retry." in output  # nothing failed: the retry block says so
    assert "kind: Config" in output  # the kubeconfig was downloaded
    saved = list(work.glob("credentials-*.txt"))
    assert len(saved) == 1
    assert saved[0].stat().st_size > 0
