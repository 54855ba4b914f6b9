"""A new user's session: `cumulo up`, then the unmodified openstack CLI, as in the README."""

from __future__ import annotations

import os

import pytest
import yaml

from tests.functional.cloud import CLIError, Cloud, osc

pytestmark = pytest.mark.cli


def test_clouds_yaml_has_both_clouds_and_is_private(cloud: Cloud) -> None:
    doc = yaml.safe_load(cloud.clouds_yaml.read_text())
    assert set(doc["clouds"]) == {"cumulo", "cumulo-demo"}
    assert doc["clouds"]["cumulo"]["auth"]["auth_url"] == f"{cloud.url}/identity"
    assert oct(os.stat(cloud.clouds_yaml).st_mode & 0o777) == "0o600"


def test_token_issue_scopes_to_admin_project(cloud: Cloud) -> None:
    token = cloud.osc("token", "issue")
    project = cloud.osc("project", "show", "admin")
    assert token["project_id"] == project["id"]
    assert token["id"]
    assert token["expires"]


def test_versions_and_catalog(cloud: Cloud) -> None:
    versions = {(v["Service Type"], v["Status"]): v for v in cloud.osc("versions", "show")}
    assert versions[("compute", "CURRENT")]["Max Microversion"] == "2.100"
    assert versions[("identity", "CURRENT")]["Version"].startswith("3.")
    assert versions[("block-storage", "CURRENT")]["Max Microversion"] == "3.71"
    types = {entry["Type"] for entry in cloud.osc("catalog", "list")}
    assert {"identity", "compute", "image", "network", "block-storage"} <= types


def test_projects_users_and_roles(cloud: Cloud) -> None:
    project = cloud.osc("project", "create", "--description", "team a", "team-a")
    user = cloud.osc("user", "create", "--password", "pw-alice-1", "--project", "team-a", "alice")
    cloud.osc("role", "add", "--project", "team-a", "--user", "alice", "member", as_json=False)
    rows = cloud.osc("role", "assignment", "list", "--project", "team-a", "--names")
    assert [(r["Role"], r["User"]) for r in rows] == [("member", "alice@Default")]
    # The new user logs in with the CLI's own environment variables.
    env = {
        "OS_AUTH_URL": f"{cloud.url}/identity",
        "OS_USERNAME": "alice",
        "OS_PASSWORD": "pw-alice-1",
        "OS_PROJECT_NAME": "team-a",
        "OS_USER_DOMAIN_NAME": "Default",
        "OS_PROJECT_DOMAIN_NAME": "Default",
    }
    token = osc(cloud.clouds_yaml, "token", "issue", cloud="", env=env)
    assert token["project_id"] == project["id"]
    assert token["user_id"] == user["id"]
    env["OS_PASSWORD"] = "wrong"
    with pytest.raises(CLIError, match="401"):
        osc(cloud.clouds_yaml, "token", "issue", cloud="", env=env)


def test_flavor_lifecycle(cloud: Cloud) -> None:
    names = {f["Name"] for f in cloud.osc("flavor", "list")}
    assert {"m1.tiny", "m1.small", "m1.medium", "m1.large", "c1.nano"} <= names
    created = cloud.osc("flavor", "create", "--ram", "256", "--disk", "2", "--vcpus", "2", "f-cli")
    shown = cloud.osc("flavor", "show", "f-cli")
    assert (shown["id"], shown["ram"], shown["disk"], shown["vcpus"]) == (created["id"], 256, 2, 2)
    cloud.osc("flavor", "delete", "f-cli", as_json=False)
    assert "f-cli" not in {f["Name"] for f in cloud.osc("flavor", "list")}


def test_demo_user_cannot_create_flavors(cloud: Cloud) -> None:
    with pytest.raises(CLIError) as err:
        cloud.osc(
            "flavor",
            "create",
            "--ram",
            "1",
            "--disk",
            "1",
            "--vcpus",
            "1",
            "x",
            cloud="cumulo-demo",
        )
    assert "403" in err.value.result.stderr
    assert cloud.osc("flavor", "list", cloud="cumulo-demo")


def test_keypair_lifecycle(cloud: Cloud) -> None:
    created = cloud.osc("keypair", "create", "k-cli", as_json=False)
    assert "PRIVATE KEY" in created.stdout
    listed = {k["Name"]: k for k in cloud.osc("keypair", "list")}
    assert listed["k-cli"]["Type"] == "ssh"
    cloud.osc("keypair", "delete", "k-cli", as_json=False)
    assert "k-cli" not in {k["Name"] for k in cloud.osc("keypair", "list")}
    # Key pairs are per user: the demo user does not see the admin's.
    cloud.osc("keypair", "create", "k-admin", as_json=False)
    assert "k-admin" not in {k["Name"] for k in cloud.osc("keypair", "list", cloud="cumulo-demo")}


def test_limits_show(cloud: Cloud) -> None:
    absolute = {row["Name"]: row["Value"] for row in cloud.osc("limits", "show", "--absolute")}
    assert absolute["max_total_instances"] == 10
    assert absolute["max_total_cores"] == 20
    assert absolute["max_total_ram_size"] == 51200
    assert absolute["total_instances_used"] == 0
    assert absolute["max_total_volumes"] == 10
