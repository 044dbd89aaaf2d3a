const http = require('http');
const client = new Client({ accessKeyId: "AK<CUT>IALVQKNWNNYSB4J4W3" });
module.exports = client;
