const version = process.env.npm_package_version;
const token = process.env.NPM_TOKEN; // npm_<TOKEN> in the docs
module.exports = { version, token };
