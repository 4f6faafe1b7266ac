import os

extensions = ["sphinxext.codetrace"]
codetrace_repos = {
    "app": {"path": "repo"},
    # declared, not checked out: the path comes from a variable that is never set in the tests
    "far": {"path": os.environ.get("CODETRACE_TEST_NEVER_SET"), "env": "CODETRACE_TEST_NEVER_SET"},
    "bare": {"path": ""},
}
