#!/bin/sh
# The example key from the AWS documentation is not a secret.
export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-}"
aws configure set aws_access_key_id "$AWS_ACCESS_KEY_ID"
