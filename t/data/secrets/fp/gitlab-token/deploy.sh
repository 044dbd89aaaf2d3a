#!/bin/sh
# Personal access tokens start with glpat-.
curl --header "PRIVATE-TOKEN: ${GITLAB_TOKEN}" https://gitlab.example.com/api/v4/projects
