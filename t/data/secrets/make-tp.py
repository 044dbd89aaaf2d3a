#!/usr/bin/env python3
# make-tp.py: write the true-positive samples (tp/) and their list (expect).
# Deterministic (a fixed seed), so running it again gives the same files.
# Every secret is written with the marker <CUT> inside it, so that the
# files in the tree hold no secret (and no scanner, ours included, flags
# them); the tests remove the marker from a copy before scanning.
# Run it from anywhere: python3 t/data/secrets/make-tp.py
import random, base64, json, os
R = random.Random(20261126)
AL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
def rnd(n, al=AL): return "".join(R.choice(al) for _ in range(n))
B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
root = os.path.dirname(os.path.abspath(__file__))
expect = []
def cut(s, at):  # insert the marker after `at` chars
    return s[:at] + "<CUT>" + s[at:]

def write(kind, rule, name, text, hits=()):
    d = os.path.join(root, kind, rule)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "w") as f:
        f.write(text)
    for line in hits:
        expect.append("%s %s/%s:%d" % (rule, rule, name, line))

def lines_with(text, needle):
    return [i + 1 for i, l in enumerate(text.split("\n")) if needle in l]

def tp(rule, name, text, marker="<CUT>"):
    write("tp", rule, name, text, lines_with(text, marker))

# ---- tokens: cut so the stored file holds no secret
def aws(): return cut("AKIA" + rnd(16, B32), 2)
def asia(): return cut("ASIA" + rnd(16, B32), 2)
def ghp(p="ghp_"): return cut(p + rnd(36), 2)
def ghfg(): return cut("github_pat_" + rnd(22) + "_" + rnd(59), 6)
def glpat(p="glpat-"): return cut(p + rnd(20, AL + "_-"), 2)
def gr(): return cut("GR1348941" + rnd(20, AL + "_-"), 2)
def xoxb(p="xoxb-"): return cut(p + rnd(12, "0123456789") + "-" + rnd(13, "0123456789") + "-" + rnd(24), 2)
def webhook(): return cut("https://hooks.slack.com/services/T" + rnd(8, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") + "/B" + rnd(8, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") + "/" + rnd(24), 16)
def gkey(): return cut("AIza" + rnd(35, AL + "_-"), 2)
def jwt():
    h = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=").decode()
    p = base64.urlsafe_b64encode(json.dumps({"sub": rnd(10), "iat": R.randint(1600000000, 1800000000)}, separators=(",", ":")).encode()).rstrip(b"=").decode()
    return cut(h + "." + p + "." + rnd(43, AL + "_-"), 1)
def stripe(p="sk_live_"): return cut(p + rnd(24), 4)

def syntaxes(rule, mk, names):
    # shell, JSON, YAML, Python, JS, .env
    a, b, c, d, e, f = (mk() for _ in range(6))
    n = names
    tp(rule, "deploy.sh", "#!/bin/sh\n# deploy with the %s\nexport %s=\"%s\"\ncurl -s https://api.example.com/ping\n" % (rule, n[0], a))
    tp(rule, "config.json", json.dumps({"service": "billing", n[1]: b, "retries": 3}, indent=2) + "\n")
    tp(rule, "values.yaml", "service: billing\ncredentials:\n  %s: %s\n  region: eu-west-1\n" % (n[2], c))
    tp(rule, "settings.py", "import os\n\nDEBUG = False\n%s = '%s'\n" % (n[3], d))
    tp(rule, "client.js", "const http = require('http');\nconst client = new Client({ %s: \"%s\" });\nmodule.exports = client;\n" % (n[4], e))
    tp(rule, ".env", "APP_ENV=production\n%s=%s\n" % (n[5], f))

