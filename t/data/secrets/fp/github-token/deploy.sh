#!/bin/sh
# GitHub tokens start with ghp_, gho_, ghu_, ghs_ or ghr_.
export GITHUB_TOKEN="${GITHUB_TOKEN:?set GITHUB_TOKEN}"
git clone "https://x-access-token:${GITHUB_TOKEN}@github.com/acme/app.git"
