"""Audit the pinned dependencies offline against a committed vulnerability snapshot.

``pip-audit`` asks an OSV-compatible service about each pinned package. Here that service is
this script, serving ``security/osv-snapshot.json`` on a loopback port, so the audit in
``.ci/run`` needs no network and gives the same answer every time for the same snapshot.

    python .ci/osv_snapshot.py audit                 # what .ci/run does
    python .ci/osv_snapshot.py refresh --from-pypi   # refresh from PyPI's JSON API
    python .ci/osv_snapshot.py refresh --from-osv-zip all.zip
        # ... or from OSV's PyPI dump, downloaded anywhere from
        # https://osv-vulnerabilities.storage.googleapis.com/PyPI/all.zip and copied here

The snapshot keeps only records for packages we pin, plus the pins it was built for and
those no source knew (``unknown``). See docs/operations.md, "Dependency audit".
"""

import argparse
import json
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
import zipfile
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT = ROOT / "security" / "osv-snapshot.json"
REQUIREMENTS = [ROOT / "requirements.txt", ROOT / "requirements-dev.txt"]
PYPI_JSON = "https://pypi.org/pypi/{name}/{version}/json"


def pins() -> dict[str, str]:
    """Canonical package name -> pinned version, from the requirements files."""
    found: dict[str, str] = {}
    for path in REQUIREMENTS:
        for line in path.read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if "==" in line and not line.startswith("-"):
                name, version = line.split("==", 1)
                found[canonicalize_name(name.split("[")[0])] = version.strip()
    return dict(sorted(found.items()))


# --- Matching (OSV schema 1.x semantics) ----------------------------------------------------
def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def _in_range(version: Version, events: list[dict]) -> bool:
    affected = False
    for event in events:
        if "introduced" in event:
            start = event["introduced"]
            affected = start == "0" or (_version(start) or version) <= version
        elif "fixed" in event and affected:
            fixed = _version(event["fixed"])
            if fixed is not None and version >= fixed:
                affected = False
        elif "last_affected" in event and affected:
            last = _version(event["last_affected"])
            if last is not None and version > last:
                affected = False
    return affected


def affects(record: dict, name: str, version_text: str) -> bool:
    version = _version(version_text)
    for affected in record.get("affected", []):
        package = affected.get("package", {})
        if package.get("ecosystem") != "PyPI" or canonicalize_name(package.get("name", "")) != name:
            continue
        if version_text in affected.get("versions", []):
            return True
        for span in affected.get("ranges", []):
            ecosystem = span.get("type") == "ECOSYSTEM" and version is not None
            if ecosystem and _in_range(version, span.get("events", [])):
                return True
    return False


def matching(snapshot: dict, name: str, version: str) -> list[dict]:
    name = canonicalize_name(name)
    return [record for record in snapshot["vulns"] if affects(record, name, version)]


# --- The loopback OSV service ---------------------------------------------------------------
def serve(snapshot: dict, port: int = 0) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            query = json.loads(self.rfile.read(length) or b"{}")
            package = query.get("package", {})
            vulns = matching(snapshot, package.get("name", ""), query.get("version", ""))
            body = json.dumps({"vulns": vulns} if vulns else {}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args):  # quiet
            return

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def audit(path: Path = SNAPSHOT) -> int:
    snapshot = json.loads(path.read_text())
    print(
        f"vulnerability snapshot of {snapshot['generated']} from {snapshot['source']}: "
        f"{len(snapshot['vulns'])} record(s) for {len(snapshot['pins'])} pinned packages"
    )
    current = pins()
    stale = sorted(
        name for name, version in current.items() if snapshot["pins"].get(name) != version
    )
    if stale:
        print(f"note: pins changed since the snapshot (refresh it): {', '.join(stale)}")
    if snapshot.get("unknown"):
        print(
            f"note: the snapshot's source had no data for {len(snapshot['unknown'])} of "
            f"{len(snapshot['pins'])} pins; they pass unchecked (docs/operations.md)"
        )
    server = serve(snapshot)
    url = f"http://127.0.0.1:{server.server_address[1]}/v1/query"
    command = [sys.executable, "-m", "pip_audit", "--no-deps", "--disable-pip"]
    for path in REQUIREMENTS:
        command += ["-r", str(path)]
    command += ["-s", "osv", "--osv-url", url, "--progress-spinner", "off"]
    command += ["--cache-dir", str(ROOT / ".pip-audit-cache")]
    try:
        return subprocess.call(command, cwd=ROOT)  # noqa: S603 - our own interpreter and args
    finally:
        server.shutdown()