syntaxes("aws-access-key-id", aws, ["AWS_ACCESS_KEY_ID", "awsAccessKeyId", "aws_access_key_id", "AWS_KEY", "accessKeyId", "AWS_ACCESS_KEY_ID"])
tp("aws-access-key-id", "session.txt", "temporary credentials: %s (expires in 1h)\n" % asia())
syntaxes("github-token", ghp, ["GITHUB_TOKEN", "github_token", "gh_token", "GH_TOKEN", "auth", "GITHUB_TOKEN"])
tp("github-token", "ci.yaml", "env:\n  OAUTH: %s\n  APP: %s\n" % (ghp("gho_"), ghp("ghs_")))
syntaxes("github-fine-grained-token", ghfg, ["GH_PAT", "pat", "github_pat", "GH_PAT", "pat", "GH_PAT"])
syntaxes("gitlab-token", glpat, ["GITLAB_TOKEN", "gitlab_token", "gitlab_token", "GITLAB_TOKEN", "privateToken", "CI_JOB_TOKEN_OVERRIDE"])
tp("gitlab-token", "runner.toml", "[[runners]]\n  url = \"https://gitlab.example.com/\"\n  token = \"%s\"\n  registration = \"%s\"\n" % (glpat("glrt-"), gr()))
syntaxes("slack-token", xoxb, ["SLACK_BOT_TOKEN", "slack_token", "slack_token", "SLACK_TOKEN", "token", "SLACK_BOT_TOKEN"])
tp("slack-token", "user.txt", "user token: %s\n" % xoxb("xoxp-"))
syntaxes("slack-webhook", webhook, ["SLACK_WEBHOOK", "webhook", "slack_webhook", "SLACK_WEBHOOK_URL", "webhookUrl", "SLACK_WEBHOOK"])
syntaxes("google-api-key", gkey, ["GOOGLE_API_KEY", "mapsKey", "google_maps_key", "MAPS_KEY", "apiKey", "GOOGLE_MAPS_KEY"])
syntaxes("jwt", jwt, ["SESSION", "session", "session", "SESSION", "session", "SESSION"])
tp("jwt", "request.http", "GET /api/orders HTTP/1.1\nAuthorization: Bearer %s\n" % jwt())
syntaxes("stripe-key", stripe, ["STRIPE_SECRET_KEY", "stripeKey", "stripe_key", "STRIPE_KEY", "stripe", "STRIPE_SECRET_KEY"])
tp("stripe-key", "restricted.txt", "restricted key %s for the reporting job\n" % stripe("rk_live_"))

# ---- private keys: header cut; the body is random base64
def body(n):
    raw = bytes(R.randrange(256) for _ in range(n))
    return base64.b64encode(raw).decode()
def pem(kind="RSA PRIVATE KEY", nbytes=600, width=64):
    b = body(nbytes)
    lines = [b[i:i + width] for i in range(0, len(b), width)]
    hdr = "-----BEGIN %s-----" % kind
    hdr = hdr.replace("PRIVATE", "PRIV<CUT>ATE")
    return hdr, lines, "-----END %s-----" % kind

h, l, e = pem()
tp("private-key", "id_rsa", h + "\n" + "\n".join(l) + "\n" + e + "\n")
h, l, e = pem("OPENSSH PRIVATE KEY", 400, 70)
tp("private-key", "deploy_key", h + "\n" + "\n".join(l) + "\n" + e + "\n")
h, l, e = pem("PRIVATE KEY", 500)
tp("private-key", "service-account.json", json.dumps({"type": "service_account", "project_id": "billing-prod",
   "private_key_id": rnd(40, "0123456789abcdef"), "private_key": "<CUT>" + h.replace("<CUT>", "") + "\n" + "\n".join(l) + "\n" + e + "\n",
   "client_email": "billing@billing-prod.iam.gserviceaccount.com"}, indent=2).replace("\"<CUT>-----BEGIN PRIVATE KEY", "\"-----BEGIN PRIV<CUT>ATE KEY") + "\n")
