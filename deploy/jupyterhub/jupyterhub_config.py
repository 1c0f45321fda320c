"""JupyterHub configuration of the course on one machine (started by deploy/jupyterhub/hub.py, i.e. `make hub`).

- Logins: system accounts and their passwords (PAM); only members of the instructors' and students' groups.
- Servers: each user's own JupyterLab, started as that user by the local process spawner, from the course's
  .venv (so every kernel is the course's pinned environment), in the user's home.
- Roles: the user's Jupyter config path is roles/<role>/ then roles/common/: students get nbgrader's
  Assignments tab and Validate button only, in their home; instructors also formgrader and the course list,
  with their server (and nbgrader) on the shared course directory. Users' own ~/.jupyter config is ignored (disable_user_config).
- Restarts: the hub keeps its state in the state folder and leaves users' servers running when it stops, so a
  restart loses no login, server, submission or grade.

The values (ports, folders, groups, course id) come from COURSE_HUB_* variables: see hub.HubSettings.
"""
import grp
import pwd
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from hub import PROXY, REPO, HubSettings, user_environment  # noqa: E402

c = get_config()  # noqa: F821 (provided by traitlets when it loads this file)
settings = HubSettings.from_env()
state = settings.state_dir

# --- the hub and its proxy --------------------------------------------------------------------------------------
c.JupyterHub.bind_url = f"http://{settings.ip}:{settings.port}/"
c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{settings.hub_api_port}"
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{settings.proxy_api_port}"
c.ConfigurableHTTPProxy.command = [str(PROXY)]
c.ConfigurableHTTPProxy.pid_file = str(state / "proxy.pid")
c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(state / "jupyterhub.pid")
c.JupyterHub.cleanup_servers = False  # a hub restart leaves every student's server (and kernel) running
c.JupyterHub.shutdown_on_logout = False

# --- who may log in ---------------------------------------------------------------------------------------------
c.JupyterHub.authenticator_class = "pam"
c.LocalAuthenticator.allowed_groups = {settings.instructors, settings.students}
c.PAMAuthenticator.open_sessions = False  # no systemd/utmp sessions for web logins
if settings.lti13_issuer:  # or from the LMS, with LTI 1.3 (the user names must still be system accounts here)
    import lti13

    lti13.configure(c, settings)

# --- each user's server -----------------------------------------------------------------------------------------
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [str(REPO / ".venv" / "bin" / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
c.Spawner.disable_user_config = True
c.Spawner.start_timeout = 180  # JupyterLab and torch start slowly on a busy two-core machine
c.Spawner.http_timeout = 180


def role_of(user) -> str:
    """'instructor' for members of the instructors' system group (or of the hub group `instructors`, which LTI
    launches fill), else 'student'."""
    group = grp.getgrnam(settings.instructors)
    try:
        primary = pwd.getpwnam(user.name).pw_gid == group.gr_gid
    except KeyError:
        primary = False
    in_hub_group = "instructors" in {g.name for g in user.groups}
    return "instructor" if primary or user.name in group.gr_mem or in_hub_group else "student"


def give_role(spawner) -> None:
    """Start the server with the user's role's environment (formgrader or not, the course directory or not), in
    a home only its owner can read (useradd's default mode lets other users read it). An instructor's server
    opens on the course directory: formgrader serves only a course directory inside the server's root."""
    role = role_of(spawner.user)
    spawner.environment = {**spawner.environment, **user_environment(settings, role)}
    if role == "instructor":
        spawner.notebook_dir = str(settings.course_dir)
    home = Path(pwd.getpwnam(spawner.user.name).pw_dir)
    if home.is_dir() and home.stat().st_mode & 0o077:
        spawner.log.info("closing %s to other users (mode %o -> 700)", home, home.stat().st_mode & 0o777)
        home.chmod(0o700)
    spawner.log.info("starting %s's server as %s", spawner.user.name, role)


c.Spawner.pre_spawn_hook = give_role
