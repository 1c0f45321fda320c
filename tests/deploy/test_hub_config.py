"""The hub's configuration without a class: hub.py's settings and checks, what each role's server loads, the
Kubernetes values, and LTI 1.3 logins on a real hub (a local stand-in for the LMS signs the launches)."""
from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from grading.lab import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "deploy" / "jupyterhub"))
from hub import PROXY, HubSettings, NotReady, check_machine, hub_command, parse_args, user_environment  # noqa: E402

VALUES = REPO_ROOT / "deploy" / "kubernetes" / "values.yaml"


# --- hub.py -------------------------------------------------------------------------------------------------------
def test_settings_travel_through_the_environment():
    settings = HubSettings(port=9123, course_dir=Path("/x/course"), instructors="teachers",
                           lti13_issuer="https://lms.example", lti13_client_id="a,b")
    env = settings.to_env()
    assert env["COURSE_HUB_PORT"] == "9123" and env["COURSE_HUB_COURSE_DIR"] == "/x/course"
    assert HubSettings.from_env(env) == settings
    assert HubSettings.from_env({}) == HubSettings()


def test_command_line_gives_the_settings_and_refuses_half_an_lti_setup(capsys):
    _args, settings = parse_args(["--port", "8100", "--exchange", "/e", "--students", "class"])
    assert (settings.port, settings.hub_api_port, settings.proxy_api_port) == (8100, 8101, 8102)
    assert (settings.exchange, settings.students) == (Path("/e"), "class")
    with pytest.raises(SystemExit):
        parse_args(["--lti13-issuer", "https://lms.example"])
    err = capsys.readouterr().err
    assert "--lti13-issuer needs --lti13-client-id, --lti13-authorize-url, --lti13-jwks-endpoint too" in err


@pytest.mark.skipif(os.geteuid() != 0, reason="hub.py's machine checks past the first one need root")
def test_machine_check_names_the_missing_group_and_the_taken_port():
    if not os.access(PROXY, os.X_OK):
        pytest.skip(f"configurable-http-proxy is not installed at {PROXY}: `make hub-proxy`")
    with pytest.raises(NotReady, match="there is no system group 'no-such-group-x1'.*groupadd no-such-group-x1"):
        check_machine(HubSettings(instructors="no-such-group-x1", students="root"), ports=False)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1] - 1  # the hub's API port (P+1) is the taken one
        with pytest.raises(NotReady, match=f"port {port + 1} is taken"):
            check_machine(HubSettings(port=port, instructors="root", students="root"))


# --- what each role's server loads --------------------------------------------------------------------------------
_LOADS = """
import json
from jupyter_core.paths import jupyter_config_path
from jupyter_server.serverapp import ServerApp
from jupyterlab_server.config import get_page_config
from jupyter_core.paths import jupyter_path
from nbgrader.apps import NbGrader
server = ServerApp()
server.load_config_file()
nb = NbGrader()
nb.load_config_file()
page = get_page_config(jupyter_path("labextensions"))
disabled = page.get("disabledExtensions", [])
disabled = sorted(k for k, v in disabled.items() if v) if isinstance(disabled, dict) else sorted(disabled)
c = nb.config
print(json.dumps({
    "extensions": {k.rsplit(".", 1)[-1]: v for k, v in server.config.ServerApp.jpserver_extensions.items()
                   if k.startswith("nbgrader")},
    "disabled": [d for d in disabled if d.startswith("@jupyter/nbgrader")],
    "news_url": server.config.LabApp.get("news_url", "unset"),
    "course_id": c.CourseDirectory.course_id, "exchange": c.Exchange.root,
    "root": c.CourseDirectory.get("root"), "groupshared": c.CourseDirectory.get("groupshared", False),
    "submit": getattr(c.ExchangeFactory.get("submit"), "__name__", None),
}))
"""


