extensions = ["myst_parser", "sphinxext.codetrace"]
codetrace_repos = {"flow": {"path": "repo", "url": "https://code.example.org/{commit}/{path}#L{line}",
                            "commit": "c0ffee"}}
