"""The offline dependency audit (.ci/osv_snapshot.py) finds what its snapshot knows."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / ".ci" / "osv_snapshot.py"


def _audit(snapshot: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "audit", "--snapshot", str(snapshot)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _pins() -> dict[str, str]:
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import osv_snapshot

        return osv_snapshot.pins()
    finally:
        sys.path.remove(str(SCRIPT.parent))


def test_a_known_vulnerability_in_a_pin_fails_the_audit(tmp_path):
    pins = _pins()
    snapshot = tmp_path / "snapshot.json"
    record = {
        "schema_version": "1.6.0",
        "id": "PYSEC-0000-TEST",
        "aliases": ["CVE-0000-0001"],
        "details": "A test record against the pinned sqlparse.",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "sqlparse"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}],
            }
        ],
    }
    snapshot.write_text(
        json.dumps(
            {"generated": "test", "source": "test", "pins": pins, "unknown": [], "vulns": [record]}
        )
    )
    result = _audit(snapshot)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "PYSEC-0000-TEST" in result.stdout
    assert "sqlparse" in result.stdout


def test_a_fixed_release_passes(tmp_path):
    pins = _pins()
    snapshot = tmp_path / "snapshot.json"
    fixed = {
        "schema_version": "1.6.0",
        "id": "PYSEC-0000-FIXED",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "sqlparse"},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "0.0.1"}]}
                ],
            }
        ],
    }
    snapshot.write_text(
        json.dumps(
            {"generated": "test", "source": "test", "pins": pins, "unknown": [], "vulns": [fixed]}
        )
    )
    result = _audit(snapshot)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No known vulnerabilities found" in result.stdout + result.stderr
