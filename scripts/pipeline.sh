#!/bin/sh
# pipeline.sh: the whole journey from a commit to production, as one shell
# pipeline of ci-tools -- copy it into your project and set the variables.
#
#   gate -> build -> push -> deploy to staging -> smoke -> deploy to the
#   canary slot -> canary (5% -> 25% -> 50% -> 100%) -> rollback or promote
#
#   ci-gate --new -f $GATES --version-tag $VERSION
#   | ci-build -t $IMAGE $CONTEXT
#   | ci-push
#   | ci-deploy --to staging --wait $STAGING_URL/health -- sh -c "$DEPLOY_STAGING"
#   | ci-smoke --wait $STAGING_URL/health -v base=$STAGING_URL $SMOKE
#   | ci-deploy --to production --slot SLOT -- sh -c "$DEPLOY_PRODUCTION"
#   | ci-canary -f $CANARY_SPEC
#   | ci-rollback [alerts] [--html $REPORT]
#
# Run it in the project's directory.  Every stage reads the document the
# one before wrote; a stage after a failed one skips (its section says why)
# and ci-rollback, last, puts the traffic back on the stable release,
# alerts and blocks the pipeline when anything failed after the push, or
# records the release as the new stable one.  The exit status is
# ci-rollback's: 0 the release is in production, 1 it is not (see the
# document), another code the stage that could not work (ci-pipeline(5)).
#
# The variables (the required ones first):
#
#   VERSION            the release, e.g. 1.4.0 (ci-gate --version-tag)
#   IMAGE              where the image goes, e.g. registry.example/shop
#   STAGING_URL        where staging answers, e.g. http://staging.internal:8080
#   DEPLOY_STAGING     a shell command that deploys $CI_IMAGE to staging
#   DEPLOY_PRODUCTION  a shell command that deploys $CI_IMAGE to slot $CI_SLOT
#                      of production (the slot that carries no traffic)
#   CANARY_SPEC        the rollout: ci-canary(1)'s spec (canary.json)
#   GATES              ci-gate's spec (gates.json)
#   CONTEXT            ci-build's context (.)
#   SMOKE              the smoke tests, Hurl files (smoke.hurl)
#   SLACK_WEBHOOK      a Slack incoming webhook URL; PAGERDUTY_KEY a routing
#                      key (PAGERDUTY_URL for another Events API endpoint);
#                      WEBHOOK_URL a generic JSON webhook; ALERT_EMAIL_TO,
#                      ALERT_EMAIL_FROM and SMTP_URL mail: where ci-rollback
#                      says what happened (none set: no alert);
#                      NOTIFY_SUCCESS=1 tells Slack and the webhook of a
#                      release that went stable too
#   REPORT             an HTML report of the whole pipeline (ci-out/report.html)
#   CI_OUT             where each stage's document is kept (ci-out): 1-gate.json
#                      ... 8-rollback.json, the last one also as pipeline.json
#   CI_STATE_DIR       the canary's state, the ledger of releases, the block
#                      (ci-pipeline(5)); CI_LEDGER=git:REMOTE shares them
#                      between runners
#
# The deploy commands run through sh -c with the document's facts in their
# environment (ci-deploy(1)): CI_IMAGE (the pushed image by digest),
# CI_IMAGE_TAG, CI_VERSION, CI_COMMIT, CI_ENV and, for production, CI_SLOT.
# For example, on Kubernetes:
#
#   DEPLOY_PRODUCTION='kubectl set image deploy/shop-$CI_SLOT shop=$CI_IMAGE &&
#                      kubectl rollout status deploy/shop-$CI_SLOT'
#
# See ci-tools(7) for the whole story and for the same pipeline in GitHub
# Actions, GitLab CI and Jenkins.
set -u

me=pipeline.sh
die() { echo "$me: error: $*" >&2; exit 2; }

: "${VERSION:?set VERSION, the release (e.g. VERSION=1.4.0)}"
: "${IMAGE:?set IMAGE, the image repository (e.g. IMAGE=registry.example/shop)}"
: "${STAGING_URL:?set STAGING_URL, where staging answers}"
: "${DEPLOY_STAGING:?set DEPLOY_STAGING, the command that deploys \$CI_IMAGE to staging}"
: "${DEPLOY_PRODUCTION:?set DEPLOY_PRODUCTION, the command that deploys \$CI_IMAGE to slot \$CI_SLOT}"
CANARY_SPEC=${CANARY_SPEC:-canary.json}
GATES=${GATES:-gates.json}
CONTEXT=${CONTEXT:-.}
SMOKE=${SMOKE:-smoke.hurl}
CI_OUT=${CI_OUT:-ci-out}
REPORT=${REPORT:-$CI_OUT/report.html}

for f in "$CANARY_SPEC" "$GATES" "$SMOKE"; do
	[ -r "$f" ] || die "cannot read '$f' (in $(pwd))"
done
for t in ci-gate ci-build ci-push ci-deploy ci-smoke ci-canary ci-rollback; do
	command -v "$t" >/dev/null 2>&1 || die "'$t' is not in PATH (make install, or PATH=...)"
done
mkdir -p "$CI_OUT" || exit 74

# The alerts ci-rollback sends, from what is set.
set --
[ -z "${SLACK_WEBHOOK-}" ] || set -- "$@" --slack-webhook "$SLACK_WEBHOOK"
[ -z "${PAGERDUTY_KEY-}" ] || set -- "$@" --pagerduty-key "$PAGERDUTY_KEY"
[ -z "${PAGERDUTY_URL-}" ] || set -- "$@" --pagerduty-url "$PAGERDUTY_URL"
[ -z "${WEBHOOK_URL-}" ] || set -- "$@" --webhook "$WEBHOOK_URL"
[ -z "${SMTP_URL-}" ] || set -- "$@" --smtp-url "$SMTP_URL"
[ -z "${ALERT_EMAIL_TO-}" ] || set -- "$@" --email-to "$ALERT_EMAIL_TO"
[ -z "${ALERT_EMAIL_FROM-}" ] || set -- "$@" --email-from "$ALERT_EMAIL_FROM"
[ "${NOTIFY_SUCCESS-}" != 1 ] || set -- "$@" --notify-success

# The slot the release goes to: the one that carries no traffic.
slot=$(ci-canary --slot -f "$CANARY_SPEC") || die "ci-canary --slot -f $CANARY_SPEC failed"

ci-gate --new -f "$GATES" --version-tag "$VERSION" |
tee "$CI_OUT/1-gate.json" |
ci-build -t "$IMAGE" "$CONTEXT" |
tee "$CI_OUT/2-build.json" |
ci-push |
tee "$CI_OUT/3-push.json" |
ci-deploy --to staging --wait "$STAGING_URL/health" -- sh -c "$DEPLOY_STAGING" |
tee "$CI_OUT/4-deploy-staging.json" |
ci-smoke --wait "$STAGING_URL/health" -v base="$STAGING_URL" "$SMOKE" |
tee "$CI_OUT/5-smoke.json" |
ci-deploy --to production --slot "$slot" -- sh -c "$DEPLOY_PRODUCTION" |
tee "$CI_OUT/6-deploy-production.json" |
ci-canary -f "$CANARY_SPEC" |
tee "$CI_OUT/7-canary.json" |
ci-rollback "$@" --html "$REPORT" >"$CI_OUT/8-rollback.json"
rc=$?
cp "$CI_OUT/8-rollback.json" "$CI_OUT/pipeline.json" 2>/dev/null || :
exit $rc
