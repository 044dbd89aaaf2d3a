#!/bin/sh
curl -H "Authorization: Bearer ${SLACK_BOT_TOKEN}" https://slack.com/api/auth.test
