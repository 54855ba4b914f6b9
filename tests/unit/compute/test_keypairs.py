"""Keypairs: import, generation before 2.92, per-user listing, paging and quota."""

from __future__ import annotations

import base64
import datetime
import hashlib

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import NameOID
from sqlalchemy import delete

from cumulo.db.models.compute import Quota
from cumulo.runtime import Runtime
from tests.fakes import ADMIN_USER, DEMO_PROJECT, DEMO_USER
from tests.unit.compute.conftest import ADMIN, DEMO, at, fault

KEYPAIRS = "/compute/v2.1/os-keypairs"


def ssh_key() -> str:
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    text = key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return text.decode() + " me@laptop"


def md5_fingerprint(public_key: str) -> str:
    digest = hashlib.md5(base64.b64decode(public_key.split()[1])).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, 32, 2))


async def create(
    api: httpx.AsyncClient, version: str, token: dict[str, str] = DEMO, /, **keypair: object
) -> httpx.Response:
    return await api.post(KEYPAIRS, json={"keypair": keypair}, headers=at(version, token))


async def test_osc_import(api: httpx.AsyncClient) -> None:
    """``openstack keypair create K`` generates locally and imports at 2.10."""
    public = ssh_key()
    r = await create(api, "2.10", name="K", public_key=public)
    assert r.status_code == 201
    assert r.json() == {
        "keypair": {
            "name": "K",
            "public_key": public,
            "fingerprint": md5_fingerprint(public),
            "type": "ssh",
            "user_id": DEMO_USER,
        }
    }


async def test_import_at_21_answers_200_without_type(api: httpx.AsyncClient) -> None:
    r = await create(api, "2.1", name="old", public_key=ssh_key())
    assert r.status_code == 200
    assert set(r.json()["keypair"]) == {"name", "public_key", "fingerprint", "user_id"}


async def test_generated_ssh_key(api: httpx.AsyncClient) -> None:
    r = await create(api, "2.1", name="made")
    assert r.status_code == 200
    made = r.json()["keypair"]
    assert made["private_key"].startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert made["public_key"].startswith("ssh-rsa ")
    assert made["fingerprint"] == md5_fingerprint(made["public_key"])
    private = serialization.load_pem_private_key(made["private_key"].encode(), None)
    own = private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    assert made["public_key"].split()[1] == own.decode().split()[1]
    shown = await api.get(f"{KEYPAIRS}/made", headers=DEMO)
    assert "private_key" not in shown.json()["keypair"]


async def test_generated_x509_certificate(api: httpx.AsyncClient) -> None:
    r = await create(api, "2.91", name="cert", type="x509")
    assert r.status_code == 201
    made = r.json()["keypair"]
    cert = x509.load_pem_x509_certificate(made["public_key"].encode())
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == DEMO_USER
    expected = cert.fingerprint(hashes.SHA1()).hex()
    assert made["fingerprint"].replace(":", "") == expected
    assert base64.b64decode(made["private_key"])
    assert made["type"] == "x509"


async def test_imported_x509_certificate(api: httpx.AsyncClient) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "me")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(1)
        .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, None)
    )  # fmt: skip
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    r = await create(api, "2.92", name="imported", type="x509", public_key=pem)
    assert r.status_code == 201
    assert (
        r.json()["keypair"]["fingerprint"].replace(":", "") == cert.fingerprint(hashes.SHA1()).hex()
    )


