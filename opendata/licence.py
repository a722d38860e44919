"""The licence of everything ``opendata`` publishes: Licence Ouverte 2.0 (Etalab)."""

from __future__ import annotations

LICENCE_NAME = "Licence Ouverte / Open Licence 2.0 (Etalab)"
LICENCE_ID = "etalab-2.0"
LICENCE_URL = "https://www.etalab.gouv.fr/licence-ouverte-open-licence/"


def licence() -> dict[str, str]:
    return {"name": LICENCE_ID, "title": LICENCE_NAME, "path": LICENCE_URL}
