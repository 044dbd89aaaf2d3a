/*
 * imgarchive: an image in an OCI layout written out as one tar file.
 *
 * oci-archive: the layout itself (oci-layout, index.json, blobs), as
 * skopeo's and buildah's "oci-archive:" transport reads it.
 * docker-archive: the format of "docker save" that "docker load" and
 * skopeo's "docker-archive:" read: manifest.json ([{"Config", "RepoTags",
 * "Layers"}]), the config as HEX.json and each layer uncompressed as
 * DIFFID/layer.tar.
 *
 * Both are reproducible: entries sorted, owner 0:0 with empty names,
 * modes 0644/0755, every mtime set to the given time.  The file is
 * written beside its final name and renamed into place, so a failed
 * export leaves no partial archive behind.
 */
#ifndef CI_IMGARCHIVE_H
#define CI_IMGARCHIVE_H

#include <stddef.h>

#include "core/log.h"
#include "oci/oci.h"

int imgarchive_oci(const struct oci_layout *l, const char *path, long long mtime,
    struct err *e);

/* tags: full names ("registry.example/app:v1") for RepoTags; scratch_dir
 * holds the uncompressed layers while they are added. */
int imgarchive_docker(const struct oci_layout *l, const struct oci_desc *manifest,
    char *const *tags, size_t ntags, const char *path, const char *scratch_dir,
    long long mtime, struct err *e);

#endif
