"""cloudassist/worker.py: the worker imports what jobs need before it forks work horses."""

import json
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]

PROBE = """
import json, sys
import django
django.setup()
from cloudassist import worker
from django.urls import get_resolver
def seen():
    return {**{name: name in sys.modules for name in WATCHED}, "urls": get_resolver()._populated}
before = seen()
worker.preload()
print(json.dumps({"before": before, "after": seen()}))
"""
WATCHED = ["kubernetes", "boto3", "provisioning.providers.aws_eks", "provisioning.providers.kubernetes_namespace"]


def test_preload_imports_the_providers_a_fresh_process_lacks():
    # A fresh process, as the worker is: this test process has imported everything already.
    code = f"WATCHED = {WATCHED!r}\n{PROBE}"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=BASE_DIR, capture_output=True, text=True, check=True, timeout=120
    )
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["before"] == dict.fromkeys([*WATCHED, "urls"], False)
    assert seen["after"] == dict.fromkeys([*WATCHED, "urls"], True)
