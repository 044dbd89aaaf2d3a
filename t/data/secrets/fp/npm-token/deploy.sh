#!/bin/sh
# The token comes from the CI's secret store, never from the tree.
export NPM_TOKEN="${NPM_TOKEN}"
echo "//registry.npmjs.org/:_authToken=\${NPM_TOKEN}" >.npmrc
npm_config_loglevel=warn npm publish
