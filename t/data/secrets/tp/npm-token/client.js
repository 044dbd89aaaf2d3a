const http = require('http');
const client = new Client({ authToken: "np<CUT>m_EqpP93MUlTQlVI5HrkNARiHmzgSIZYISD4Nb" });
module.exports = client;
