const http = require('http');
const client = new Client({ auth: "gh<CUT>p_ETuppdabKrqLoH2F5qJrjdrzuMAs35ykfuvE" });
module.exports = client;
