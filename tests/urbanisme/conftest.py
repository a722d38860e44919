# The concertation of the urbanisme tests (see world.py), as a fixture for every module here.
from tests.urbanisme.world import concertation  # noqa: F401
