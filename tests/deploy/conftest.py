from pathlib import Path

import pytest

PRODUCTION = Path(__file__).resolve().parents[2] / "deploy" / "production"


@pytest.fixture(scope="session")
def production_dir() -> Path:
    return PRODUCTION
