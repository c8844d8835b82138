"""config/Caddyfile, the file docker-compose.yml mounts into the proxy, checked by Caddy
itself and run in front of the real service.

Where Caddy is not installed these are skipped, except in CI (``CI=true``), where that is a
failure: the file that runs in production must be checked somewhere. Caddy keeps its state
(certificates, autosave) under the test's own directory, never the user's.
"""

from __future__ import annotations

import contextlib
import datetime
import http.client
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from config.settings import Settings
from handlers.households import api as households_api
from handlers.households import sheets
from handlers.media import api as media_api
from handlers.media import rules as media_rules

ROOT = Path(__file__).resolve().parents[2]
CADDYFILE = ROOT / "config" / "Caddyfile"
COMPOSE = ROOT / "docker-compose.yml"
START_SECONDS = 60.0
STOP_SECONDS = 15.0
# WeChat gives up on an answer after this long (and pushes the message again).
WECHAT_WINDOW_SECONDS = 5.0
# Anonymous API requests one client address may make a minute, in the service under test.
PER_ADDRESS = 5
# Two clients behind the proxy, as the proxy sees them (their own loopback addresses).
CLIENT, NEIGHBOUR = "127.0.0.5", "127.0.0.6"
# Two replicas on one port, as compose's replicas are: one A record each.
REPLICAS = ("127.0.0.1", "127.0.0.2")
# A rooted name: the resolver tries no search domain first.
REPLICA_NAME = "linli.test."
DEFAULT = re.compile(r"\$\{\w+:-([^}]*)\}")


@pytest.fixture
def caddy() -> str:
    found = shutil.which("caddy")
    if found is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI checks config/Caddyfile with Caddy: install Debian's caddy package")
        pytest.skip("caddy is not installed")
    return found


# --------------------------------------------------------------------------- Caddy


def compose_proxy_env() -> dict[str, str]:
    """The proxy's environment as compose sets it when the shell and .env set nothing."""
    compose = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    environment = compose["services"]["proxy"]["environment"]
    values = {name: DEFAULT.sub(r"\1", str(value)) for name, value in environment.items()}
    assert not any("$" in value for value in values.values()), values
    return values


def caddy_env(home: Path, **values: str) -> dict[str, str]:
    """Caddy's environment: its state under ``home``, no placeholder set but ``values``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LINLI_", "CADDY", "XDG_"))}
    env.update(
        HOME=str(home), XDG_DATA_HOME=str(home / "data"), XDG_CONFIG_HOME=str(home / "config")
    )
    env.update(values)
    return env


def caddy_command(caddy: str, verb: str) -> list[str]:
    return [caddy, verb, "--config", str(CADDYFILE), "--adapter", "caddyfile"]


def run_caddy(caddy: str, verb: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        caddy_command(caddy, verb), cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def own_certificate(directory: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate and its key for ``name``, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.mark.parametrize(
    "values",
    [
        pytest.param({}, id="as-compose-sets-it"),
        pytest.param({"LINLI_SITE_ADDRESS": "linli.example.org"}, id="a-domain"),
        pytest.param(
            {
                "LINLI_SITE_ADDRESS": "http://127.0.0.1:18080",
                "LINLI_UPSTREAM": REPLICA_NAME,
                "LINLI_UPSTREAM_PORT": "18081",
                "LINLI_UPSTREAM_RESOLVERS": "resolvers udp/127.0.0.1:15353",
                "LINLI_PROXY_ADMIN": "localhost:12019",
            },
            id="as-the-tests-set-it",
        ),
    ],
)
def test_caddy_validates_the_file(caddy, tmp_path, values):  # type: ignore[no-untyped-def]
    assert_valid(caddy, tmp_path, values)


def test_caddy_validates_the_file_with_a_certificate_of_our_own(caddy, tmp_path):  # type: ignore[no-untyped-def]
    cert, key = own_certificate(tmp_path, "linli.example.org")
    values = {"LINLI_SITE_ADDRESS": "linli.example.org", "LINLI_SITE_TLS": f"tls {cert} {key}"}
    assert_valid(caddy, tmp_path, values)


def assert_valid(caddy: str, home: Path, values: dict[str, str]) -> None:
    """``caddy validate`` passes with compose's environment and ``values`` over it."""
    done = run_caddy(caddy, "validate", caddy_env(home, **(compose_proxy_env() | values)))
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "Valid configuration" in output
    # `caddy fmt` has nothing to change, or every start would warn.
    assert "not formatted" not in output


