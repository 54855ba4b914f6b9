"""``GET /v3/{project_id}/limits``: Cinder's absolute limits for a project.

Limits are the configured defaults; usage is counted from the volume tables,
which arrive with the volume service (until then a project uses nothing).
"""

from __future__ import annotations

from cumulo.config import VolumeSettings


def absolute_limits(settings: VolumeSettings, used: dict[str, int]) -> dict[str, int]:
    return {
        "maxTotalVolumes": settings.quota_volumes,
        "maxTotalSnapshots": settings.quota_snapshots,
        "maxTotalVolumeGigabytes": settings.quota_gigabytes,
        "maxTotalBackups": settings.quota_backups,
        "maxTotalBackupGigabytes": settings.quota_backup_gigabytes,
        "totalVolumesUsed": used.get("volumes", 0),
        "totalSnapshotsUsed": used.get("snapshots", 0),
        "totalGigabytesUsed": used.get("gigabytes", 0),
        "totalBackupsUsed": used.get("backups", 0),
        "totalBackupGigabytesUsed": used.get("backup_gigabytes", 0),
    }


async def project_usage(_project_id: str) -> dict[str, int]:
    """What the project uses; no volume resources exist before the volume service."""
    return {}
