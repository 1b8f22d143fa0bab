"""Every string shown to users has a Chinese translation, and the compiled catalog is current.

The catalog is extracted afresh from the sources (``makemessages`` on a copy of the project) and
compared with the committed ``locale/zh_Hans/LC_MESSAGES/django.po``: a string marked for
translation but missing from the catalog, or present with an empty or fuzzy translation, fails
the test; so does a ``.mo`` file that was not compiled from the committed ``.po``. (Strings
never marked for translation are caught by the page tests, which read pages in Chinese and look
for English words left in them.)
"""

import gettext
import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
COMPILED = CATALOG.with_suffix(".mo")
SOURCES = ("accounts", "inventory", "marketplace", "billing", "config", "templates")

needs_gettext = pytest.mark.skipif(
    shutil.which("xgettext") is None or shutil.which("msgfmt") is None,
    reason="GNU gettext is not installed (apt-get install gettext)",
)


def _entries(po: polib.POFile) -> dict[tuple[str | None, str], polib.POEntry]:
    return {(e.msgctxt, e.msgid): e for e in po if not e.obsolete and e.msgid}


@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> polib.POFile:
    copy = tmp_path_factory.mktemp("project")
    for name in (*SOURCES, "manage.py"):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, copy / name)
    (copy / "locale").mkdir()
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "--locale", "zh_Hans", "--no-obsolete"],
        cwd=copy,
        check=True,
        capture_output=True,
        env={"DEBUG": "1", "PATH": "/usr/bin:/bin:/usr/local/bin"},
    )
    return polib.pofile(str(copy / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"))


@needs_gettext
def test_every_marked_string_is_in_the_committed_catalog(extracted):
    committed = _entries(polib.pofile(str(CATALOG)))
    missing = sorted(
        f"{entry.msgid!r} ({entry.occurrences[0][0]})"
        for key, entry in _entries(extracted).items()
        if key not in committed
    )
    assert not missing, "not in the catalog; run `make messages` and translate:\n" + "\n".join(
        missing
    )


def test_every_catalog_entry_is_translated():
    po = polib.pofile(str(CATALOG))
    untranslated = [
        e.msgid
        for e in po
        if not e.obsolete
        and e.msgid
        and (
            "fuzzy" in e.flags
            or (not e.msgid_plural and not e.msgstr.strip())
            or (e.msgid_plural and not all(v.strip() for v in e.msgstr_plural.values()))
        )
    ]
    assert not untranslated, f"{len(untranslated)} untranslated: {untranslated[:20]}"


def test_placeholders_survive_translation():
    """``%(name)s`` and ``{name}`` in a message appear in its translation too."""
    import re

    pattern = re.compile(r"%\([a-z_]+\)[sd]|\{[a-z_]+\}")
    po = polib.pofile(str(CATALOG))
    broken = []
    for e in po:
        if not e.msgid or e.obsolete:
            continue
        wanted = set(pattern.findall(e.msgid))
        targets = [e.msgstr] if not e.msgid_plural else list(e.msgstr_plural.values())
        broken += [e.msgid for target in targets if set(pattern.findall(target)) != wanted]
    assert not broken, broken


@needs_gettext
def test_compiled_catalog_matches_the_committed_one(tmp_path):
    fresh = tmp_path / "django.mo"
    subprocess.run(
        ["msgfmt", "--check-format", "-o", str(fresh), str(CATALOG)],
        check=True,
    )
    with fresh.open("rb") as a, COMPILED.open("rb") as b:
        assert gettext.GNUTranslations(a)._catalog == gettext.GNUTranslations(b)._catalog, (
            "locale/zh_Hans/LC_MESSAGES/django.mo is stale: run `make messages`"
        )
