import os

# npm_config_* variables configure npm; the token is read at run time.
NPM_TOKEN = os.environ["NPM_TOKEN"]
npm_cache_dir = "/var/cache/npm_cache_for_builds_on_the_ci"