@pytest.mark.parametrize(
    ("version", "keypair", "status", "message"),
    [
        (
            "2.92",
            {"name": "k"},
            400,
            "Invalid input for field/attribute keypair. Value: {'name': 'k'}. "
            "'public_key' is a required property",
        ),
        (
            "2.1",
            {"name": "bad/name", "public_key": "x"},
            400,
            "Invalid input for field/attribute name. Value: bad/name. 'bad/name' does not match "
            "'^[_\\\\- a-zA-Z0-9]+$'",
        ),
        (
            "2.91",
            {"name": "me@host.x", "public_key": "x"},
            400,
            "Invalid input for field/attribute name. Value: me@host.x. 'me@host.x' does not match "
            "'^[_\\\\- a-zA-Z0-9]+$'",
        ),
        (
            "2.1",
            {"name": " k", "public_key": "x"},
            400,
            "An invalid 'name' value was provided. The name must be: printable characters. "
            "Can not start or end with whitespace.",
        ),
        (
            "2.1",
            {"name": "k", "type": "ssh"},
            400,
            "Invalid input for field/attribute keypair. Value: {'name': 'k', 'type': 'ssh'}. "
            "Additional properties are not allowed ('type' was unexpected)",
        ),
        (
            "2.2",
            {"name": "k", "type": "rsa"},
            400,
            "Invalid input for field/attribute type. Value: rsa. 'rsa' is not one of "
            "['ssh', 'x509']",
        ),
        (
            "2.9",
            {"name": "k", "user_id": "u"},
            400,
            "Invalid input for field/attribute keypair. Value: {'name': 'k', 'user_id': 'u'}. "
            "Additional properties are not allowed ('user_id' was unexpected)",
        ),
        (
            "2.2",
            {"name": "k", "public_key": None},
            400,
            "Invalid input for field/attribute public_key. Value: None. "
            "None is not of type 'string'",
        ),
        (
            "2.2",
            {"name": "k", "public_key": 5},
            400,
            "Invalid input for field/attribute public_key. Value: 5. 5 is not of type 'string'",
        ),
        (
            "2.2",
            {"name": "k", "public_key": "ssh-rsa not-a-key"},
            400,
            "Keypair data is invalid: failed to generate fingerprint",
        ),
        (
            "2.2",
            {"name": "k", "public_key": "", "type": "x509"},
            400,
            "Keypair data is invalid: failed to generate X509 fingerprint. Error message: ",
        ),
        (
            "2.10",
            {"name": "k", "public_key": "x", "user_id": ADMIN_USER},
            403,
            "Policy doesn't allow compute:keypairs:create to be performed.",
        ),
    ],
)
async def test_bad_keypairs(
    api: httpx.AsyncClient, version: str, keypair: dict[str, object], status: int, message: str
) -> None:
    r = await create(api, version, **keypair)
    assert r.status_code == status, r.text
    assert fault(r)["message"].startswith(message)


async def test_names_may_hold_at_and_dot_from_292(api: httpx.AsyncClient) -> None:
    r = await create(api, "2.92", name="me@host.example", public_key=ssh_key())
    assert r.status_code == 201


async def test_duplicate_name_conflicts(api: httpx.AsyncClient) -> None:
    assert (await create(api, "2.2", name="twice", public_key=ssh_key())).status_code == 201
    r = await create(api, "2.2", name="twice", public_key=ssh_key())
    assert r.status_code == 409
    assert fault(r)["message"] == "Key pair 'twice' already exists."
    # Names are per user: another user may take the same one.
    r = await create(api, "2.2", ADMIN, name="twice", public_key=ssh_key())
    assert r.status_code == 201


async def test_quota_from_settings_and_quota_rows(api: httpx.AsyncClient, runtime: Runtime) -> None:
    runtime.settings.compute.quota_key_pairs = 1
    assert (await create(api, "2.2", name="one", public_key=ssh_key())).status_code == 201
    for extra in ({"public_key": ssh_key()}, {}):
        r = await create(api, "2.2", name="two", **extra)
        assert r.status_code == 403
        assert fault(r)["message"] == "Quota exceeded, too many key pairs."
    async with runtime.db.write() as session:
        session.add(Quota(project_id=DEMO_PROJECT, resource="key_pairs", hard_limit=2))
    assert (await create(api, "2.2", name="two", public_key=ssh_key())).status_code == 201
    assert (await create(api, "2.2", name="three", public_key=ssh_key())).status_code == 403
    runtime.settings.compute.quota_key_pairs = -1
    async with runtime.db.write() as session:
        await session.execute(delete(Quota))
    assert (await create(api, "2.2", name="three", public_key=ssh_key())).status_code == 201