h, l, e = pem("EC PRIVATE KEY", 120)
tp("private-key", "tls.yaml", "tls:\n  cert: /etc/tls/cert.pem\n  key: |\n    " + h + "\n    " + "\n    ".join(l) + "\n    " + e + "\n")
h, l, e = pem("RSA PRIVATE KEY", 300)
tp("private-key", "keys.py", "SIGNING_KEY = \"\"\"" + h + "\n" + "\n".join(l) + "\n" + e + "\n\"\"\"\n")
h, l, e = pem("PRIVATE KEY", 200)
tp("private-key", "sign.js", "const key = `" + h + "\n" + "\n".join(l) + "\n" + e + "`;\nmodule.exports = key;\n")
h, l, e = pem("ENCRYPTED PRIVATE KEY", 300)
tp("private-key", "legacy.pem", h + "\n" + "\n".join(l) + "\n" + e + "\n")
h, l, e = pem("RSA PRIVATE KEY", 300)
tp("private-key", ".env", "JWT_SIGNING_KEY=\"" + h + "\\n" + "\\n".join(l) + "\\n" + e + "\\n\"\n")
h, l, e = pem("PGP PRIVATE KEY BLOCK", 300)
tp("private-key", "release.asc", h + "\nVersion: GnuPG v2\n\n" + "\n".join(l) + "\n=" + rnd(4) + "\n" + e + "\n")

# ---- generic: keys cut in the keyword
def val(n=24): return rnd(n, AL + "!#%*+-_=")
tp("generic-secret", "deploy.sh", "#!/bin/sh\nexport DB_PASS<CUT>WORD='%s'\nexport API_TO<CUT>KEN=%s\n" % (val(), rnd(32)))
tp("generic-secret", "config.json", json.dumps({"database": {"host": "db.internal", "pass<CUT>word": val()}, "client_sec<CUT>ret": rnd(40)}, indent=2) + "\n")
tp("generic-secret", "values.yaml", "db:\n  user: billing\n  pass<CUT>word: \"%s\"\nsmtp:\n  api_k<CUT>ey: %s\n" % (val(), rnd(28)))
tp("generic-secret", "settings.py", "SEC<CUT>RET_KEY = '%s'\nDATABASES = {'default': {'PASS<CUT>WORD': \"%s\"}}\n" % (val(40), val()))
tp("generic-secret", "config.js", "module.exports = {\n  apiK<CUT>ey: '%s',\n  auth: { pass<CUT>word: \"%s\" },\n};\nconst acc<CUT>essKey = `%s`;\n" % (rnd(32), val(), rnd(24)))
tp("generic-secret", ".env", "APP_ENV=production\nSESSION_SEC<CUT>RET=%s\nREDIS_PASS<CUT>WORD=\"%s\"\n" % (rnd(30), val()))
tp("generic-secret", "app.properties", "spring.datasource.pass<CUT>word=%s\n" % rnd(20))
tp("generic-secret", "main.go", "var tok<CUT>en := \"%s\"\n" % rnd(36))
tp("generic-secret", "config.rb", "config.api_k<CUT>ey = \"%s\"\nsettings = { \"sec<CUT>ret\" => \"%s\" }\n" % (rnd(32), val()))

# ---- cases: one a line, as gitleaks' rule tests list them (tps, fps).
# tp/RULE/cases.txt: each line holds one secret (every line is in expect);
# fp/RULE/cases.txt: no line may give a finding.  The fps are written out
# here too, as their values are random where a real token's would be.
HEX = "0123456789abcdef"
NUM = "0123456789"
UPN = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
def cases(kind, rule, lines):
    text = "\n".join(lines) + "\n"
    write(kind, rule, "cases.txt", text, range(1, len(lines) + 1) if kind == "tp" else ())

