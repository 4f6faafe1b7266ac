extensions = ["myst_parser", "sphinxext.codetrace"]
codetrace_repos = {"relay": {"path": "repo"}}  # the test copies tests/fixtures/relayrepo here
exclude_patterns = ["repo"]
