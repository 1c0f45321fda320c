"""nbgrader's exchange as the course's hub uses it: a submission is in the inbound whole or not at all.

Stock `nbgrader submit` copies the student's folder into the exchange's inbound and, when the copy fails half-way
(the exchange's disk is full, a quota), leaves the partial copy there, where `nbgrader collect` later takes it
for the student's latest submission. Here a failed copy is removed and the student is told, in the Assignments
tab's dialog, that nothing was submitted and that their work is still in their home.
"""
import errno
import os
import shutil

from nbgrader.exchange.default.submit import ExchangeSubmit


class ExchangeSubmitWholeOrNothing(ExchangeSubmit):
    def copy_files(self):
        try:
            super().copy_files()
        except OSError as exc:
            partial = os.path.join(self.inbound_path, self.assignment_filename)
            shutil.rmtree(partial, ignore_errors=True)
            self.fail(f"{self.coursedir.assignment_id} was NOT submitted: {_why(exc)}. Nothing was lost: your "
                      "notebooks are still in your home folder. Tell your instructor, and submit again once they "
                      "have made room.")


def _why(exc: OSError) -> str:
    """'the exchange is full (...)' for a full disk or quota, else the error itself. shutil.copytree gathers the
    errors of each file into one shutil.Error, whose text holds their errno."""
    for code in (errno.ENOSPC, errno.EDQUOT):
        if exc.errno == code or f"[Errno {code}]" in str(exc):
            return f"the exchange is full ({os.strerror(code)})"
    return str(exc)
