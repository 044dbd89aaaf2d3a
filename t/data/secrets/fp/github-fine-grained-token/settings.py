TOKEN_PREFIX = "github_pat_"
