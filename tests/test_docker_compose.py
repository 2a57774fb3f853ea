"""docker-compose.yml is checked without a Docker engine: every service, command line and variable.

Command lines are parsed with the real ``harness.cli`` parser, the app's environment is turned into
a real ``AppConfig``, and the addresses, ports and names the services use to find each other are
cross-checked, so a renamed flag or variable, or a port changed in one place only, fails here.
"""

from __future__ import annotations

import importlib.metadata
import ipaddress
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from conftest import require_tool
from harness import cli
from harness.scenario import builtin_scenarios, load_scenario
from sample_app.config import ENVIRONMENT as APP_ENVIRONMENT
from sample_app.config import AppConfig, endpoint_variable

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
POD = "service:toxiproxy"  # the network namespace shared by the harness, Toxiproxy and the app


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def parse(command: list[str]):
    assert command[0] == "chaos-harness", command
    return cli.build_parser().parse_args(command[1:])


def pod_address(services) -> str:
    return services["toxiproxy"]["networks"]["chaos"]["ipv4_address"]


def moto_server_args(services) -> tuple[str, int]:
    """(host, port) the moto service's ``moto_server`` listens on, from its entrypoint."""
    entrypoint = services["moto"]["entrypoint"]
    assert entrypoint[0] == "moto_server" and len(entrypoint) == 5, entrypoint
    flags = dict(zip(entrypoint[1::2], entrypoint[2::2]))
    assert set(flags) == {"-H", "-p"}, entrypoint
    return flags["-H"], int(flags["-p"])


def test_services_and_images(services):
    assert set(services) == {"toxiproxy", "moto", "harness", "app", "drill"}
    assert re.fullmatch(r"ghcr\.io/shopify/toxiproxy:\d+\.\d+\.\d+", services["toxiproxy"]["image"])
    tag = re.fullmatch(r"motoserver/moto:(\d+)\.\d+\.\d+", services["moto"]["image"])
    assert tag, services["moto"]["image"]  # the official image, pinned
    assert tag[1] == importlib.metadata.version("moto").split(".")[0]  # the major version the harness runs
    for name in ("harness", "app", "drill"):
        build = services[name]["build"]
        assert (ROOT / build["context"] / build["dockerfile"]).resolve() == ROOT / "Dockerfile"
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", dockerfile, re.M)
    assert re.search(r"^RUN pip install \. ", dockerfile, re.M)
    for package in ("harness", "faults", "sample_app"):  # what pyproject.toml installs
        assert re.search(rf"^COPY {package} ", dockerfile, re.M)


def test_static_address_network_and_dns(compose, services):
    subnet = ipaddress.ip_network(compose["networks"]["chaos"]["ipam"]["config"][0]["subnet"])
    address = pod_address(services)
    assert ipaddress.ip_address(address) in subnet
    toxiproxy = services["toxiproxy"]
    assert toxiproxy["dns"] == [address]  # the pod resolves through the harness DNS on its own address
    assert set(toxiproxy["networks"]["chaos"]["aliases"]) == {"harness", "app"}
    for name in ("harness", "app"):
        assert services[name]["network_mode"] == POD
        assert "networks" not in services[name] and "ports" not in services[name]
    assert services["drill"]["networks"] == ["chaos"]
    assert services["moto"]["networks"] == ["chaos"]  # reached by its service name from the pod
    assert all("ports" not in s for s in services.values())  # nothing published on the host