cases("tp", "aws-access-key-id", [
    "%s" % aws(),
    "aws_access_key_id = %s" % aws(),
    "AWS_ACCESS_KEY_ID=%s;" % aws(),
    "key: %s" % cut("ABIA" + rnd(16, B32), 2),
    "key: %s" % cut("ACCA" + rnd(16, B32), 2),
    "key: %s" % cut("A3T" + rnd(17, B32), 2),
    "(%s)" % asia(),
])
cases("fp", "aws-access-key-id", [
    "aws_access_key_id = AKIAIOSFODNN7EXAMPLE",
    "AWS_ACCESS_KEY_ID=AKIAXXXXXXXXXXXXXXXX",
    "id = akia" + rnd(16, B32).lower(),
    "id = AKIA" + rnd(12, B32),
    "id = XAKIA" + rnd(16, B32),
    "id = AKIA" + rnd(16, B32) + rnd(4, B32),
    "AWS_ACCESS_KEY_ID=AKIA${AWS_KEY_SUFFIX}",
])
cases("tp", "github-token", [
    "token: %s" % ghp(),
    "GITHUB_TOKEN=%s" % ghp("gho_"),
    "\"%s\"" % ghp("ghu_"),
    "git clone https://x-access-token:%s@github.com/acme/app" % ghp("ghs_"),
    "refresh=%s" % ghp("ghr_"),
])
cases("fp", "github-token", [
    "GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "GITHUB_TOKEN=ghp_${TOKEN}",
    "GITHUB_TOKEN=ghp_<TOKEN>",
    "value = ghp_" + rnd(20),
    "value = ghx_" + rnd(36),
    "value = ghp_" + rnd(36) + rnd(4),
])
cases("tp", "github-fine-grained-token", [
    "GH_PAT=%s" % ghfg(),
    "pat: \"%s\"" % ghfg(),
])
cases("fp", "github-fine-grained-token", [
    "GH_PAT=github_pat_xxxxxxxxxxxxxxxxxxxxxx_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "GH_PAT=github_pat_" + rnd(22),
    "GH_PAT=github_pat_<YOUR_TOKEN>",
])
cases("tp", "gitlab-token", ["token = %s" % glpat(p) for p in
    ("glpat-", "gldt-", "glptt-", "glrt-", "glcbt-", "glimt-", "glagent-", "gloas-", "glsoat-", "glffct-")] +
    ["registration: %s" % gr()])
