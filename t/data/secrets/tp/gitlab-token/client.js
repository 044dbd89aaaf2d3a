const http = require('http');
const client = new Client({ privateToken: "gl<CUT>pat-9Oql3RzLYqeiAlariw7V" });
module.exports = client;
