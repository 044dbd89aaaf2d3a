#!/bin/sh
# deploy with the slack-webhook
export SLACK_WEBHOOK="https://hooks.sl<CUT>ack.com/services/TYNK79QPH/BVLY8M5QW/l0YT7Tfh0SrfMJHuiDVfdVxy"
curl -s https://api.example.com/ping
