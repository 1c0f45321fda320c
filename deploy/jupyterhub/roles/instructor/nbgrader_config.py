"""nbgrader configuration of the course's instructors on the hub: the course directory they share.

solutions/ is nbgrader's source and exercises/ its release (the same names as in the repository, so
`python -m grading grade --course DIR` reads them); submitted/, autograded/, feedback/ and gradebook.db live
beside them. groupshared: everything nbgrader writes stays readable and writable by the instructors' group.
"""
import os

c = get_config()  # noqa: F821 (provided by traitlets when it loads this file)

c.CourseDirectory.root = os.environ["COURSE_HUB_COURSE_DIR"]
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
c.CourseDirectory.groupshared = True
c.Execute.timeout = 120
