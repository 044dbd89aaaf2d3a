/*
 * imgconfig: OCI image configs and manifests, written with a fixed key
 * order so that the same image always gives the same bytes and digests.
 *
 * A config is kept as a cJSON object while a build changes it and is
 * serialized by imgconfig_text(): top-level keys in the order of the OCI
 * image spec (created, author, architecture, variant, os, os.version,
 * os.features, config, rootfs, history; other keys are dropped), the
 * runtime config in Docker's order (User, ExposedPorts, Env, Entrypoint,
 * Cmd, Volumes, WorkingDir, Labels, StopSignal, ArgsEscaped, Healthcheck,
 * OnBuild, Shell, then any other keys as they came), map keys sorted as
 * Go's encoding/json sorts them, empty values left out as Go's omitempty
 * does.  Numbers are kept exactly (json.h).
 *
 * Ownership: functions returning cJSON * or char * hand it to the caller.
 */
#ifndef CI_IMGCONFIG_H
#define CI_IMGCONFIG_H

#include <stddef.h>
#include <cJSON.h>

#include "core/log.h"
#include "oci/oci.h"

/* An empty config (for FROM scratch). */
cJSON *imgconfig_new(const char *os, const char *arch, const char *variant);
/* Parse a config blob; must be an object with os and architecture. */
cJSON *imgconfig_parse(const char *text, size_t len, const char *name, struct err *e);
/* The canonical text. */
char *imgconfig_text(const cJSON *cfg);

/* The runtime config object ("config"), created when missing. */
cJSON *imgconfig_rt(cJSON *cfg);
/* Env: value of key (borrowed) or NULL; set replaces in place or appends. */
const char *imgconfig_env_get(const cJSON *cfg, const char *key);
void imgconfig_env_set(cJSON *cfg, const char *key, const char *value);
/* Add a key to a map-valued field (ExposedPorts, Volumes): {"80/tcp": {}}. */
void imgconfig_set_add(cJSON *cfg, const char *field, const char *key);
/* Labels[key] = value. */
void imgconfig_label(cJSON *cfg, const char *key, const char *value);
/* Set a string field of the runtime config (User, WorkingDir, StopSignal). */
void imgconfig_set_str(cJSON *cfg, const char *field, const char *value);
/* Set or remove (v NULL) an array-valued field (Cmd, Entrypoint, Shell); takes v. */
void imgconfig_set_array(cJSON *cfg, const char *field, cJSON *v);
/* Append a diff_id to rootfs.diff_ids. */
void imgconfig_add_diff_id(cJSON *cfg, const char *diff_id);
/* Append a history entry. */
void imgconfig_add_history(cJSON *cfg, const char *created, const char *created_by,
    const char *comment, int empty_layer);
size_t imgconfig_ndiff_ids(const cJSON *cfg);

/*
 * The canonical text of an image manifest: schemaVersion, mediaType,
 * config, layers, annotations (sorted); annotations may be NULL.
 */
char *imgmanifest_text(const struct oci_desc *config, const struct oci_desc *layers,
    size_t nlayers, const cJSON *annotations);

#endif
