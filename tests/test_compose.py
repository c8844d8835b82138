"""The compose file: only the reverse proxy is reachable from outside, and the service
believes X-Forwarded-For from that proxy alone (issue 13: a header from anyone rotated
per-address limits away, and the service's own port was published past the proxy)."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from config.settings import Settings
from handlers.ratelimit import Limits

COMPOSE = Path(__file__).resolve().parent.parent / "docker-compose.yml"
CADDY_CONFIG = "/etc/caddy/Caddyfile"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return loaded


def publishers(compose: dict[str, Any]) -> set[str]:
    return {name for name, service in compose["services"].items() if service.get("ports")}


def test_only_the_proxy_publishes_a_port(compose):  # type: ignore[no-untyped-def]
    assert publishers(compose) == {"proxy"}
    assert "caddy" in compose["services"]["proxy"]["image"]


def mounted_caddyfile(compose: dict[str, Any]) -> Path:
    """The host file compose mounts as the proxy's configuration (read-only)."""
    (mount,) = [v for v in compose["services"]["proxy"]["volumes"] if f":{CADDY_CONFIG}" in v]
    source, target, mode = mount.split(":")
    assert (target, mode) == (CADDY_CONFIG, "ro")
    return (COMPOSE.parent / source).resolve()


def placeholder_default(caddyfile: str, name: str) -> str:
    """The default of ``{$NAME:default}`` in the Caddyfile (what compose runs with)."""
    found = re.search(r"\{\$" + name + r":([^}]*)\}", caddyfile)
    assert found is not None, name
    return found.group(1)


def test_the_proxy_runs_the_checked_in_caddyfile(compose):  # type: ignore[no-untyped-def]
    """One file is what runs and what tests/deploy/test_proxy.py checks with Caddy."""
    caddyfile = mounted_caddyfile(compose)
    assert caddyfile == COMPOSE.parent / "config" / "Caddyfile"
    assert caddyfile.is_file()
    assert "configs" not in compose["services"]["proxy"]
    assert "configs" not in compose


def test_the_proxy_load_balances_every_replica_of_the_service(compose):  # type: ignore[no-untyped-def]
    caddyfile = mounted_caddyfile(compose).read_text(encoding="utf-8")
    assert "dynamic a {$LINLI_UPSTREAM:" in caddyfile
    assert placeholder_default(caddyfile, "LINLI_UPSTREAM") == "linli"
    linli = compose["services"]["linli"]
    assert placeholder_default(caddyfile, "LINLI_UPSTREAM_PORT") == str(linli["expose"][0])
    assert "lb_policy round_robin" in caddyfile
    assert linli["deploy"]["replicas"] >= 2
    # Compose names no upstream itself: the file's defaults are compose's.
    environment = compose["services"]["proxy"]["environment"]
    assert not any(name.startswith("LINLI_UPSTREAM") for name in environment)


def test_the_proxy_always_has_a_site_address(compose):  # type: ignore[no-untyped-def]
    """An empty LINLI_SITE_ADDRESS is no address at all to Caddy: compose's default stands."""
    environment = compose["services"]["proxy"]["environment"]
    assert environment["LINLI_SITE_ADDRESS"] == "${LINLI_SITE_ADDRESS:-:80}"
    caddyfile = mounted_caddyfile(compose).read_text(encoding="utf-8")
    assert placeholder_default(caddyfile, "LINLI_SITE_ADDRESS") == ":80"
    assert {"80:80", "443:443"} <= set(compose["services"]["proxy"]["ports"])


def test_the_service_trusts_forwarded_for_from_the_proxy_alone(compose):  # type: ignore[no-untyped-def]
    linli = compose["services"]["linli"]
    environment = linli["environment"]
    assert "LINLI_TRUST_FORWARDED_FOR" not in environment
    trusted = Settings(_env_file=None, trusted_proxies=environment["LINLI_TRUSTED_PROXIES"])
    proxy_ip = ipaddress.ip_address(
        compose["services"]["proxy"]["networks"]["edge"]["ipv4_address"]
    )
    assert [ipaddress.ip_network(spec) for spec in trusted.trusted_proxies] == [
        ipaddress.ip_network(f"{proxy_ip}/32")
    ]
    # The proxy and the service meet on "edge"; the proxy's address is outside the range
    # replicas are given, so no replica can take it.
    assert "edge" in linli["networks"]
    (edge,) = compose["networks"]["edge"]["ipam"]["config"]
    assert proxy_ip in ipaddress.ip_network(edge["subnet"])
    assert proxy_ip not in ipaddress.ip_network(edge["ip_range"])
    assert Limits(trusted_proxies=tuple(trusted.trusted_proxies)).proxies[0].num_addresses == 1


def test_the_database_and_redis_are_not_on_the_proxy_s_network(compose):  # type: ignore[no-untyped-def]
    for name in ("postgres", "redis", "worker"):
        assert "edge" not in compose["services"][name].get("networks", ["default"])


def test_redis_keeps_its_data_across_a_restart(compose):  # type: ignore[no-untyped-def]
    """Conversation state lives in Redis: an empty Redis after a restart loses flows."""
    redis = compose["services"]["redis"]
    command = " ".join(redis.get("command", []))
    assert "--appendonly yes" in command
    assert any(str(v).endswith(":/data") for v in redis.get("volumes", []))
