#!/bin/sh
export DB_PASSWORD="${DB_PASSWORD:?}"
export API_TOKEN=$(cat /run/secrets/api-token)
read -r -s -p "password: " password
if [ "$password" == "$expected_password" ]; then echo ok; fi
