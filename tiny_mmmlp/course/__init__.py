"""A course kit: assignments made from the reference, and an autograder.

    python -m tiny_mmmlp.course new DIR          a student copy with the exercises' bodies emptied
    python -I -m tiny_mmmlp.course grade DIR --exercises 1-10
                                                 check each exercise against the installed reference
    python -I -m tiny_mmmlp.course grade SUBMISSIONS --gradebook grades.csv --config course.toml
                                                 a class at once: a CSV gradebook and a report per student
    python -m tiny_mmmlp.course solve DIR --exercise K | --all
    python -m tiny_mmmlp.course gradescope-zip autograder.zip

- ``exercises``: the one table of exercises (module, function, points, tutorial, hint)
- ``stubs``: emptying and restoring a function's body in source text, with ``ast``
- ``kit``: writing a kit and its README, restoring bodies; ``manifest``: reading course.json
- ``grade``: the trusted parent: draws the cases (``problems``), judges the answers
  (``checks``, ``checks_triton``), seals its own files (``seal``) and writes the report
  (``report``, ``flags``); ``settings``: the instructor's ``course.toml``; ``gradebook``: a
  class at once; ``autograder``: the Gradescope archive
- ``child``, ``child_triton``: the untrusted child that runs one exercise of the kit's copy
  (``staging``) and sends back plain arrays (``plain``); ``processes``: its process group,
  limits and clean-up; ``confine``: its user, Landlock and process limit
Only ``grade`` (and what it imports) needs Hypothesis.
"""
