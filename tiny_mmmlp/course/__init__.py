"""A course kit: assignments made from the reference, and an autograder.

    python -m tiny_mmmlp.course new DIR      a student copy with the exercises' bodies emptied
    python -m tiny_mmmlp.course grade DIR    check each exercise against the installed reference
    python -m tiny_mmmlp.course solve DIR --exercise K | --all

- ``exercises``: the one table of exercises (module, function, points, tutorial, hint)
- ``stubs``: emptying and restoring a function's body in source text, with ``ast``
- ``kit``: writing a kit, reading its ``course.json``, restoring bodies
- ``checks``, ``checks_triton``: how each exercise is checked (Hypothesis, numeric gradients)
- ``worker``: grades one exercise in a process of its own; ``grade``: runs them, the table
"""
