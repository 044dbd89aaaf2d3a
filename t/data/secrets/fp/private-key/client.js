const HEADER = '-----BEGIN PRIVATE KEY-----';
const FOOTER = '-----END PRIVATE KEY-----';
const key = fs.readFileSync(process.env.KEY_FILE, 'utf8');
