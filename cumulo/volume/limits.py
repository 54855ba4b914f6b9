"""``GET /v3/{project_id}/limits``: Cinder's absolute limits for a project.

Limits are the project's quota (its own or the defaults); usage is counted
from the volume tables (``cumulo.volume.quota``).
"""

from __future__ import annotations

from collections.abc import Mapping


def absolute_limits(limits: Mapping[str, int], used: Mapping[str, int]) -> dict[str, int]:
    return {
        "maxTotalVolumes": limits["volumes"],
        "maxTotalSnapshots": limits["snapshots"],
        "maxTotalVolumeGigabytes": limits["gigabytes"],
        "maxTotalBackups": limits["backups"],
        "maxTotalBackupGigabytes": limits["backup_gigabytes"],
        "totalVolumesUsed": used.get("volumes", 0),
        "totalSnapshotsUsed": used.get("snapshots", 0),
        "totalGigabytesUsed": used.get("gigabytes", 0),
        "totalBackupsUsed": used.get("backups", 0),
        "totalBackupGigabytesUsed": used.get("backup_gigabytes", 0),
    }
