#!/bin/sh
# Fine-grained tokens begin with github_pat_ and are 93 characters long.
export GH_PAT="${GH_PAT}"
