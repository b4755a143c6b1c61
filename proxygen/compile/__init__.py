"""The compiler: declarations -> checked nginx config per host.

Python API (the CLI is one client of it):

    repo = load_repository(".")            # proxygen.model
    result = build(repo)                    # render + re-check in memory, raises on any problem
    report = write_build(result, "build")   # only changed files, atomically
    lines = diff_against_base(".", "origin/main")  # proxygen.compile.diff: what a change does, per host

Linting (rules with codes over declarations and generated config) is proxygen.lint.
"""
