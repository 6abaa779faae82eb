import pytest

from geoplatform.geocoding.index import build_index

from .gazetteer_fixture import gazetteer_rows


@pytest.fixture(scope="session")
def index():
    """The in-memory index of the small test gazetteer."""
    return build_index(gazetteer_rows())
