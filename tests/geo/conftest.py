# The outbox fixtures (see outbox_support.py), for every module here.
from tests.geo.outbox_support import closed_broker as closed_broker
from tests.geo.outbox_support import failing_email as failing_email
from tests.geo.outbox_support import locmem_email as locmem_email
from tests.geo.outbox_support import published as published
from tests.geo.outbox_support import receiver as receiver
