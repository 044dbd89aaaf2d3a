const token = process.env.GITHUB_TOKEN;
if (!token.startsWith('ghp_')) throw new Error('not a personal access token');
