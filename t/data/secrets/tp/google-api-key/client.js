const http = require('http');
const client = new Client({ apiKey: "AI<CUT>zap8tLn41OrSB-7EXagprkPipbzXWF00JbBhI" });
module.exports = client;
