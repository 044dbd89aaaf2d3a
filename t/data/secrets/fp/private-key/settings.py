PEM_HEADER = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")
KEY_PATH = "/run/secrets/signing-key.pem"
