"""The pull-request stage: the GitHub API client (`github_api.py`, stdlib only) and the one
govops comment per pull request (`comment.py`). What the comment says is rendered by
`engine.report.pr_comment`, from what `engine.commands.pr_comment` gathers."""
