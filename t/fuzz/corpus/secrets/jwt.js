const http = require('http');
const client = new Client({ session: "e<CUT>yJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI4REVTeDdoc1NKIiwiaWF0IjoxNzY2OTUyNjAzfQ.TO-sq-N1YHFSNz74wBaD616ud7QhQV0h8OHFwrYslGe" });
module.exports = client;
