GITHUB_TOKEN = os.getenv("GITHUB_TOKEN")
PREFIXES = ("ghp_", "gho_", "ghu_", "ghs_", "ghr_")
