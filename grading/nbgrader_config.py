"""nbgrader configuration of the course: instructors' source in solutions/, the student release in exercises/.

Loaded by `python -m grading release`, by `python -m grading lab` (grading/ is on JUPYTER_CONFIG_PATH, where the
Validate button looks for it), by `python -m grading grade` (for the course id of its gradebook) and by any nbgrader
command run from the repository root with `--NbGrader.config_file=grading/nbgrader_config` (without `.py`: nbgrader
appends it; given the `.py` it loads this file too but warns "No nbgrader_config.py file found").
Grading folders (`grade --out DIR`) get their own DIR/nbgrader_config.py, with this course id.
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
