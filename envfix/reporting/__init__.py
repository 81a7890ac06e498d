"""The report stage: a blocking error, ready to paste into a course-forum post."""
