#!/bin/sh
# deploy with the aws-access-key-id
export AWS_ACCESS_KEY_ID="AK<CUT>IA64CFSUOSG2WPIZZX"
curl -s https://api.example.com/ping
