#!/bin/sh
# deploy with the google-api-key
export GOOGLE_API_KEY="AI<CUT>zamW5heI2OBvtQArq_khHRUHGH4XcCEc2_ZX_"
curl -s https://api.example.com/ping
