"""Compliance reports: counts per package, version, course and learner, and their exports.

No models: every number is a database aggregate over enrollments (whose stored
status is an exact cache of the requirement engine) and completion events.
"""
