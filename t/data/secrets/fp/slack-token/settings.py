# Bot tokens start with xoxb-, user tokens with xoxp-.
SLACK_TOKEN = os.environ["SLACK_TOKEN"]
