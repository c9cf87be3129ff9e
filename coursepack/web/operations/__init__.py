"""The operations pages: enrol and withdraw, record and void completions, a
learner's progress, the learner's own "My training", and people and access.

Thin like every page: parse the form, call a selector or a service, render.
"""
