"""`nbgrader export` run on a grading folder (its nbgrader_config.py selects this plugin): nbgrader's CSV, with
the same scores as grades.csv. Stock nbgrader writes 0 for a student with no submission and for a submission
nothing of which could be graded; here their score is empty, never a silent 0. The student's real id (which may
be Unicode or an LMS number) is added as `lms_user_id`."""
from __future__ import annotations

import csv

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.plugins.export import CsvExportPlugin

# not grades.csv: nbgrader writes into the folder it runs in, which is where the grader keeps its own grades.csv
EXPORT_FILE = "nbgrader_export.csv"
COLUMNS = ["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name", "email", "raw_score",
           "late_submission_penalty", "score", "max_score", "lms_user_id"]


def _graded_anything(submission) -> bool:
    return any(g.auto_score is not None or g.manual_score is not None
               for nb in submission.notebooks for g in nb.grades)


class GradesCsvExport(CsvExportPlugin):
    """nbgrader's CSV exporter, with an empty score where nothing was graded (see the module's docstring)."""

    def export(self, gradebook: Gradebook) -> None:
        dest = self.to or EXPORT_FILE
        students = {str(s) for s in self.student}
        assignments = {str(a) for a in self.assignment}
        self.log.info("Exporting grades to %s", dest)
        with open(dest, "w", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(COLUMNS)
            for assignment in gradebook.assignments:
                if assignments and assignment.name not in assignments:
                    continue
                for student in gradebook.students:
                    if students and student.id not in students:
                        continue
                    try:
                        sub = gradebook.find_submission(assignment.name, student.id)
                    except MissingEntry:
                        sub = None
                    graded = sub is not None and _graded_anything(sub)
                    penalty = sub.late_submission_penalty if sub is not None else None
                    row = [assignment.name, assignment.duedate, sub.timestamp if sub is not None else None,
                           student.id, student.last_name, student.first_name, student.email,
                           sub.score if graded else None, penalty,
                           max(0.0, sub.score - (penalty or 0.0)) if graded else None,
                           assignment.max_score, student.lms_user_id]
                    writer.writerow(["" if v is None else v for v in row])
