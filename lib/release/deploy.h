/*
 * deploy: the work of ci-deploy, the stage the pipeline leaves to the
 * user's platform (kubectl, ssh, runc, a cloud CLI).
 *
 * deploy_work (a stage_work) runs the command once, through core/proc, in
 * its own process group, with the document's facts in its environment:
 *
 *   CI_ENV        the environment deployed to (--to), always
 *   CI_IMAGE      push.reference: the image pushed, by digest
 *   CI_IMAGE_TAG  the tag of push.tags[0] ("v2.4.1-abc123f")
 *   CI_VERSION    run.source.version
 *   CI_COMMIT     run.source.commit
 *   CI_SLOT       --slot, else the slot the canary section gives the
 *                 release (rollback_slot())
 *
 * A fact the document lacks is not set, not even inherited from our own
 * environment, so a stale value cannot deploy the wrong thing.  The
 * output goes to a log file, STATE_DIR/deploy/ENV-TIME.log, and is shown
 * on stderr a line at a time as "ENV | line".  The timeout covers the
 * command and the --wait together: at the deadline the group gets
 * SIGTERM, then SIGKILL.  A SIGINT or SIGTERM we get (stage_signal) is
 * passed on to the group the same way.  With a wait URL, once the command
 * exited 0 the URL is polled (net/http's http_wait(): 2xx or 3xx, backoff
 * through core/retry) for what is left of the time.
 *
 * The section goes under the stage name "deploy.ENV" (core/pipeline.h),
 * one per environment: status, command, image, version, slot, log,
 * exit_status (signal), duration_ms, wait, reason.  Verdicts: passed (0);
 * failed (1): the command exited non-zero, was killed, timed out, or the
 * URL never answered; error with EX_USAGE_ (2): the command could not be
 * started (not found, not executable); error with EX_TEMP (75): a
 * signal; error with EX_IOERR_ (74): the log could not be written.
 *
 * Ownership: struct deploy_cmd borrows every string.
 */
#ifndef CI_RELEASE_DEPLOY_H
#define CI_RELEASE_DEPLOY_H

#include <cJSON.h>

#include "core/log.h"
#include "core/stage.h"

#define DEPLOY_TIMEOUT_DEFAULT_MS (10 * 60 * 1000LL)
#define DEPLOY_ENV_MAX 64

struct deploy_cmd {
	const char *env;		/* --to ENV (deploy_env_valid()) */
	const char *slot;		/* --slot NAME, or NULL */
	const char *wait_url;		/* --wait URL, or NULL */
	const char *ca_file;		/* --ca-file: for --wait, or NULL */
	long long timeout_ms;		/* --timeout: the command and the wait, > 0 */
	char *const *argv;		/* the command, NULL-terminated */
	const char *state_dir;		/* the log goes to STATE_DIR/deploy/ */
};

/* 1 when env can name an environment: 1 to DEPLOY_ENV_MAX letters, digits,
 * '_' or '-', not starting with '-' (it is a JSON key and part of a file
 * name). */
int deploy_env_valid(const char *env);

/* The pipeline filter (core/stage.h); arg is the struct deploy_cmd. */
int deploy_work(struct stage *s, void *arg, cJSON **section, struct err *e);

#endif
