"""The Cinder v3 microversions whose changes cumulo implements, and where each begins.

Code asks ``supports(version, Feature.X)``; the number of every behaviour
change lives in ``FEATURES`` and nowhere else. The advertised range (3.0 to
3.71) is in ``cumulo.volume.api``; versions not named here change nothing
cumulo serves.
"""

from __future__ import annotations

import enum

from cumulo.api.microversion import APIVersion


class Feature(enum.Enum):
    GROUP_ID = "3.13"  # volumes show group_id
    PROVIDER_ID = "3.21"  # admins see provider_id
    NEW_ATTACH = "3.27"  # the attachments API
    VOLUME_LIST_SUMMARY = "3.12"  # GET /volumes/summary
    ATTACHMENT_COMPLETE = "3.44"  # os-complete on attachments
    VOLUME_COUNT = "3.45"  # with_count on volume lists
    RESOURCE_FILTER = "3.33"  # unknown list filters are refused (for non-admins)
    SHARED_TARGETS = "3.48"  # shared_targets and service_uuid
    ATTACHMENT_MODE = "3.54"  # mode on attachment create
    CLUSTER_NAME = "3.61"  # admins see cluster_name
    DEFAULT_TYPES = "3.62"  # /default-types
    VOLUME_TYPE_ID = "3.63"  # volume_type_id in volume details
    CONSUMES_QUOTA = "3.65"  # consumes_quota in volume details

    @property
    def since(self) -> APIVersion:
        return APIVersion.parse(self.value)


def supports(version: APIVersion, feature: Feature) -> bool:
    return version >= feature.since