def loaded_config(role: str, tmp_path) -> dict:
    settings = HubSettings(course_dir=tmp_path / "course", exchange=tmp_path / "exchange")
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "home-jupyter"), **user_environment(settings, role)}
    out = subprocess.run([sys.executable, "-c", _LOADS], env=env, cwd=tmp_path, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_students_server_has_the_assignment_list_and_no_formgrader(tmp_path):
    got = loaded_config("student", tmp_path)
    assert got["extensions"] == {"assignment_list": True, "validate_assignment": True, "course_list": False,
                                 "formgrader": False}
    assert got["disabled"] == ["@jupyter/nbgrader:course-list", "@jupyter/nbgrader:create-assignment",
                               "@jupyter/nbgrader:formgrader"]
    assert (got["course_id"], got["exchange"]) == ("torch-ground-up", str(tmp_path / "exchange"))
    assert got["root"] is None, "a student's nbgrader works in their home, not in the course directory"
    assert got["submit"] == "ExchangeSubmitWholeOrNothing" and got["news_url"] is None


def test_an_instructors_server_has_formgrader_on_the_shared_course_directory(tmp_path):
    got = loaded_config("instructor", tmp_path)
    assert got["extensions"] == {"assignment_list": True, "validate_assignment": True, "course_list": True,
                                 "formgrader": True}
    assert got["disabled"] == []
    assert (got["root"], got["groupshared"]) == (str(tmp_path / "course"), True)
    assert got["exchange"] == str(tmp_path / "exchange")


# --- Kubernetes ----------------------------------------------------------------------------------------------------
def test_kubernetes_values_are_a_zero_to_jupyterhub_configuration():
    values = yaml.safe_load(VALUES.read_text())
    assert values["hub"]["config"]["JupyterHub"]["authenticator_class"].endswith("CourseLTI13Authenticator")
    for name, snippet in values["hub"]["extraConfig"].items():
        compile(snippet, f"values.yaml hub.extraConfig.{name}", "exec")  # the hub runs these as Python
    singleuser = values["singleuser"]
    assert singleuser["cmd"] == "jupyterhub-singleuser" and singleuser["defaultUrl"] == "/lab"
    env_names = set(singleuser["extraEnv"])
    assert env_names <= set(HubSettings().to_env()) | {"PYTHONPATH"}, env_names - set(HubSettings().to_env())
    mounts = {m["mountPath"] for m in singleuser["storage"]["extraVolumeMounts"]}
    assert singleuser["extraEnv"]["COURSE_HUB_EXCHANGE"] in mounts, "the exchange must be on the shared volume"
    dockerfile = (REPO_ROOT / "deploy" / "kubernetes" / "Dockerfile").read_text()
    assert "solutions" in dockerfile and "rm -rf solutions" in dockerfile.replace("\\\n", " ")


# --- LTI 1.3 on a real hub ----------------------------------------------------------------------------------------
class Platform:
    """A stand-in for the LMS: publishes its public key (JWKS) on localhost and signs launches with it."""

    def __init__(self):
        from cryptography.hazmat.primitives.asymmetric import rsa
        from jwt.algorithms import RSAAlgorithm

        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update(kid="course-test-key", alg="RS256", use="sig")
        body = json.dumps({"keys": [jwk]}).encode()

        class Keys(BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Keys)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def launch(self, client_id: str, nonce: str, username: str, roles: list[str], key=None) -> str:
        import jwt

        now = int(time.time())
        claims = {
            "iss": self.url, "aud": client_id, "sub": f"lms-{username}", "iat": now, "exp": now + 300,
            "nonce": nonce,
            "https://purl.imsglobal.org/spec/lti/claim/message_type": "LtiResourceLinkRequest",
            "https://purl.imsglobal.org/spec/lti/claim/version": "1.3.0",
            "https://purl.imsglobal.org/spec/lti/claim/deployment_id": "deployment-1",
            "https://purl.imsglobal.org/spec/lti/claim/target_link_uri": "http://127.0.0.1/hub/lti13/oauth_callback",
            "https://purl.imsglobal.org/spec/lti/claim/resource_link": {"id": "week-6"},
            "https://purl.imsglobal.org/spec/lti/claim/roles": roles,
            "https://purl.imsglobal.org/spec/lti/claim/custom": {"username": username},
        }
        return jwt.encode(claims, key or self.key, algorithm="RS256", headers={"kid": "course-test-key"})

    def close(self):
        self.server.shutdown()


@pytest.fixture
def lti_hub(tmp_path):
    """A real hub (hub.py's command line and jupyterhub_config.py) logging users in with LTI 1.3."""
    if not os.access(PROXY, os.X_OK):
        pytest.skip(f"configurable-http-proxy is not installed at {PROXY}: `make hub-proxy` (needs npm)")
    from class_hub import _free_port_trio

    platform = Platform()
    settings = HubSettings(port=_free_port_trio(), state_dir=tmp_path, lti13_issuer=platform.url,
                           lti13_client_id="course-tool", lti13_authorize_url=f"{platform.url}/authorize",
                           lti13_jwks_endpoint=f"{platform.url}/jwks", instructors="root", students="root")
    argv, env = hub_command(settings)
    with open(tmp_path / "hub.log", "wb") as log:
        proc = subprocess.Popen(argv, env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    url = f"http://127.0.0.1:{settings.port}"
    try:
        import requests

        for _ in range(300):
            assert proc.poll() is None, (tmp_path / "hub.log").read_text()[-3000:]
            with contextlib.suppress(requests.ConnectionError):
                if requests.get(f"{url}/hub/api", timeout=2).status_code == 200:
                    break
            time.sleep(0.3)
        yield url, platform
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(30)
        platform.close()


def test_lti13_login_config_and_launch_on_a_real_hub(lti_hub):
    import requests
    from cryptography.hazmat.primitives.asymmetric import rsa

    url, platform = lti_hub
    config = requests.get(f"{url}/hub/lti13/config", timeout=10)
    assert config.status_code == 200, config.text
    tool = config.json()
    assert tool["title"] == "torch-ground-up (JupyterHub)"
    assert tool["oidc_initiation_url"].endswith("/hub/lti13/oauth_login")
    assert tool["target_link_uri"].rstrip("/") == url, tool

    def launch(username, roles, key=None):
        """The LMS's three steps: login initiation, the platform's redirect, the signed id_token posted back."""
        browser = requests.Session()
        start = browser.post(f"{url}/hub/lti13/oauth_login", allow_redirects=False, timeout=10, data={
            "iss": platform.url, "login_hint": username, "client_id": "course-tool",
            "target_link_uri": f"{url}/hub/lti13/oauth_callback", "lti_message_hint": "week-6"})
        assert start.status_code == 302, start.text
        to_platform = urllib.parse.urlparse(start.headers["Location"])
        query = dict(urllib.parse.parse_qsl(to_platform.query))
        assert f"{to_platform.scheme}://{to_platform.netloc}{to_platform.path}" == f"{platform.url}/authorize"
        assert (query["client_id"], query["login_hint"], query["response_type"]) == ("course-tool", username,
                                                                                     "id_token")
        token = platform.launch("course-tool", query["nonce"], username, roles, key)
        back = browser.post(f"{url}/hub/lti13/oauth_callback", allow_redirects=False, timeout=30,
                            data={"id_token": token, "state": query["state"]})
        return browser, back

    teacher_role = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
    student_role = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
    browser, back = launch("ian", [teacher_role])
    assert back.status_code == 302, back.text[-2000:]
    me = browser.get(f"{url}/hub/api/user", timeout=10, headers={"Referer": f"{url}/hub/"})
    assert me.status_code == 200, me.text
    assert (me.json()["name"], me.json()["groups"]) == ("ian", ["instructors"])

    browser, back = launch("alice", [student_role])
    assert back.status_code == 302
    assert browser.get(f"{url}/hub/api/user", timeout=10).json()["groups"] == []

    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    _browser, back = launch("mallory", [teacher_role], key=forger)
    assert back.status_code == 400 and "Signature verification failed" in back.text, back.text[-2000:]
