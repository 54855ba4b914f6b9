"""The scheduler's errors, worded as Nova words them.

CumuloError
 ├── NoValidHost                  500  no host passed the filters with room to claim
 │    └── MaxRetriesExceeded      500  every alternate of a rescheduled build was used up
 └── Conflict                     409
      └── ConsumerAllocationConflict   an instance's claim is already on another node
"""

from __future__ import annotations

from cumulo.exception import Conflict, CumuloError


class NoValidHost(CumuloError):
    message = "No valid host was found. %(reason)s"


class MaxRetriesExceeded(NoValidHost):
    message = "Exceeded maximum number of retries. %(reason)s"


class ConsumerAllocationConflict(Conflict):
    message = "Consumer %(consumer_id)s already holds allocations on node %(node_uuid)s."
