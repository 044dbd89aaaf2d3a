#!/bin/sh
# deploy with the github-token
export GITHUB_TOKEN="gh<CUT>p_RDB5W2hyiTBi9c9WxSpyEzw2QGWpZeKGU70F"
curl -s https://api.example.com/ping
