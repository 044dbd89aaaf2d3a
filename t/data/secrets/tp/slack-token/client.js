const http = require('http');
const client = new Client({ token: "xo<CUT>xb-060954662216-3058266932190-N7pl7ucNOxFRzQqUSkvE8uL3" });
module.exports = client;