# --- Refreshing the snapshot ----------------------------------------------------------------
def _from_pypi(current: dict[str, str]) -> tuple[list[dict], list[str]]:
    """PyPI's JSON API lists the known vulnerabilities of each release (OSV ids and ranges
    as ``fixed_in``); the same data pip-audit's default service reads."""
    records: dict[str, dict] = {}
    unknown = []
    for name, version in current.items():
        url = PYPI_JSON.format(name=name, version=version)
        try:
            with urllib.request.urlopen(url, timeout=20) as response:  # noqa: S310 - https URL
                data = json.load(response)
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                unknown.append(f"{name}=={version}")
                continue
            raise
        for entry in data.get("vulnerabilities", []):
            if entry.get("withdrawn"):
                continue
            events = [{"introduced": "0"}] + [{"fixed": f} for f in entry.get("fixed_in", [])]
            record = records.setdefault(
                entry["id"],
                {
                    "schema_version": "1.6.0",
                    "id": entry["id"],
                    "aliases": entry.get("aliases", []),
                    "details": entry.get("details") or entry.get("summary") or "",
                    "affected": [],
                    "references": [{"type": "WEB", "url": entry["link"]}]
                    if entry.get("link")
                    else [],
                },
            )
            record["affected"].append(
                {
                    "package": {"ecosystem": "PyPI", "name": name},
                    "versions": [version],
                    "ranges": [{"type": "ECOSYSTEM", "events": events}],
                }
            )
    return list(records.values()), unknown


def _from_osv_zip(path: Path, current: dict[str, str]) -> tuple[list[dict], list[str]]:
    records = []
    with zipfile.ZipFile(path) as archive:
        for member in archive.namelist():
            record = json.loads(archive.read(member))
            names = {
                canonicalize_name(a.get("package", {}).get("name", ""))
                for a in record.get("affected", [])
                if a.get("package", {}).get("ecosystem") == "PyPI"
            }
            if names & set(current):
                records.append(record)
    return records, []


def refresh(args) -> int:
    current = pins()
    if args.from_osv_zip:
        records, unknown = _from_osv_zip(Path(args.from_osv_zip), current)
        source = f"OSV PyPI dump ({Path(args.from_osv_zip).name})"
    else:
        records, unknown = _from_pypi(current)
        source = "PyPI JSON API (per pinned release)"
    snapshot = {
        "generated": datetime.now(UTC).strftime("%Y-%m-%d"),
        "source": source,
        "pins": current,
        "unknown": unknown,
        "vulns": sorted(records, key=lambda record: record["id"]),
    }
    SNAPSHOT.write_text(json.dumps(snapshot, indent=1, sort_keys=True) + "\n")
    print(f"{SNAPSHOT.relative_to(ROOT)}: {len(records)} record(s), {len(unknown)} unknown pin(s)")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("audit", help="run pip-audit offline against the snapshot")
    run.add_argument("--snapshot", type=Path, default=SNAPSHOT)
    fresh = sub.add_parser("refresh", help="rebuild the snapshot (needs the network)")
    source = fresh.add_mutually_exclusive_group(required=True)
    source.add_argument("--from-pypi", action="store_true")
    source.add_argument("--from-osv-zip", metavar="ALL_ZIP")
    args = parser.parse_args()
    return audit(args.snapshot) if args.command == "audit" else refresh(args)


if __name__ == "__main__":
    socket.setdefaulttimeout(30)
    sys.exit(main())
