"""The API against its own OpenAPI schema, with schemathesis, on the production-like stack.

Starts gunicorn on a fresh PostgreSQL database seeded with the demo data (``benchmarks.stack``),
card payments against the fake Stripe server (``tests.fakes.stripe_server``), then runs
``st run`` on the live ``/api/v1/schema/`` as the demo provider, customer and admin in turn:
every check, a bounded number of examples per operation, a fixed seed (repeatable). Prints the
figures per role and exits non-zero on any failure (a 5xx, a response that breaks the schema, an
undocumented status or content type, a request the schema calls valid refused or invalid taken).

    .venv/bin/python .ci/api_contract.py [--examples 10] [--seed 1] [--roles provider,customer]

What is left out, and why, is in ``.ci/schemathesis.toml``.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.stack import api_token, running_stack  # noqa: E402
from tests.fakes.stripe_server import TEST_API_KEY, FakeStripe  # noqa: E402

ROLES = ("provider", "customer", "admin")
WEBHOOK_SECRET = "whsec_contract_run_only"


def run_role(base_url: str, role: str, token: str, args) -> dict:
    command = [
        str(Path(sys.executable).parent / "st"),
        "--config-file",
        str(ROOT / ".ci" / "schemathesis.toml"),
        "run",
        f"{base_url}/api/v1/schema/",
        "--header",
        f"Authorization: Token {token}",
        "--checks",
        "all",
        "--max-examples",
        str(args.examples),
        "--seed",
        str(args.seed),
        "--workers",
        str(args.workers),
        "--phases",
        args.phases,
        "--no-color",
        "--output-truncate",
        "true",
    ]
    started = time.monotonic()
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)  # noqa: S603
    figures = summarise(result.stdout)
    figures.update(role=role, seconds=round(time.monotonic() - started, 1))
    figures["exit_code"] = result.returncode
    if result.returncode != 0:
        print(result.stdout[-30000:])
        print(result.stderr[-5000:], file=sys.stderr)
    return figures


def summarise(output: str) -> dict:
    """Operations tested, test cases generated and failures, from st's summary."""

    def number(pattern: str) -> int:
        match = re.search(pattern, output)
        return int(match.group(1)) if match else 0

    return {
        "operations": number(r"Tested: (\d+)"),
        "cases": number(r"(\d+) generated"),
        "failures": number(r"(\d+) unique failures?"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=10, help="examples per operation")
    parser.add_argument("--seed", type=int, default=1)
    # One worker: hypothesis describing strategies from several threads trips CPython 3.11's
    # ast ("recursion depth mismatch"), a tool error rather than a finding.
    parser.add_argument("--workers", type=int, default=1)
    # The schema has no OpenAPI links, so the stateful phase only guesses at them; it is the
    # slowest phase. Add it with --phases examples,coverage,fuzzing,stateful.
    parser.add_argument("--phases", default="examples,coverage,fuzzing")
    parser.add_argument("--roles", default=",".join(ROLES))
    parser.add_argument("--db", default=os.environ.get("CONTRACT_DB", "compute_market_contract"))
    args = parser.parse_args()
    results = []
    with FakeStripe() as stripe:
        extra = {
            "STRIPE_API_KEY": TEST_API_KEY,
            "STRIPE_API_BASE": stripe.api_base,
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        }
        with running_stack(args.db, workers=2, extra_env=extra) as stack:
            roles = [role.strip() for role in args.roles.split(",") if role.strip()]
            tokens = {role: api_token(stack, role) for role in roles}
            for role in roles:
                figures = run_role(stack.base_url, role, tokens[role], args)
                results.append(figures)
                print(
                    f"schemathesis as {role}: {figures['operations']} operations, "
                    f"{figures['cases']} test cases, "
                    f"{figures['failures']} failures, {figures['seconds']} s",
                    flush=True,
                )
    failed = [r for r in results if r["exit_code"] != 0 or r["failures"]]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
