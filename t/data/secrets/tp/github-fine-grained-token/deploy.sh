#!/bin/sh
# deploy with the github-fine-grained-token
export GH_PAT="github<CUT>_pat_2nE6GFehuziguDiksXR2hV_9y1V9uf8Kf6jmVbItcmBKaHgDotuxCmiljfBI8XiVsbWqoo1eXQcTGFshG0"
curl -s https://api.example.com/ping
