const http = require('http');
const client = new Client({ pat: "github<CUT>_pat_26N3v2q87W9eR1a6DxOY9C_SWu74zPgDV5FxsmkPpOtp0SBv0TMBBP3AEhE2c2mimubIdWhObHU4uXjycM" });
module.exports = client;
