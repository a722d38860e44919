# The small town of the signalements tests (see world.py), as a fixture for every module here.
from tests.signalements.world import world as world
