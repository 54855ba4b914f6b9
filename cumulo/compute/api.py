"""The compute API: what ``POST /servers`` and ``DELETE /servers/{id}`` do once the body is valid.

Nova's ``nova/compute/api.py`` ``API``, with its method names. ``create``
checks the flavor, image, key pair, availability zone, networks, block
devices and server group (``_validate_and_build_base_options``,
``_check_and_transform_bdm``), fits the count into the quota, and
``_provision_instances`` writes every record of every instance in one
transaction that holds the project's quota lock and counts again, so
concurrent creates can never pass a limit together. The build is then cast
to the conductor. ``stop``, ``start`` and ``reboot`` are ``power_api.py``'s.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import string
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.api import policy
from cumulo.compute import block_device, errors, instances, teardown
from cumulo.compute import quota as quotas
from cumulo.compute.create_request import CreateRequest, generate_password, sanitize_hostname
from cumulo.compute.flavors import db as flavors_db
from cumulo.compute.instance_actions import db as actions
from cumulo.compute.instance_actions import names
from cumulo.compute.keypairs import db as keypairs_db
from cumulo.compute.power_api import PowerAPI
from cumulo.compute.rpcapi import ComputeAPI
from cumulo.compute.server_groups import db as groups_db
from cumulo.compute.services.db import service_is_up
from cumulo.compute.states import TaskState, VmState
from cumulo.conductor.messages import BuildInstances
from cumulo.conductor.rpcapi import ConductorAPI
from cumulo.context import RequestContext
from cumulo.db.base import utcnow
from cumulo.db.fastpath import Prepared, run
from cumulo.db.locks import hold_row
from cumulo.db.models.hosts import ComputeNode, ComputeService
from cumulo.db.models.instances import (
    BlockDeviceMapping,
    ComputeQuotaLock,
    Instance,
    InstanceTag,
    RequestSpecRecord,
    ServerGroup,
    ServerGroupMember,
)
from cumulo.exception import NotFound
from cumulo.image.errors import ImageNotFound
from cumulo.image.messages import ImageMeta
from cumulo.image.rpcapi import ImageAPI
from cumulo.network.messages import RequestedNetworks
from cumulo.network.rpcapi import NetworkAPI
from cumulo.runtime import Runtime
from cumulo.scheduler.request_spec import FlavorSpec, GroupSpec, RequestSpec
from cumulo.volume.rpcapi import VolumeAPI

GiB = 1024**3

_INSERT_INSTANCE = Prepared(insert(Instance))
_INSERT_SPEC = Prepared(insert(RequestSpecRecord))
_INSERT_DEVICE = Prepared(insert(BlockDeviceMapping))
_INSERT_TAG = Prepared(insert(InstanceTag))


@dataclass
class _BaseOptions:
    """What every instance of one request shares (Nova's ``base_options``)."""

    flavor: flavors_db.FlavorRow
    image_ref: str
    image: ImageMeta | None
    key_data: str | None
    availability_zone: str | None
    group: GroupSpec | None
    max_count: int


class API:
    def __init__(self, runtime: Runtime) -> None:
        assert runtime.bus is not None
        self.runtime = runtime
        self.db = runtime.db
        self.settings = runtime.settings.compute
        self.image_api = ImageAPI(runtime.bus)
        self.network_api = NetworkAPI(runtime.bus)
        self.volume_api = VolumeAPI(runtime.bus)
        self.conductor = ConductorAPI(runtime.bus)
        self.compute_rpcapi = ComputeAPI(runtime.bus)
        self.power = PowerAPI(self.db, self.compute_rpcapi)

    # --- create ------------------------------------------------------------------------

    async def create(self, ctx: RequestContext, req: CreateRequest) -> tuple[list[str], str, str]:
        """Validate, write and start building; the instances' uuids, reservation id and admin
        password."""
        policy.enforce(ctx, "compute:servers:create", {"project_id": ctx.project_id})
        if req.min_count > req.max_count:
            raise errors.ValidationError(detail="min_count must be <= max_count")
        return await self._create_instance(ctx, req)

    async def _create_instance(
        self, ctx: RequestContext, req: CreateRequest
    ) -> tuple[list[str], str, str]:
        base = await self._validate_and_build_base_options(ctx, req)
        count = await self._check_num_instances_quota(
            ctx, base.flavor, req.min_count, base.max_count
        )
        if base.group is not None:
            count = await self._check_group_members_quota(ctx, base.group, req.min_count, count)
        spec = self._request_spec(ctx, req, base)
        reservation_id = "r-" + "".join(
            secrets.choice(string.ascii_lowercase + string.digits) for _ in range(8)
        )
        password = req.admin_password or generate_password()
        created = await self._provision_instances(ctx, req, base, spec, count, reservation_id)
        await self.conductor.build_instances(
            ctx,
            BuildInstances(
                instance_uuids=created,
                request_spec=spec.model_copy(update={"instance_uuids": created}),
                requested_networks=req.requested_networks,
                security_groups=req.security_groups or ["default"],
                admin_password=password,
            ),
        )
        return created, reservation_id, password

    async def _validate_and_build_base_options(
        self, ctx: RequestContext, req: CreateRequest
    ) -> _BaseOptions:
        async with self.db.read() as session:
            flavor = await self._get_flavor(session, ctx, req.flavor_id)
            key_data = await self._key_data(session, ctx, req.key_name)
            zone = await self._availability_zone(session, req)
        if req.user_data is not None:
            try:
                base64.b64decode(req.user_data, validate=True)
            except (binascii.Error, ValueError):
                raise errors.InvalidUserData() from None
        limits = None
        if req.metadata:
            async with self.db.read() as session:
                limits = await quotas.project_limits(session, self.settings, ctx.project_id)
            allowed = limits["metadata_items"]
            if allowed != quotas.UNLIMITED and len(req.metadata) > allowed:
                raise errors.MetadataLimitExceeded(allowed=allowed)
        image, image_ref = await self._boot_image(ctx, req)
        self._validate_flavor_image(ctx, flavor, image, is_bfv=not image_ref)
        await self._check_and_transform_bdm(ctx, req)
        max_count = await self.network_api.validate_networks(
            ctx, req.requested_networks, req.max_count
        )
        group = await self._group(ctx, req.scheduler_hints)
        return _BaseOptions(
            flavor=flavor,
            image_ref=image_ref,
            image=image,
            key_data=key_data,
            availability_zone=zone,
            group=group,
            max_count=max(min(max_count, req.max_count), 0),
        )

    async def _get_flavor(
        self, session: AsyncSession, ctx: RequestContext, flavor_id: str
    ) -> flavors_db.FlavorRow:
        """The flavor to boot; a missing or disabled one is a 400 here, as Nova answers."""
        try:
            flavor = await flavors_db.get_flavor(session, flavors_db.Viewer.of(ctx), flavor_id)
        except errors.FlavorNotFound:
            raise errors.FlavorNotFoundForBoot(flavor_id=flavor_id) from None
        if flavor.disabled:
            raise errors.FlavorNotFoundForBoot(flavor_id=flavor_id)
        return flavor

    async def _key_data(
        self, session: AsyncSession, ctx: RequestContext, key_name: str | None
    ) -> str | None:
        if key_name is None:
            return None
        try:
            keypair = await keypairs_db.get_keypair(session, ctx.user_id or "", key_name)
        except NotFound:
            raise errors.InvalidKeyName() from None
        return keypair.public_key

    async def _availability_zone(self, session: AsyncSession, req: CreateRequest) -> str | None:
        zone = req.availability_zone
        if zone is None or req.forced_host or req.forced_node:
            return zone
        known = await session.scalar(
            select(ComputeNode.id).where(ComputeNode.availability_zone == zone).limit(1)
        )
        if known is None:
            raise errors.InvalidAvailabilityZone()
        return zone

    async def _boot_image(
        self, ctx: RequestContext, req: CreateRequest
    ) -> tuple[ImageMeta | None, str]:
        """The image the server boots from: ``imageRef``, or the boot volume's source."""
        if req.image_href:
            try:
                image = await self.image_api.get(ctx, req.image_href)
            except ImageNotFound:
                raise errors.ImageNotFoundForBoot() from None
            if image.status != "active":
                raise errors.ImageNotActive(image_id=req.image_href)
            return image, req.image_href
        boot = block_device.boot_device(req.block_devices)
        if boot is None:
            raise errors.MissingImageRef()
        if boot.source_type == "image" and boot.uuid:
            try:
                return await self.image_api.get(ctx, boot.uuid), ""
            except ImageNotFound:
                raise errors.InvalidBDMImage(id=boot.uuid) from None
        return None, ""

    def _validate_flavor_image(
        self,
        ctx: RequestContext,
        flavor: flavors_db.FlavorRow,
        image: ImageMeta | None,
        *,
        is_bfv: bool,
    ) -> None:
        """Nova's ``_validate_flavor_image_nostatus``."""
        if image is not None and image.min_ram and flavor.memory_mb < image.min_ram:
            raise errors.FlavorMemoryTooSmall()
        if is_bfv:
            return
        if flavor.root_gb == 0:
            target = {"project_id": ctx.project_id}
            if not policy.check(ctx, "compute:servers:create:zero_disk_flavor", target):
                raise errors.BootFromVolumeRequiredForZeroDiskFlavor()
            return
        root = flavor.root_gb * GiB
        if image is not None and image.size and image.size > root:
            raise errors.FlavorDiskSmallerThanImage(flavor_size=root, image_size=image.size)
        if image is not None and image.min_disk and image.min_disk * GiB > root:
            raise errors.FlavorDiskSmallerThanMinDisk(
                flavor_size=root, image_min_disk=image.min_disk * GiB
            )

    async def _check_and_transform_bdm(self, ctx: RequestContext, req: CreateRequest) -> None:
        block_device.check_local_devices(
            req.block_devices, req.image_href, self.settings.max_local_block_devices
        )
        for device in req.block_devices:
            if device.source_type == "volume" and device.uuid:
                if req.max_count > 1:
                    raise errors.ValidationError(
                        detail="Cannot attach one or more volumes to multiple instances"
                    )
                try:
                    volume = await self.volume_api.get(ctx, device.uuid)
                except NotFound:
                    raise errors.InvalidBDMVolume(id=device.uuid) from None
                if volume.status != "available":
                    raise errors.InvalidVolume(
                        reason=f"volume '{volume.id}' status must be 'available'. "
                        f"Currently in '{volume.status}'"
                    )
            elif device.source_type == "snapshot":
                raise errors.InvalidBDMSnapshot(id=device.uuid)
            elif device.source_type == "image" and device.is_volume and device.uuid:
                try:
                    await self.image_api.get(ctx, device.uuid)
                except ImageNotFound:
                    raise errors.InvalidBDMImage(id=device.uuid) from None

    async def _group(self, ctx: RequestContext, hints: dict[str, Any]) -> GroupSpec | None:
        group_uuid = hints.get("group")
        if isinstance(group_uuid, list):
            group_uuid = group_uuid[0] if group_uuid else None
        if not group_uuid:
            return None
        async with self.db.read() as session:
            try:
                group = await groups_db.get_group(session, ctx, group_uuid)
            except errors.InstanceGroupNotFound:
                raise errors.InstanceGroupNotFoundForBoot(group_uuid=group_uuid) from None
            return GroupSpec(
                uuid=group.uuid,
                policy=group.policy,
                max_server_per_host=int(group.rules.get("max_server_per_host", 1)),
                members=[m.instance_uuid for m in group.members],
            )

    async def _check_num_instances_quota(
        self, ctx: RequestContext, flavor: flavors_db.FlavorRow, min_count: int, max_count: int
    ) -> int:
        """The largest count in [min, max] the quota allows (``check_num_instances_quota``)."""
        async with self.db.read() as session:
            limits = await quotas.project_limits(session, self.settings, ctx.project_id)
            usage = await quotas.count_instances(session, ctx.project_id)
        return quotas.fit_instances(
            limits, usage, flavor.vcpus, flavor.memory_mb, min_count, max_count
        )

    async def _check_group_members_quota(
        self, ctx: RequestContext, group: GroupSpec, min_count: int, count: int
    ) -> int:
        async with self.db.read() as session:
            limits = await quotas.project_limits(session, self.settings, ctx.project_id)
        allowed = limits["server_group_members"]
        if allowed == quotas.UNLIMITED:
            return count
        room = allowed - len(group.members)
        if room < min_count:
            raise errors.GroupMemberQuotaExceeded()
        return min(count, room)

    def _request_spec(
        self, ctx: RequestContext, req: CreateRequest, base: _BaseOptions
    ) -> RequestSpec:
        flavor = base.flavor
        hints = req.scheduler_hints
        return RequestSpec(
            instance_uuids=[],
            project_id=ctx.project_id or "",
            user_id=ctx.user_id,
            flavor=FlavorSpec(
                vcpus=flavor.vcpus,
                memory_mb=flavor.memory_mb,
                root_gb=flavor.root_gb,
                ephemeral_gb=flavor.ephemeral_gb,
                swap_mb=flavor.swap,
                extra_specs=flavors_db.extra_specs(flavor),
            ),
            image=base.image if base.image_ref else None,
            image_properties=dict(base.image.properties) if base.image else {},
            is_bfv=not base.image_ref,
            availability_zone=base.availability_zone,
            force_hosts=[req.forced_host] if req.forced_host else [],
            force_nodes=[req.forced_node] if req.forced_node else [],
            same_host=_as_list(hints.get("same_host")),
            different_host=_as_list(hints.get("different_host")),
            group=base.group,
        )

    async def _provision_instances(
        self,
        ctx: RequestContext,
        req: CreateRequest,
        base: _BaseOptions,
        spec: RequestSpec,
        count: int,
        reservation_id: str,
    ) -> list[str]:
        """Write the instances with their specs, devices, tags and actions, under the quota lock;
        their uuids."""
        flavor = base.flavor
        async with self.db.write() as session:
            await hold_row(session, ComputeQuotaLock, project_id=ctx.project_id or "")
            limits = await quotas.project_limits(session, self.settings, ctx.project_id)
            usage = await quotas.count_instances(session, ctx.project_id)
            quotas.fit_instances(limits, usage, flavor.vcpus, flavor.memory_mb, count, count)
            if base.group is not None:
                await self._recheck_group_members(session, base.group, limits, count)
            rows = [
                self._populate_instance_for_create(ctx, req, base, index, count, reservation_id)
                for index in range(count)
            ]
            uuids = [row["uuid"] for row in rows]
            await run(session, _INSERT_INSTANCE, rows)
            await run(session, _INSERT_SPEC, [_spec_row(req, spec, uuid) for uuid in uuids])
            devices = [
                {"instance_uuid": uuid, **device.row()}
                for uuid in uuids
                for device in req.block_devices
            ]
            if devices:
                await run(session, _INSERT_DEVICE, devices)
            tags = [
                {"instance_uuid": uuid, "tag": tag}
                for uuid in uuids
                for tag in dict.fromkeys(req.tags)
            ]
            if tags:
                await run(session, _INSERT_TAG, tags)
            if base.group is not None:
                for uuid in uuids:
                    await self._add_group_member(session, base.group, uuid)
            await actions.actions_start(session, ctx, uuids, names.CREATE)
        return uuids

    async def _recheck_group_members(
        self, session: AsyncSession, group: GroupSpec, limits: dict[str, int], count: int
    ) -> None:
        allowed = limits["server_group_members"]
        if allowed == quotas.UNLIMITED:
            return
        members = await session.scalar(
            select(func.count())
            .select_from(ServerGroupMember)
            .join(ServerGroup, ServerGroup.id == ServerGroupMember.group_id)
            .where(ServerGroup.uuid == group.uuid)
        )
        if (members or 0) + count > allowed:
            raise errors.GroupMemberQuotaExceeded()

    async def _add_group_member(
        self, session: AsyncSession, group: GroupSpec, instance_uuid: str
    ) -> None:
        group_id = await session.scalar(
            select(ServerGroup.id).where(ServerGroup.uuid == group.uuid)
        )
        if group_id is None:
            raise errors.InstanceGroupNotFound(group_uuid=group.uuid)
        session.add(ServerGroupMember(group_id=group_id, instance_uuid=instance_uuid))

    def _populate_instance_for_create(
        self,
        ctx: RequestContext,
        req: CreateRequest,
        base: _BaseOptions,
        index: int,
        count: int,
        reservation_id: str,
    ) -> dict[str, Any]:
        """The ``instances`` row of one instance of the request."""
        ident = str(uuid.uuid4())
        multiple = req.max_count > 1 or req.min_count > 1 or count > 1
        display_name = f"{req.name}-{index + 1}" if multiple else req.name
        hostname = req.hostname or sanitize_hostname(display_name) or f"Server-{ident}"
        flavor = base.flavor
        image = base.image
        system_metadata = {}
        if image is not None:
            system_metadata = {
                f"image_{key}": str(value) for key, value in image.properties.items()
            }
            system_metadata.update(
                {
                    "image_disk_format": image.disk_format or "",
                    "image_container_format": image.container_format or "",
                    "image_min_ram": str(image.min_ram),
                    "image_min_disk": str(image.min_disk),
                    "image_base_image_ref": image.id,
                }
            )
        return {
            "uuid": ident,
            "project_id": ctx.project_id,
            "user_id": ctx.user_id,
            "display_name": display_name,
            "display_description": req.description,
            "hostname": hostname,
            "reservation_id": reservation_id,
            "launch_index": index,
            "image_ref": base.image_ref,
            "flavor_id": flavor.flavorid,
            "flavor": {
                "id": flavor.flavorid,
                "name": flavor.name,
                "vcpus": flavor.vcpus,
                "memory_mb": flavor.memory_mb,
                "root_gb": flavor.root_gb,
                "ephemeral_gb": flavor.ephemeral_gb,
                "swap": flavor.swap,
                "rxtx_factor": flavor.rxtx_factor,
                "extra_specs": flavors_db.extra_specs(flavor),
                "description": flavor.description,
            },
            "vcpus": flavor.vcpus,
            "memory_mb": flavor.memory_mb,
            "root_gb": flavor.root_gb,
            "ephemeral_gb": flavor.ephemeral_gb,
            "vm_state": VmState.BUILDING,
            "task_state": TaskState.SCHEDULING,
            "power_state": 0,
            "availability_zone": base.availability_zone,
            "pinned_availability_zone": base.availability_zone,
            "key_name": req.key_name,
            "key_data": base.key_data,
            "user_data": req.user_data,
            "config_drive": "True" if req.config_drive else "",
            "metadata": dict(req.metadata),
            "system_metadata": system_metadata,
            "security_groups": req.security_groups or ["default"],
            "access_ip_v4": req.access_ip_v4,
            "access_ip_v6": req.access_ip_v6,
            "auto_disk_config": req.auto_disk_config,
            "root_device_name": "/dev/vda",
            "deleted": 0,
            "locked": False,
            "progress": 0,
            "network_info": [],
        }

    # --- delete ------------------------------------------------------------------------

    async def delete(self, ctx: RequestContext, instance_uuid: str) -> None:
        """Delete in any state: on its host if that is up, else here (Nova's ``_delete``)."""
        async with self.db.write() as session:
            instance = await instances.get_instance(session, ctx, instance_uuid)
            policy.enforce(ctx, "compute:servers:delete", {"project_id": instance.project_id})
            if instance.locked and not ctx.is_admin:
                raise errors.InstanceIsLocked(instance_uuid=instance_uuid)
            await session.execute(
                update(Instance)
                .where(Instance.uuid == instance_uuid, Instance.deleted == 0)
                .values(task_state=TaskState.DELETING)
            )
            await actions.action_start(session, ctx, instance_uuid, names.DELETE)
            host = await session.scalar(select(Instance.host).where(Instance.uuid == instance_uuid))
            up = host is not None and await self._host_is_up(session, host)
        if up:
            assert host is not None
            await self.compute_rpcapi.terminate_instance(ctx, host, instance_uuid)
            return
        await self._local_delete(ctx, instance_uuid)

    async def _host_is_up(self, session: AsyncSession, host: str) -> bool:
        service = await session.scalar(
            select(ComputeService).where(
                ComputeService.host == host, ComputeService.binary == "nova-compute"
            )
        )
        return service is not None and service_is_up(
            service, utcnow(), self.settings.service_down_time
        )

    async def _local_delete(self, ctx: RequestContext, instance_uuid: str) -> None:
        """Delete an instance no compute host holds: its ports, volumes and claim, then the row."""
        await teardown.cleanup_allocated_networks(self.db, self.network_api, ctx, instance_uuid)
        await teardown.cleanup_volumes(self.db, self.volume_api, ctx, instance_uuid)
        await teardown.finish_delete(self.db, ctx, instance_uuid)

    # --- power ---------------------------------------------------------------------------

    async def stop(self, ctx: RequestContext, instance_uuid: str) -> None:
        await self.power.stop(ctx, instance_uuid)

    async def start(self, ctx: RequestContext, instance_uuid: str) -> None:
        await self.power.start(ctx, instance_uuid)

    async def reboot(
        self, ctx: RequestContext, instance_uuid: str, reboot_type: Literal["SOFT", "HARD"]
    ) -> None:
        await self.power.reboot(ctx, instance_uuid, reboot_type)

    # --- other actions -----------------------------------------------------------------

    async def get_console_output(
        self, ctx: RequestContext, instance_uuid: str, length: int | None
    ) -> str:
        async with self.db.read() as session:
            instance = await instances.get_instance(session, ctx, instance_uuid)
        if instance.host is None or instance.vm_state != VmState.ACTIVE:
            raise errors.InstanceNotReady(instance_id=instance_uuid)
        return await self.compute_rpcapi.get_console_output(
            ctx, instance.host, instance_uuid, length
        )


def _spec_row(req: CreateRequest, spec: RequestSpec, instance_uuid: str) -> dict[str, Any]:
    """The ``request_specs`` row of one instance: its spec and what a reschedule asks again."""
    return {
        "instance_uuid": instance_uuid,
        "spec": {
            **spec.model_copy(update={"instance_uuids": [instance_uuid]}).model_dump(mode="json"),
            "scheduler_hints": req.scheduler_hints,
            "requested_networks": _as_json(req.requested_networks),
            "security_groups": req.security_groups or ["default"],
        },
    }


def _as_json(requested: RequestedNetworks) -> Any:
    if requested is None or isinstance(requested, str):
        return requested
    return [r.model_dump(mode="json") for r in requested]


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]
