const isBot = (t) => /^xoxb-/.test(t);