def test_harness_command(services):
    args = parse(services["harness"]["command"])
    assert args.command == "up" and args.scenario in builtin_scenarios()
    assert args.no_app  # the app runs as its own service
    assert args.bind == "0.0.0.0" and args.dns_port == 53 and args.dynamodb_port == 4566
    host, port = args.control.rsplit(":", 1)
    assert host == "0.0.0.0" and port == "8470" and args.expose_control
    token = services["harness"]["environment"]["CHAOS_HARNESS_TOKEN"]
    assert token and services["drill"]["environment"]["CHAOS_HARNESS_TOKEN"] == token
    toxiproxy_flags = dict(flag.lstrip("-").split("=", 1) for flag in services["toxiproxy"]["command"])
    assert args.toxiproxy_url == f"http://{toxiproxy_flags['host']}:{toxiproxy_flags['port']}"
    assert services["harness"]["depends_on"]["toxiproxy"]["condition"] == "service_healthy"
    health = parse(services["harness"]["healthcheck"]["test"][1:])
    assert health.command == "status" and health.harness_url == f"http://127.0.0.1:{port}"


def test_harness_uses_the_moto_service(services):
    args = parse(services["harness"]["command"])
    host, port = moto_server_args(services)
    assert host == "0.0.0.0"  # on the compose network, not just the container's loopback
    assert args.moto_url == f"http://moto:{port}"  # the service name, the port moto_server listens on
    assert services["harness"]["depends_on"]["moto"]["condition"] == "service_healthy"
    probe = " ".join(services["moto"]["healthcheck"]["test"])
    assert f"http://127.0.0.1:{port}/moto-api/config" in probe  # what the harness checks at start


def test_app_environment_builds_a_valid_config(services):
    harness = parse(services["harness"]["command"])
    app = services["app"]
    assert app["command"] == ["python", "-m", "sample_app"]
    env = {k: str(v) for k, v in app["environment"].items()}
    config = AppConfig.from_env(env)
    assert config.host == "0.0.0.0" and config.allow_non_loopback and config.port == 8080
    assert config.dns_server == ("127.0.0.1", harness.dns_port)  # the harness DNS, inside the pod
    setup = load_scenario(harness.scenario).setup
    assert set(config.regions) <= set(setup.regions)
    for region in config.regions:
        url = urlsplit(config.endpoints[region])
        assert url.hostname == f"dynamodb.{region}.amazonaws.com" and url.port == harness.dynamodb_port
        assert env[endpoint_variable(region)] == config.endpoints[region]
    assert "amazonaws.com" in config.dns_zones
    assert app["depends_on"]["harness"]["condition"] == "service_healthy"
    probe = " ".join(app["healthcheck"]["test"])
    assert f"127.0.0.1:{config.port}/healthz" in probe


def test_every_variable_is_one_the_code_reads(services):
    known = set(APP_ENVIRONMENT) | set(cli.ENVIRONMENT)
    endpoint = re.compile(r"CHAOS_APP_ENDPOINT_[A-Z0-9_]+")
    for name, service in services.items():
        for variable in service.get("environment", {}):
            assert variable in known or endpoint.fullmatch(variable), f"{name}: {variable} is read by nothing"


def test_drill_command_reaches_the_harness_and_the_app(services):
    drill = services["drill"]
    args = parse(drill["command"])
    assert args.command == "gate" and args.scenario in builtin_scenarios()
    harness = parse(services["harness"]["command"])
    assert args.scenario == harness.scenario  # the drill runs against the harness shaped for it
    aliases = services["toxiproxy"]["networks"]["chaos"]["aliases"]
    control, app = urlsplit(args.harness_url), urlsplit(args.app_url)
    assert control.hostname in aliases and str(control.port) == harness.control.rsplit(":", 1)[1]
    assert app.hostname in aliases and app.port == int(services["app"]["environment"]["CHAOS_APP_PORT"])
    source, target = drill["volumes"][0].split(":")
    assert source.startswith("./") and Path(target) == args.report_dir
    assert {k: v["condition"] for k, v in drill["depends_on"].items()} == {
        "harness": "service_healthy", "app": "service_healthy"}


def _compose_command() -> list[str]:
    """``docker compose`` (v2 plugin) when the client has it, else the standalone ``docker-compose``."""
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    return [require_tool("docker-compose")]


