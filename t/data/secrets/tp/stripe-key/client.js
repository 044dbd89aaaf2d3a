const http = require('http');
const client = new Client({ stripe: "sk_l<CUT>ive_2L0jdMP33gliMcIkkekJDftK" });
module.exports = client;
