# The small town of the signalements tests (see world.py), as a fixture for every module here.
# The outbox fixtures (tests/geo/outbox_support.py): notifications go through geo's outbox.
from tests.geo.outbox_support import locmem_email as locmem_email
from tests.geo.outbox_support import published as published
from tests.geo.outbox_support import receiver as receiver
from tests.signalements.world import world as world
