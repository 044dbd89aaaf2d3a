#!/bin/sh
# A key file starts with -----BEGIN OPENSSH PRIVATE KEY----- and its body follows on the next lines of the file
if grep -q -- '-----BEGIN RSA PRIVATE KEY-----' "$1"; then
	echo "an RSA key in PEM form"
fi
