"""Test fixtures: a real PostGIS (the project-local cluster, started on demand), real keys, real browsers."""

import os

import pytest

from geoplatform import localdb


def pytest_configure(config):
    if not os.environ.get("DATABASE_URL"):
        localdb.start(say=lambda msg: print(f"[db] {msg}"))


@pytest.fixture
def department(db):
    from catalog.models import Department

    return Department.objects.create(code="jtw", name_zh="市交通委员会", name_en="Transport Commission",
                                     responsible_person="刘洋")


@pytest.fixture
def other_department(db):
    from catalog.models import Department

    return Department.objects.create(code="swj", name_zh="市税务局", name_en="Tax Bureau")


@pytest.fixture
def api_key(department):
    """(ApiKey row, raw key) of an active key of ``department``."""
    from catalog.keys import create_api_key

    return create_api_key(department, "test-app")
