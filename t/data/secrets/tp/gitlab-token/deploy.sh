#!/bin/sh
# deploy with the gitlab-token
export GITLAB_TOKEN="gl<CUT>pat-iGgJxM91fnCFoekR0AIA"
curl -s https://api.example.com/ping
