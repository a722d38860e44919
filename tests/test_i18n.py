"""The English catalogue: complete, not fuzzy, and actually used when English is active.

French is the source language; English comes from ``locale/en/LC_MESSAGES/django.po``. The ``.mo`` is
generated (``make messages``) and git-ignored, so the tests compile it when it is missing or stale.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import translation
from django.utils.translation.reloader import translation_file_changed

from geo.errors import NotCovered
from geo.srid import InvalidGeometry, point_from_lonlat
from signalements.models import TicketState

PO_PATH = Path(settings.BASE_DIR) / "locale" / "en" / "LC_MESSAGES" / "django.po"
MO_PATH = PO_PATH.with_suffix(".mo")

# %(name)s, %(name).6f, %s, %d, %%: what msgfmt checks for python-format entries.
_PLACEHOLDER = re.compile(r"%(?:\([^)]+\))?[-#0 +]*\d*(?:\.\d+)?[sdifr%]")


@dataclass
class Entry:
    line: int
    flags: set[str] = field(default_factory=set)
    msgid: str = ""
    msgid_plural: str = ""
    msgstrs: dict[str, str] = field(default_factory=dict)


def parse_po(text: str) -> list[Entry]:
    """A tiny .po reader: keywords, quoted continuation lines and ``#,`` flags; obsolete ``#~`` skipped."""
    entries: list[Entry] = []
    current: Entry | None = None
    key = ""
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#~"):
            continue
        if line.startswith("#"):
            if current is None or current.msgid or current.msgstrs:
                current = Entry(line=number)
                entries.append(current)
            if line.startswith("#,"):
                current.flags.update(flag.strip() for flag in line[2:].split(","))
            continue
        if line.startswith('"'):
            value = ast.literal_eval(line)
        else:
            key, _, rest = line.partition(" ")
            value = ast.literal_eval(rest)
            if key in ("msgctxt", "msgid") and (current is None or current.msgid or current.msgstrs):
                current = Entry(line=number)
                entries.append(current)
        assert current is not None, f"line {number}: text before any entry"
        if key == "msgid":
            current.msgid += value
        elif key == "msgid_plural":
            current.msgid_plural += value
        elif key.startswith("msgstr"):
            current.msgstrs[key] = current.msgstrs.get(key, "") + value
    return entries


@pytest.fixture(scope="module")
def catalogue() -> list[Entry]:
    return parse_po(PO_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module", autouse=True)
def _compiled_catalogue() -> None:
    """Compile the English catalogue if needed, then make Django reload its translations."""
    if not MO_PATH.exists() or MO_PATH.stat().st_mtime < PO_PATH.stat().st_mtime:
        call_command("compilemessages", locale=["en"], ignore_patterns=[".venv", "node_modules"], verbosity=0)
        translation_file_changed(sender=None, file_path=MO_PATH)


def test_the_catalogue_is_english_and_has_entries(catalogue: list[Entry]) -> None:
    header = catalogue[0]
    assert header.msgid == ""
    assert "Language: en\n" in header.msgstrs["msgstr"]
    assert len(catalogue) > 100


def test_every_entry_is_translated(catalogue: list[Entry]) -> None:
    untranslated = [
        f"line {e.line}: {e.msgid!r}" for e in catalogue[1:] if not e.msgstrs or not all(e.msgstrs.values())
    ]
    assert untranslated == []


def test_no_entry_is_fuzzy(catalogue: list[Entry]) -> None:
    assert [f"line {e.line}: {e.msgid!r}" for e in catalogue if "fuzzy" in e.flags] == []
    assert "#, fuzzy" not in PO_PATH.read_text(encoding="utf-8")


def test_placeholders_and_layout_are_kept(catalogue: list[Entry]) -> None:
    wrong = []
    for e in catalogue[1:]:
        for key, msgstr in e.msgstrs.items():
            # Plural forms: msgstr[0] follows the singular, the others the plural (a singular may
            # leave the count out: « La contribution… » / « Les %(counter)s contributions… »).
            source = e.msgid_plural if e.msgid_plural and key not in ("msgstr", "msgstr[0]") else e.msgid
            if "python-format" in e.flags and sorted(_PLACEHOLDER.findall(source)) != sorted(
                _PLACEHOLDER.findall(msgstr)
            ):
                wrong.append(f"line {e.line}: placeholders differ in {msgstr!r}")
            if e.msgid.count("\n") != msgstr.count("\n"):
                wrong.append(f"line {e.line}: newlines differ in {msgstr!r}")
            lead = len(e.msgid) - len(e.msgid.lstrip(" "))
            if len(msgstr) - len(msgstr.lstrip(" ")) != lead:
                wrong.append(f"line {e.line}: leading spaces differ in {msgstr!r}")
    assert wrong == []


def test_router_error_in_english() -> None:
    with translation.override("en"):
        message = NotCovered(2.0, 48.0).message
    assert "outside" in message
    assert "2.000000, 48.000000" in message


def test_router_error_in_french_by_default() -> None:
    assert "hors du territoire couvert" in NotCovered(2.0, 48.0).message


def test_coordinate_validation_in_english() -> None:
    with translation.override("en"), pytest.raises(InvalidGeometry) as excinfo:
        point_from_lonlat(200.0, 48.0)
    assert str(excinfo.value) == "Longitude out of range (200.0): it must be between -180 and 180."


def test_ticket_state_label_in_english() -> None:
    with translation.override("en"):
        assert str(TicketState.RESOLU.label) == "Resolved"
        assert str(TicketState.PRIS_EN_COMPTE.label) == "Acknowledged"


def test_french_stays_the_default() -> None:
    assert translation.get_language() == "fr"
    assert str(TicketState.RESOLU.label) == "Résolu"
