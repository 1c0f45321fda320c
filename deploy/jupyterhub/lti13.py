"""LTI 1.3 logins from the LMS (jupyterhub-ltiauthenticator), carrying the user's course role.

`configure(c, settings)` switches the hub to LTI 1.3 when hub.py got --lti13-issuer (COURSE_HUB_LTI13_*): the
LMS starts the login at /hub/lti13/oauth_login, the hub sends the browser to the platform's authorize URL, and
the platform posts back a signed id_token to /hub/lti13/oauth_callback, which the hub checks against the
platform's published keys (jwks_endpoint) before logging the user in. The user name comes from the custom claim
`username` (set in the LMS's tool configuration: deploy/README.md); members whose LTI roles include Instructor or
TeachingAssistant join the hub group `instructors` (jupyterhub_config.role_of reads it).
"""
from __future__ import annotations

from ltiauthenticator.lti13.auth import LTI13Authenticator

ROLES_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/roles"
# LIS role URIs end in #Instructor, #TeachingAssistant, ...; both context and institution roles count
INSTRUCTOR_ROLES = ("Instructor", "TeachingAssistant")
HUB_GROUP = "instructors"


class CourseLTI13Authenticator(LTI13Authenticator):
    """LTI 1.3 launches; an instructor or TA of the LMS course is in the hub group `instructors`."""

    async def authenticate(self, handler, data=None):
        user = await super().authenticate(handler, data)
        user["groups"] = [HUB_GROUP] if is_instructor((data or {}).get(ROLES_CLAIM, [])) else []
        return user


def is_instructor(roles) -> bool:
    return any(str(role).rsplit("#", 1)[-1].rsplit("/", 1)[-1] in INSTRUCTOR_ROLES for role in roles)


def configure(c, settings) -> None:
    """Make the hub `c` log users in with LTI 1.3 from the platform named in `settings`."""
    c.JupyterHub.authenticator_class = CourseLTI13Authenticator
    c.Authenticator.manage_groups = True  # groups come from each launch
    c.Authenticator.allow_all = True  # whoever the LMS launches (it decides who is in the course)
    c.CourseLTI13Authenticator.issuer = settings.lti13_issuer
    c.CourseLTI13Authenticator.client_id = set(settings.lti13_client_id.split(","))
    c.CourseLTI13Authenticator.authorize_url = settings.lti13_authorize_url
    c.CourseLTI13Authenticator.jwks_endpoint = settings.lti13_jwks_endpoint
    c.CourseLTI13Authenticator.username_key = "custom_username"
    c.CourseLTI13Authenticator.tool_name = f"{settings.course_id} (JupyterHub)"
    c.CourseLTI13Authenticator.tool_description = "PyTorch from the ground up: notebooks and graded exercises"
