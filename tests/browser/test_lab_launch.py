"""`python -m grading lab`'s launch logic, without a browser: the command line Jupyter parses, the nbgrader
configuration the Validate button loads, and the check that nbgrader's JupyterLab extension is enabled."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from grading.lab import NBGRADER_SERVER_EXTENSIONS, REPO_ROOT, lab_launch, main, nbgrader_labextension_problem


def parsed_config(argv: list[str]):
    """The traitlets config JupyterLab's server builds from this command line (`python -m jupyterlab ...`)."""
    from jupyter_server.serverapp import ServerApp

    assert argv[1:3] == ["-m", "jupyterlab"]
    app = ServerApp()
    app.parse_command_line(argv[3:])
    return app.config


def test_command_line_serves_the_repository_and_opens_the_course():
    launch = lab_launch(8123, token="t0k3n", open_browser=False, extra_args=["--ServerApp.ip=0.0.0.0"])
    config = parsed_config(launch.argv)
    assert config.ServerApp.root_dir == str(REPO_ROOT) and launch.cwd == REPO_ROOT
    assert config.LabApp.default_url == "/lab/tree/course"
    assert (config.ServerApp.port, config.ServerApp.open_browser, config.IdentityProvider.token) == (8123, False,
                                                                                                  "t0k3n")
    assert config.ServerApp.ip == "0.0.0.0", "extra arguments come last and override the defaults"
    assert config.ServerApp.jpserver_extensions == {name: True for name in NBGRADER_SERVER_EXTENSIONS}
    assert config.ServerApp.get("allow_root", False) == (os.geteuid() == 0)
    assert launch.url == "http://127.0.0.1:8123/lab/tree/course?token=t0k3n"


def test_command_line_never_reaches_the_internet():
    from jupyterlab import NeverCheckForUpdate
    from jupyterlab.labapp import LabApp

    lab = LabApp(config=parsed_config(lab_launch().argv))
    assert lab.news_url is None
    assert lab.check_for_updates_class is NeverCheckForUpdate


def test_alias_in_extra_arguments_replaces_the_default():
    config = parsed_config(lab_launch(extra_args=["--port", "9999", "--ip=0.0.0.0"]).argv)
    assert (config.ServerApp.port, config.ServerApp.ip) == (9999, "0.0.0.0")


# Loads nbgrader's config as its Validate and assignment-list handlers do on each request, once for each value of
# JUPYTER_CONFIG_PATH given in argv[1] (null: unset); prints what CourseDirectory each one sees.
_LOAD_AS_VALIDATE_DOES = """
import json, os, sys
from nbgrader.apps import NbGrader
seen = []
for config_path in json.loads(sys.argv[1]):
    os.environ.pop("JUPYTER_CONFIG_PATH", None)
    if config_path is not None:
        os.environ["JUPYTER_CONFIG_PATH"] = config_path
    app = NbGrader()
    app.load_config_file()
    c = app.config.CourseDirectory
    seen.append([c.get("root"), c.get("source_directory"), c.get("release_directory")])
print(json.dumps(seen))
"""


def test_validate_button_finds_the_course_configuration(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "JUPYTER_CONFIG_PATH"}
    env["JUPYTER_CONFIG_DIR"] = str(tmp_path)  # nothing from ~/.jupyter
    with_lab = lab_launch(env=env).env["JUPYTER_CONFIG_PATH"]
    # run from another folder: the handlers look in the server's cwd first, then on the Jupyter config path
    out = subprocess.run([sys.executable, "-c", _LOAD_AS_VALIDATE_DOES, json.dumps([with_lab, None])], env=env,
                         cwd=tmp_path, capture_output=True, text=True, check=True, timeout=120).stdout
    seen_with_lab, seen_without = json.loads(out.strip().splitlines()[-1])
    assert seen_with_lab == [str(REPO_ROOT), "solutions", "exercises"]
    assert seen_without == [None, None, None], "negative control: without lab_launch's environment, no course config"


def test_labextension_check_names_the_fix_when_validate_is_disabled(tmp_path):
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp_path))
    assert nbgrader_labextension_problem(env) is None
    (tmp_path / "labconfig").mkdir()
    (tmp_path / "labconfig" / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {"@jupyter/nbgrader:validate-assignment": True}}))
    problem = nbgrader_labextension_problem(env)
    assert problem and "@jupyter/nbgrader:validate-assignment" in problem
    assert "jupyter labextension enable @jupyter/nbgrader" in problem


@pytest.mark.parametrize("port", ["0", "70000"])
def test_lab_rejects_a_port_out_of_range(port, capsys):
    assert main(["--port", port, "--no-browser"]) == 2
    assert f"--port must be between 1 and 65535, got {port}" in capsys.readouterr().err
