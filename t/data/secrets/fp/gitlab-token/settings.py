GITLAB_TOKEN = os.environ.get("GITLAB_TOKEN", "")