def test_docker_compose_config_accepts_the_file():
    """A real Compose implementation validates the file offline (no engine is needed for ``config``)."""
    done = subprocess.run([*_compose_command(), "-f", str(COMPOSE), "config", "--quiet"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


POD_SCRIPT = """\
set -e
ip link set lo up
{moto} > {tmp}/moto.out 2>&1 &
MOTO=$!
trap 'kill -TERM $HARNESS $APP $MOTO 2>/dev/null; wait' EXIT
# Readiness the way docker decides it: the service's own healthcheck command, retried.
until {moto_health} >/dev/null 2>&1; do kill -0 $MOTO; sleep 0.2; done
{harness} > {tmp}/harness.out 2>&1 &
HARNESS=$!
until {harness_health} >/dev/null 2>&1; do kill -0 $HARNESS; sleep 0.2; done
env {app_env} {app} > {tmp}/app.out 2>&1 &
APP=$!
until {app_health} 2>/dev/null; do kill -0 $APP; sleep 0.2; done
{drill}
"""


def test_the_pod_runs_the_compose_commands_in_a_network_namespace(services, tmp_path):
    """The moto, harness and app commands from the file, in one fresh network namespace (the pod), drilled.

    Differences from compose, so it runs here: a 10 s scenario instead of the 30 s one, the embedded
    Toxiproxy (no binary here), moto_server from this venv instead of its image, and every service
    inside the pod (URLs use 127.0.0.1, not service names or aliases; moto binds 127.0.0.1 too).
    """
    import shlex
    import sys

    require_tool("unshare"), require_tool("ip")
    bin_dir = Path(sys.executable).parent
    scenario = "dns-empty-answer"

    def line(command: list[str]) -> str:
        command = [str(bin_dir / c) if c in ("chaos-harness", "python", "moto_server") else c for c in command]
        return " ".join(shlex.quote(c) for c in command)

    moto = list(services["moto"]["entrypoint"])
    moto[moto.index("-H") + 1] = "127.0.0.1"
    harness = list(services["harness"]["command"])
    drop = harness.index("--toxiproxy-url")
    del harness[drop:drop + 2]
    harness[harness.index("--moto-url") + 1] = parse(harness).moto_url.replace("//moto:", "//127.0.0.1:")
    harness[harness.index(parse(harness).scenario)] = scenario
    drill = [c.replace("harness:", "127.0.0.1:").replace("app:", "127.0.0.1:") for c in services["drill"]["command"]]
    drill[drill.index(parse(drill).scenario)] = scenario
    drill[drill.index("/reports")] = str(tmp_path / "reports")
    app_env = {**services["app"]["environment"], "CHAOS_APP_PBKDF2_ITERATIONS": "1000"}
    script = POD_SCRIPT.format(
        moto=line(moto), moto_health=line(services["moto"]["healthcheck"]["test"][1:]),
        harness=line(harness), harness_health=line(services["harness"]["healthcheck"]["test"][1:]),
        app_env=" ".join(f"{k}={shlex.quote(str(v))}" for k, v in app_env.items()),
        app=line(services["app"]["command"]), app_health=line(services["app"]["healthcheck"]["test"][1:]),
        drill=line(drill), tmp=tmp_path,
    )
    done = subprocess.run(["unshare", "-rn", "sh", "-c", script], capture_output=True, text=True, timeout=120)
    logs = "".join(p.read_text() for p in sorted(tmp_path.glob("*.out")))
    assert done.returncode == 0, done.stdout + done.stderr + logs
    assert "PASS  lost_writes" in done.stdout
    moto_url = parse(harness).moto_url
    assert re.search(rf"^moto +{re.escape(moto_url)} \(external", (tmp_path / "harness.out").read_text(), re.M)
    assert '"POST / HTTP/1.1" 200' in (tmp_path / "moto.out").read_text()  # the data went through the moto server
    assert (tmp_path / "reports" / f"{scenario}.junit.xml").exists()
