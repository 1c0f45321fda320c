"""nbgrader configuration of every user of the course's hub: one course and the shared exchange.

The hub sets COURSE_HUB_* in each user's server (see deploy/jupyterhub/hub.py); roles/instructor/ adds the
course directory for instructors.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # course_exchange.py beside this file
from course_exchange import ExchangeSubmitWholeOrNothing  # noqa: E402

c = get_config()  # noqa: F821 (provided by traitlets when it loads this file)

c.CourseDirectory.course_id = os.environ["COURSE_HUB_COURSE_ID"]
c.Exchange.root = os.environ["COURSE_HUB_EXCHANGE"]
c.Exchange.timezone = "UTC"
c.ExchangeFactory.submit = ExchangeSubmitWholeOrNothing  # a failed submit leaves no partial copy behind
c.NbGrader.logfile = ""
