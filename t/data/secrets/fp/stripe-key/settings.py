STRIPE_SECRET_KEY = os.environ["STRIPE_SECRET_KEY"]
assert STRIPE_SECRET_KEY.startswith("sk_live_")
