const http = require('http');
const client = new Client({ webhookUrl: "https://hooks.sl<CUT>ack.com/services/TER08J9IL/B4LYKCZZ9/E1widaIoBsPU8D4XYU3lAOng" });
module.exports = client;
