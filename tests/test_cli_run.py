"""`chaos-harness run -- COMMAND`: a program in another language reaches the harness by name."""

from __future__ import annotations

import subprocess
import sys

from conftest import require_tool
from harness_dns_env import require_namespaces

RUN = [sys.executable, "-c", "import sys; from harness.cli import main; sys.exit(main(sys.argv[1:]))", "run", "--"]


def test_curl_reaches_dynamodb_by_name_through_the_sandbox() -> None:
    require_namespaces()
    require_tool("curl")
    script = 'h="${AWS_ENDPOINT_URL_DYNAMODB#http://}"; getent ahosts "${h%:*}" | head -1; ' \
             'curl -s -o /dev/null -w "%{http_code}\\n" -X POST "$AWS_ENDPOINT_URL_DYNAMODB/"'
    done = subprocess.run([*RUN, "sh", "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    resolved, status = done.stdout.split("\n")[:2]
    assert resolved.startswith("127.") and "STREAM" in resolved  # the harness DNS answered glibc
    assert status == "400"  # the endpoint answered: DynamoDB rejects an unsigned request with 400


def test_run_without_a_command_is_one_line_exit_2() -> None:
    done = subprocess.run(RUN, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "run needs a command" in done.stderr
