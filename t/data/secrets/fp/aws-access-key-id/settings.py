# Read from the environment, never from the tree.
AWS_ACCESS_KEY_ID = os.environ["AWS_ACCESS_KEY_ID"]
ASIA_REGIONS = ["ap-south-1", "ap-east-1"]
identifier = "XAKIAQ3EGT5NNB6ZQ7WXY"
