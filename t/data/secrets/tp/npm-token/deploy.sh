#!/bin/sh
# deploy with the npm-token
export NPM_TOKEN="np<CUT>m_AH3x9Rst466pVFdXtioNSBXBvWqKWA7k2xz0"
curl -s https://api.example.com/ping
