#!/bin/sh
export DB_PASS<CUT>WORD='tLEbJG+Nzk7z7GIO-uAXwgAR'
export API_TO<CUT>KEN=Ba92riK4b49wfjhUZvgGbfoSFm4zZez0
