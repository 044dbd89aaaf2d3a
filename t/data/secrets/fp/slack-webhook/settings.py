# Incoming webhooks live under hooks.slack.com/services/.
SLACK_WEBHOOK = os.environ.get("SLACK_WEBHOOK")
