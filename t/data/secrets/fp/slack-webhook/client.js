const url = new URL(process.env.SLACK_WEBHOOK);
if (url.host !== 'hooks.slack.com') throw new Error('not a Slack webhook');