cases("fp", "gitlab-token", [
    "GITLAB_TOKEN=glpat-xxxxxxxxxxxxxxxxxxxx",
    "GITLAB_TOKEN=glpat-<your-token>",
    "GITLAB_TOKEN=glpat-${GITLAB_TOKEN}",
    "GITLAB_REF=glpat-" + rnd(12),
    "see https://docs.gitlab.com/ee/security/token_overview.html#glpat-tokens",
])
cases("tp", "google-api-key", [
    "key=%s" % gkey(),
    "\"apiKey\": \"%s\"," % gkey(),
    "https://maps.googleapis.com/maps/api/js?key=%s&callback=init" % gkey(),
])
cases("fp", "google-api-key", [
    # firebase-android-sdk's sample keys, allowed by exact value
    "apiKey: \"AIzaSyAnLA7NfeLquW1tJFpx_eQCxoX-oo6YyIs\"",
    "apiKey: \"AIzaSyCkEhVjf3pduRDt6d1yKOMitrUEke8agEM\"",
    "apiKey: \"AIzaSyabcdefghijklmnopqrstuvwxyz1234567\"",
    "apiKey: \"AIzaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"",
    "mapsRef: \"AIZA" + rnd(35, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") + "\"",
    "mapsRef: \"AIza" + rnd(20) + "\"",
])
cases("tp", "jwt", [
    "Authorization: Bearer %s" % jwt(),
    "{\"id_token\": \"%s\"}" % jwt(),
])
cases("fp", "jwt", [
    "token = eyJhbGciOiJIUzI1NiJ9.eyJzdWIi",
    "token = eyJmb28iOiJiYXIiLCJiYXoiOjF9.eyJxdXgiOiJxdXV4In0.c2lnbmF0dXJlLW9mLXNvcnRz",
    "token = eyJ${HEADER}.eyJ${PAYLOAD}.${SIGNATURE}",
])
def pem_line(kind="RSA PRIVATE KEY", nbytes=300):
    h, l, e = pem(kind, nbytes)
    return h + "\\n" + "\\n".join(l) + "\\n" + e
cases("tp", "private-key", [
    "KEY=\"%s\"" % pem_line(),
    "\"private_key\": \"%s\"," % pem_line("PRIVATE KEY"),
])
cases("fp", "private-key", [
    "KEY=\"-----BEGIN RSA PRIVATE KEY-----\\n<your key here>\\n-----END RSA PRIVATE KEY-----\"",
    "KEY=\"-----BEGIN PRIVATE KEY-----\\n${PRIVATE_KEY_BODY}\\n-----END PRIVATE KEY-----\"",
    "KEY=\"-----BEGIN PRIVATE KEY-----\\n" + "A" * 64 + "\\n-----END PRIVATE KEY-----\"",
    "grep -q 'BEGIN OPENSSH PRIVATE KEY' \"$f\" && echo found",
])
cases("tp", "slack-token", [
    "SLACK_BOT_TOKEN=%s" % xoxb(),
    "\"user_token\": \"%s\"" % cut("xoxp-" + rnd(12, NUM) + "-" + rnd(12, NUM) + "-" + rnd(13, NUM) + "-" + rnd(32, HEX), 2),
    "\"access_token\": \"%s\"" % cut("xoxa-2-" + rnd(9, NUM) + "-" + rnd(11, NUM) + "-" + rnd(13, NUM) + "-" + rnd(18, HEX), 2),
    "\"access_token\": \"%s\"" % cut("xoxa-" + rnd(1, NUM) + "-" + rnd(12), 2),
    "\"access_token\": \"%s\"" % cut("xoxa-" + rnd(12), 2),
    "\"refresh_token\": \"%s\"" % cut("xoxr-" + rnd(1, NUM) + "-" + rnd(12), 2),
    "\"refresh_token\": \"%s\"" % cut("xoxr-" + rnd(12), 2),
    "legacy = %s" % cut("xoxs-" + rnd(10, NUM) + "-" + rnd(10, NUM) + "-" + rnd(10, NUM) + "-" + rnd(10, HEX), 2),
    "legacy = %s" % cut("xoxo-" + rnd(6, NUM) + "-" + rnd(6, NUM) + "-" + rnd(6, NUM) + "-" + rnd(18, HEX), 2),
    "\"refresh_token\": \"%s\"" % cut("xoxe-1-" + rnd(146, UPN), 2),
    "\"access_token\": \"%s\"" % cut("xoxe.xoxp-1-" + rnd(163, UPN), 2),
    "SLACK_APP_TOKEN=%s" % cut("xapp-1-A" + rnd(10, UPN) + "-" + rnd(13, NUM) + "-" + rnd(64, HEX), 2),
])
cases("fp", "slack-token", [
    "xoxb-xxxxxxxxx-xxxxxxxxxx-xxxxxxxxxxxx",
    "xoxb-xxx",
    "xoxb-12345-abcd234",
    "xoxb-xoxb-my-bot-token",
    "\"token\": \"xoxp-1234567890\"",
    "\"token\": \"xoxp-XXXXXXXXXX-XXXXXXXXXX-XXXXXXXXXXX-XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX\"",
    "\"token\": \"xoxp-%s-%s-%s-####################\"" % (rnd(12, NUM), rnd(12, NUM), rnd(12, NUM)),
    "\"token\": \"xoxb-%s-%s-${SLACK_BOT_TOKEN_TAIL}\"" % (rnd(12, NUM), rnd(13, NUM)),
    "\"token\": \"xoxb-%s-%s-<TOKEN>\"" % (rnd(12, NUM), rnd(13, NUM)),
    "\"token\": \"xoxb-%s-%s-****\"" % (rnd(12, NUM), rnd(13, NUM)),
    "xoxa-faketoken",
    "xoxa-access-token-string",
    "XOXa-nx991k",
    "xoxe-1-xxx",
    "xoxe.xoxp-1-SlackAppConfigurationAccessTokenHere",
    "https://github.com/xoxa-nyc/xoxa-nyc.github.io/blob/master/README.md",
    "SLACK_BOT_TOKEN=%s  # gitleaks:allow (a revoked token in a fixture)" % xoxb().replace("<CUT>", ""),
])
def wh_id(c, n): return c + rnd(n, UPN)
cases("tp", "slack-webhook", [
    "SLACK_WEBHOOK=%s" % webhook(),
    "url: %s" % cut("https://hooks.slack.com/services/" + rnd(44, AL), 16),
    "url: %s" % cut("https://hooks.slack.com/workflows/" + wh_id("T", 9) + "/" + wh_id("A", 10) + "/" + rnd(18, NUM) + "/" + rnd(24), 16),
    "url: %s" % cut("https://hooks.slack.com/triggers/" + wh_id("T", 9) + "/" + rnd(13, NUM) + "/" + rnd(32, HEX), 16),
    "url: %s" % cut("http://hooks.slack.com/services/" + wh_id("T", 8) + "/" + wh_id("B", 8) + "/" + rnd(24), 16),
    "curl -X POST %s -d @msg.json" % cut("hooks.slack.com/services/" + wh_id("T", 10) + "/" + wh_id("B", 10) + "/" + rnd(24), 8),
])
cases("fp", "slack-webhook", [
    "SLACK_WEBHOOK=https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
    "SLACK_WEBHOOK=https://hooks.slack.com/services/your/webhook/url/goes/here",
    "SLACK_WEBHOOK=https://hooks.slack.com/services/${SLACK_WEBHOOK_PATH}",
    "SLACK_WEBHOOK=https://hooks.slack.com/workflows/<workflow-id>",
    "SLACK_WEBHOOK=https://hooks.slack.com/services/%s/%s/####" % (wh_id("T", 8), wh_id("B", 8)),
    "see https://api.slack.com/messaging/webhooks for hooks.slack.com/services/ URLs",
])
cases("tp", "stripe-key", ["STRIPE_KEY=%s" % stripe(p) for p in
    ("sk_live_", "sk_test_", "rk_live_", "rk_test_", "sk_prod_", "rk_prod_")])
cases("fp", "stripe-key", [
    # Stripe's API reference's test keys, allowed by exact value
    "stripe.api_key = \"sk_test_4eC39HqLyjWDarjtT1zdp7dc\"",
    "stripe.api_key = \"sk_test_BQokikJOvBiI2HlWgH4olfQ2\"",
    "STRIPE_KEY=sk_live_xxxxxxxxxxxxxxxxxxxxxxxx",
    "STRIPE_KEY=pk_live_" + rnd(24),
    "STRIPE_KEY=sk_live_<KEY>",
    "STRIPE_KEY=sk_test_${STRIPE_TEST_KEY}",
    "STRIPE_KEY=rk_live_" + rnd(12) + "####",
    "STRIPE_KEY=sk_dev_" + rnd(24),
])
cases("tp", "generic-secret", [
    "cred<CUT>entials = \"%s\"" % rnd(24, AL + "!#*+-_="),
    "client_sec<CUT>ret: %s" % rnd(32),
    "api_to<CUT>ken = '%s'" % rnd(40),
    "AWS_SECRET_ACC<CUT>ESS_KEY=%s" % rnd(40, AL + "+/"),
    "DB_CRE<CUT>DS=\"%s\"" % val(),
    "{\"auth_to<CUT>ken\": \"%s\"}" % rnd(36),
])
cases("fp", "generic-secret", [
    "credentials = os.environ[\"APP_CREDENTIALS\"]",
    "client_secret: ${CLIENT_SECRET}",
    "api_token = \"<TOKEN>\"",
    "credentials_file = \"/etc/app/credentials.json\"",
    "credentials: true",
    "password = \"changeme\"",
    "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "api_token = \"%s\"  # gitleaks:allow" % rnd(32),
    "client_secret = \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"",
])

# ---- npm access tokens: last, so that the draws above are unchanged
def npm(): return cut("npm_" + rnd(36), 2)
syntaxes("npm-token", npm, ["NPM_TOKEN", "npmToken", "npm_token", "NPM_TOKEN", "authToken", "NPM_TOKEN"])
tp("npm-token", ".npmrc", "registry=https://registry.npmjs.org/\n//registry.npmjs.org/:_authToken=%s\n" % npm())
cases("tp", "npm-token", [
    "NPM_TOKEN=%s" % npm(),
    "//registry.npmjs.org/:_authToken=%s" % npm(),
    "\"auth\": \"%s\"," % npm(),
    "run: npm config set //npm.pkg.github.com/:_authToken %s" % npm(),
])
cases("fp", "npm-token", [
    "NPM_TOKEN=npm_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "//registry.npmjs.org/:_authToken=${NPM_TOKEN}",
    "NPM_TOKEN=npm_<TOKEN>",
    "package_id: npm_" + rnd(20),
    "npm_config_cache=/tmp/npm_cache_directory_for_the_build_job",
    "see npm_package_version and npm_lifecycle_event in the scripts",
])

with open(os.path.join(root, "expect"), "w") as f:
    f.write("\n".join(sorted(expect)) + "\n")
print(len(expect))
