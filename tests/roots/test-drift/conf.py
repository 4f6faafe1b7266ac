extensions = ["sphinxext.codetrace"]
codetrace_repos = {"shop": {"path": "repo"}}
exclude_patterns = ["_build"]