@pytest.fixture
def adapted(caddy, tmp_path) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """The file as Caddy's JSON, with compose's values."""
    done = run_caddy(caddy, "adapt", caddy_env(tmp_path, **compose_proxy_env()))
    assert done.returncode == 0, done.stderr
    config: dict[str, Any] = json.loads(done.stdout)
    return config


def site_routes(config: dict[str, Any]) -> list[tuple[list[str], dict[str, Any], dict[str, Any]]]:
    """(paths matched, request_body handler, reverse_proxy handler) of each of the site's routes."""
    (server,) = config["apps"]["http"]["servers"].values()
    found = []
    for route in server["routes"]:
        paths = [path for match in route.get("match", []) for path in match.get("path", [])]
        handlers = [h for sub in route["handle"] for r in sub["routes"] for h in r["handle"]]
        by_name = {handler["handler"]: handler for handler in handlers}
        found.append((paths, by_name["request_body"], by_name["reverse_proxy"]))
    return found


def seconds(nanoseconds: int) -> float:
    return nanoseconds / 1e9


def test_every_route_balances_every_replica_and_passes_the_address_caddy_saw(adapted):  # type: ignore[no-untyped-def]
    compose = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    port = str(compose["services"]["linli"]["expose"][0])
    routes = site_routes(adapted)
    assert len(routes) == 2
    for _, _, proxy in routes:
        assert proxy["dynamic_upstreams"] == {
            "source": "a",
            "name": "linli",
            "port": port,
            "refresh": proxy["dynamic_upstreams"]["refresh"],
        }
        assert proxy["load_balancing"]["selection_policy"]["policy"] == "round_robin"
        assert proxy["health_checks"]["passive"]["fail_duration"] > 0
        # No client is trusted, so X-Forwarded-For is the address Caddy saw, nothing older.
        assert "trusted_proxies" not in proxy
        assert "headers" not in proxy


def test_body_limits_and_timeouts_fit_the_service_and_wechat(adapted):  # type: ignore[no-untyped-def]
    defaults = Settings.model_fields
    (callback_paths, callback_body, callback), (other_paths, body, other) = site_routes(adapted)
    assert defaults["callback_path"].default in callback_paths
    assert "/wecom/*" in callback_paths
    assert other_paths == []
    assert callback_body["max_size"] == defaults["max_body_bytes"].default
    # The largest bodies the service takes, with the form around them.
    assert body["max_size"] >= media_rules.MAX_BYTES + media_api.FORM_SLACK
    assert body["max_size"] >= sheets.MAX_BYTES + households_api.ENVELOPE
    # A push is given up when WeChat stops waiting, not before the service's own deadline.
    waited = seconds(callback["transport"]["response_header_timeout"])
    assert defaults["reply_deadline_seconds"].default < waited <= WECHAT_WINDOW_SECONDS
    assert seconds(callback["transport"]["dial_timeout"]) < 1.0
    assert seconds(callback["load_balancing"]["try_duration"]) < WECHAT_WINDOW_SECONDS
    assert seconds(other["transport"]["response_header_timeout"]) > waited


# --------------------------------------------------------------------------- processes


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_free_on(hosts: tuple[str, ...]) -> int:
    """A port free on every one of ``hosts`` (replicas share their port, as in compose)."""
    for _ in range(50):
        port = free_port(hosts[0])
        try:
            for host in hosts[1:]:
                with socket.socket() as sock:
                    sock.bind((host, port))
        except OSError:
            continue
        return port
    raise AssertionError(f"no port free on all of {hosts}")


def loopback_addresses_usable(*addresses: str) -> bool:
    """Whether this system lets a socket bind loopback addresses other than 127.0.0.1."""
    try:
        for address in addresses:
            with socket.socket() as sock:
                sock.bind((address, 0))
    except OSError:
        return False
    return True


