"""nbgrader configuration of the course: instructors' source in solutions/, the student release in exercises/.

Loaded by `python -m grading release`, by `python -m grading lab` (grading/ is on JUPYTER_CONFIG_PATH, where the
Validate button and formgrader look for it) and by any nbgrader command given `--config grading/nbgrader_config.py`.
"""
import os

c = get_config()  # noqa: F821 (provided by traitlets when it loads this file)

c.CourseDirectory.root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
c.CourseDirectory.course_id = "torch-ground-up"
# No log file in the course root.
c.NbGrader.logfile = ""
# Notebooks import torch on their first cell; allow a slow start on a loaded machine.
c.Execute.timeout = 120
