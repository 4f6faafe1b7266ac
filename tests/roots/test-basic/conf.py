extensions = ["sphinxext.codetrace"]
codetrace_repos = {"app": {"path": "repo"}}