async def test_list_show_delete(api: httpx.AsyncClient) -> None:
    public = ssh_key()
    await create(api, "2.2", name="mine", public_key=public)
    r = await api.get(KEYPAIRS, headers=DEMO)
    assert r.json() == {
        "keypairs": [
            {"keypair": {"name": "mine", "public_key": public,
                         "fingerprint": md5_fingerprint(public)}}
        ]
    }  # fmt: skip
    r = await api.get(KEYPAIRS, headers=at("2.2", DEMO))
    assert r.json()["keypairs"][0]["keypair"]["type"] == "ssh"
    r = await api.get(f"{KEYPAIRS}/mine", headers=at("2.2", DEMO))
    shown = r.json()["keypair"]
    datetime.datetime.strptime(shown.pop("created_at"), "%Y-%m-%dT%H:%M:%S.%f")
    assert isinstance(shown.pop("id"), int)
    assert shown == {
        "name": "mine", "public_key": public, "fingerprint": md5_fingerprint(public),
        "user_id": DEMO_USER, "deleted": False, "deleted_at": None, "updated_at": None,
        "type": "ssh",
    }  # fmt: skip
    r = await api.delete(f"{KEYPAIRS}/mine", headers=at("2.2", DEMO))
    assert r.status_code == 204
    r = await api.get(f"{KEYPAIRS}/mine", headers=DEMO)
    assert r.status_code == 404
    assert fault(r)["message"] == f"Keypair mine not found for user {DEMO_USER}"
    r = await api.delete(f"{KEYPAIRS}/mine", headers=DEMO)
    assert r.status_code == 404
    await create(api, "2.1", name="again", public_key=ssh_key())
    assert (await api.delete(f"{KEYPAIRS}/again", headers=DEMO)).status_code == 202


async def test_admin_acts_for_other_users_from_210(api: httpx.AsyncClient) -> None:
    r = await create(api, "2.10", ADMIN, name="for-demo", public_key=ssh_key(), user_id=DEMO_USER)
    assert r.status_code == 201
    assert r.json()["keypair"]["user_id"] == DEMO_USER
    mine = await api.get(KEYPAIRS, headers=DEMO)
    assert [k["keypair"]["name"] for k in mine.json()["keypairs"]] == ["for-demo"]
    theirs = await api.get(f"{KEYPAIRS}?user_id={DEMO_USER}", headers=at("2.10"))
    assert [k["keypair"]["name"] for k in theirs.json()["keypairs"]] == ["for-demo"]
    ignored = await api.get(f"{KEYPAIRS}?user_id={DEMO_USER}", headers=at("2.9"))
    assert ignored.json()["keypairs"] == []
    r = await api.get(f"{KEYPAIRS}/for-demo?user_id={DEMO_USER}", headers=at("2.10"))
    assert r.status_code == 200
    r = await api.get(f"{KEYPAIRS}?user_id={ADMIN_USER}", headers=at("2.10", DEMO))
    assert r.status_code == 403
    r = await api.delete(f"{KEYPAIRS}/for-demo?user_id={DEMO_USER}", headers=at("2.10", DEMO))
    assert r.status_code == 204


async def test_paging_from_235(api: httpx.AsyncClient) -> None:
    for name in ("c", "a", "b"):
        await create(api, "2.2", name=name, public_key=ssh_key())

    async def names(query: str, version: str = "2.35") -> httpx.Response:
        return await api.get(f"{KEYPAIRS}?{query}", headers=at(version, DEMO))

    page = await names("limit=2")
    assert [k["keypair"]["name"] for k in page.json()["keypairs"]] == ["a", "b"]
    assert page.json()["keypairs_links"] == [
        {"rel": "next", "href": "http://cumulo.test/compute/v2.1/os-keypairs?limit=2&marker=b"}
    ]
    rest = await names("limit=2&marker=b")
    assert [k["keypair"]["name"] for k in rest.json()["keypairs"]] == ["c"]
    assert "keypairs_links" not in rest.json()
    old = await names("limit=1", "2.34")
    assert len(old.json()["keypairs"]) == 3
    r = await names("marker=zzz")
    assert r.status_code == 400
    assert fault(r)["message"] == "Marker zzz could not be found."
    r = await names("limit=x")
    assert r.status_code == 400
    r = await names("colour=red", "2.75")
    assert r.status_code == 400
    assert fault(r)["message"] == "Additional properties are not allowed ('colour' was unexpected)"
