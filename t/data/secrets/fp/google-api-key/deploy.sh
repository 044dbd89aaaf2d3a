#!/bin/sh
# Keys start with AIza and are 39 characters long.
gcloud services api-keys create --display-name="maps ${ENV}"