@contextlib.contextmanager
def spawned(
    command: list[str], env: dict[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """``command`` running, its output in ``log``; stopped (killed at worst) on the way out."""
    with log.open("ab") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield proc
        finally:
            stop(proc)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(STOP_SECONDS)


def get(
    port: int,
    path: str,
    source: str | None = None,
    headers: dict[str, str] | None = None,
    host: str = "127.0.0.1",
) -> int:
    """The status of ``GET path`` on ``host:port``, sent from ``source`` if given."""
    connection = http.client.HTTPConnection(
        host, port, timeout=10, source_address=(source, 0) if source else None
    )
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def wait_healthy(
    proc: subprocess.Popen[bytes], port: int, log: Path, host: str = "127.0.0.1"
) -> None:
    """Until ``/healthz`` answers 200 (once) on ``host:port``; fails if ``proc`` exits first."""
    deadline = time.monotonic() + START_SECONDS
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"exited ({proc.returncode}):\n{log.read_text()[-4000:]}")
        with contextlib.suppress(OSError):
            if get(port, "/healthz", host=host) == 200:
                return
        if time.monotonic() > deadline:
            raise AssertionError(f"no /healthz in {START_SECONDS} s:\n{log.read_text()[-4000:]}")
        time.sleep(0.1)


def service_command(host: str, port: int) -> list[str]:
    return [sys.executable, "-m", "bot", "serve", "--host", host, "--port", str(port)]


def service_env(data_dir: Path) -> dict[str, str]:
    """The embedded defaults, believing X-Forwarded-For from 127.0.0.1 (the proxy) alone."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINLI_")}
    env.update(
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
        LINLI_DATA_DIR=str(data_dir),
        LINLI_TRUSTED_PROXIES="127.0.0.1",
        LINLI_API_RATE_PER_ADDRESS=str(PER_ADDRESS),
        LINLI_LOG_LEVEL="INFO",
    )
    return env


def proxy_env(
    home: Path, port: int, upstream: str, upstream_port: int, **values: str
) -> dict[str, str]:
    return caddy_env(
        home,
        LINLI_SITE_ADDRESS=f"http://127.0.0.1:{port}",
        LINLI_UPSTREAM=upstream,
        LINLI_UPSTREAM_PORT=str(upstream_port),
        LINLI_PROXY_ADMIN=f"localhost:{free_port()}",
        **values,
    )


# --------------------------------------------------------------------------- through the proxy


@pytest.fixture
def proxied(caddy, tmp_path) -> Iterator[int]:  # type: ignore[no-untyped-def]
    """One service behind Caddy running config/Caddyfile; the proxy's port."""
    if not loopback_addresses_usable(CLIENT, NEIGHBOUR):
        pytest.skip("this system binds no loopback address but 127.0.0.1")
    service_port, port = free_port(), free_port()
    service_log, caddy_log = tmp_path / "service.log", tmp_path / "caddy.log"
    with spawned(
        service_command("127.0.0.1", service_port), service_env(tmp_path / "data"), service_log
    ) as service:
        wait_healthy(service, service_port, service_log)
        env = proxy_env(tmp_path / "caddy", port, "127.0.0.1", service_port)
        with spawned(caddy_command(caddy, "run"), env, caddy_log) as proxy:
            wait_healthy(proxy, port, caddy_log)
            yield port


def clear_of_a_window_edge() -> None:
    """Limits count in fixed one-minute windows: start a count well inside one."""
    left = 60.0 - time.time() % 60.0
    if left < 10.0:
        time.sleep(left + 0.5)


def test_a_client_forging_x_forwarded_for_is_still_one_address(proxied):  # type: ignore[no-untyped-def]
    assert get(proxied, "/healthz") == 200
    clear_of_a_window_edge()
    statuses = [
        get(proxied, "/api/v1/me", CLIENT, {"X-Forwarded-For": f"203.0.113.{n}"})
        for n in range(1, PER_ADDRESS + 3)
    ]
    # A new made-up address every time, and still the allowance of one.
    assert 429 not in statuses[:PER_ADDRESS], statuses
    assert statuses[PER_ADDRESS:] == [429, 429], statuses
    # Another client behind the same proxy is another address: the service counts the one
    # Caddy saw, not Caddy's own.
    assert get(proxied, "/api/v1/me", NEIGHBOUR) != 429


# --------------------------------------------------------------------------- two replicas


def dns_answer(query: bytes, name: str, addresses: tuple[str, ...]) -> bytes:
    """The answer to one DNS query: ``name``'s A records are ``addresses``, no other name is."""
    ident, flags = struct.unpack("!HH", query[:4])
    labels, at = [], 12
    while query[at]:
        labels.append(query[at + 1 : at + 1 + query[at]].decode("ascii").lower())
        at += 1 + query[at]
    (qtype,) = struct.unpack("!H", query[at + 1 : at + 3])
    known = ".".join(labels) == name.rstrip(".")
    found = addresses if known and qtype == 1 else ()
    # QR, AA, RD as asked, RA; NXDOMAIN for a name we do not know.
    answer_flags = 0x8480 | (flags & 0x0100) | (0 if known else 3)
    header = struct.pack("!HHHHHH", ident, answer_flags, 1, len(found), 0, 0)
    records = b"".join(
        struct.pack("!HHHIH", 0xC00C, 1, 1, 5, 4) + socket.inet_aton(address) for address in found
    )
    return header + query[12 : at + 5] + records


@contextlib.contextmanager
def fake_dns(name: str, addresses: tuple[str, ...]) -> Iterator[int]:
    """A DNS server (UDP, 127.0.0.1) that knows one name, as Docker's knows the replicas."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    done = threading.Event()

    def serve() -> None:
        while not done.is_set():
            try:
                query, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            with contextlib.suppress(Exception):  # a query we cannot read goes unanswered
                sock.sendto(dns_answer(query, name, addresses), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(sock.getsockname()[1])
    finally:
        done.set()
        thread.join(5)
        sock.close()


def served(log: Path) -> int:
    """``/healthz`` requests a service has answered, from its access log."""
    return log.read_text(errors="replace").count(" GET /healthz 200 ")


def logged(logs: list[Path], total: int) -> list[int]:
    """Each log's count once they hold ``total`` together (a line follows its answer)."""
    deadline = time.monotonic() + 10
    while sum(counts := [served(log) for log in logs]) < total:
        assert time.monotonic() < deadline, f"logged {counts}, answered {total}"
        time.sleep(0.05)
    assert sum(counts) == total, counts
    return counts


def test_requests_are_spread_over_the_replicas_and_a_gone_one_is_passed_over(caddy, tmp_path):  # type: ignore[no-untyped-def]
    if not loopback_addresses_usable(*REPLICAS):
        pytest.skip("this system binds no loopback address but 127.0.0.1")
    service_port, port = port_free_on(REPLICAS), free_port()
    logs = [tmp_path / f"service-{host}.log" for host in REPLICAS]
    caddy_log = tmp_path / "caddy.log"
    with contextlib.ExitStack() as stack:
        dns_port = stack.enter_context(fake_dns(REPLICA_NAME, REPLICAS))
        services = [
            stack.enter_context(
                spawned(service_command(host, service_port), service_env(tmp_path / host), log)
            )
            for host, log in zip(REPLICAS, logs, strict=True)
        ]
        for host, service, log in zip(REPLICAS, services, logs, strict=True):
            wait_healthy(service, service_port, log, host)
        env = proxy_env(
            tmp_path / "caddy",
            port,
            REPLICA_NAME,
            service_port,
            # Caddy 2.6 asks a resolver over TCP unless told udp/.
            LINLI_UPSTREAM_RESOLVERS=f"resolvers udp/127.0.0.1:{dns_port}",
        )
        proxy = stack.enter_context(spawned(caddy_command(caddy, "run"), env, caddy_log))
        wait_healthy(proxy, port, caddy_log)

        # One /healthz each answered straight, and one through the proxy.
        before = logged(logs, len(REPLICAS) + 1)
        sent = 10
        assert [get(port, "/healthz") for _ in range(sent)] == [200] * sent
        after = logged(logs, len(REPLICAS) + 1 + sent)
        shares = [late - early for early, late in zip(before, after, strict=True)]
        # Round robin over both replicas' A records.
        assert sorted(shares) == [sent // 2, sent // 2], shares

        # One replica gone while DNS still names it: every request is answered by the other.
        stop(services[1])
        assert [get(port, "/healthz") for _ in range(sent)] == [200] * sent
