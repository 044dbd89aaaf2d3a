#!/bin/sh
# Publishable keys (pk_live_...) are public by design.
export STRIPE_PUBLISHABLE_KEY=pk_live_51HqLyjWDarjtT1zdp7dcXmPq4sLkYv2b
export STRIPE_SECRET_KEY="${STRIPE_SECRET_KEY}"
