# build-lib.sh: fixtures for the ci-build tests (sourced after test-lib.sh).
#
#   img_digest DOC            build.image.digest of a document
#   img_config LAYOUT [TAG]   the image config, pretty JSON
#   img_manifest LAYOUT [TAG] the image manifest, pretty JSON
#   img_files LAYOUT [TAG]    every layer's entries, one a line:
#                             "LAYER PATH TYPE MODE UID:GID UNAME:GNAME MTIME SIZE LINK"
#   img_file LAYOUT TAG PATH  the content of PATH in the top layer that has it
#   busybox_ctx DIR           a build context for a busybox base image:
#                             /bin/busybox, its applets as symlinks,
#                             /etc/passwd and /etc/group with user app and group staff
#   host_tools DIR PROG...    copy the host's PROGs (absolute paths) into DIR
#                             with the shared libraries they load, as a base
#                             image has them (Debian's useradd, say)
#   layer_paths LAYOUT TAG N  the paths in layer N (0 first, -1 last), sorted
#   no_tmp_dirs DIR           DIR holds no ".*.tmp-*" leftovers

test_tool_prereq UMOCI umoci command -v umoci
test_tool_prereq SKOPEO skopeo command -v skopeo
test_tool_prereq BUSYBOX busybox-static test -x /bin/busybox
# runc runs containers as root only here: a test with RUNC also needs ROOT.
test_tool_prereq RUNC runc command -v runc
test_tool_prereq ZSTD zstd command -v zstd
test_tool_prereq PIGZ pigz command -v pigz
# Not a package: unpacking with owners and running containers need root.
test_env_prereq ROOT test "$(id -u)" = 0

img_digest() {
	python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["build"]["image"]["digest"])' "$1"
}

# The descriptor of TAG (or of the only manifest) in a layout.
img_blob_() {
	python3 - "$@" <<'PY'
import json, sys
lay = sys.argv[1]
tag = sys.argv[2] if len(sys.argv) > 2 and sys.argv[2] else None
what = sys.argv[3]
idx = json.load(open(lay + "/index.json"))
ms = [m for m in idx["manifests"]
      if tag is None or m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag]
if len(ms) < 1:
    sys.exit("no manifest for tag %s" % tag)
blob = lambda d: lay + "/blobs/sha256/" + d[7:]
m = json.load(open(blob(ms[0]["digest"])))
if what == "manifest":
    print(json.dumps(m, indent=1, sort_keys=True))
elif what == "config":
    print(json.dumps(json.load(open(blob(m["config"]["digest"]))), indent=1, sort_keys=True))
PY
}

img_manifest() { img_blob_ "$1" "${2-}" manifest; }
img_config() { img_blob_ "$1" "${2-}" config; }

img_files() {
	python3 - "$1" "${2-}" <<'PY'
import json, sys, tarfile
lay, tag = sys.argv[1], sys.argv[2] or None
idx = json.load(open(lay + "/index.json"))
ms = [m for m in idx["manifests"]
      if tag is None or m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag]
blob = lambda d: lay + "/blobs/sha256/" + d[7:]
m = json.load(open(blob(ms[0]["digest"])))
types = {tarfile.REGTYPE: "f", tarfile.AREGTYPE: "f", tarfile.DIRTYPE: "d",
         tarfile.SYMTYPE: "l", tarfile.LNKTYPE: "h", tarfile.CHRTYPE: "c",
         tarfile.BLKTYPE: "b", tarfile.FIFOTYPE: "p"}
for i, l in enumerate(m["layers"]):
    mode = "r:*"
    with tarfile.open(blob(l["digest"]), mode) as t:
        for e in t.getmembers():
            print(i, e.name, types.get(e.type, "?"), "%04o" % e.mode, "%d:%d" % (e.uid, e.gid),
                  "%s:%s" % (e.uname, e.gname), e.mtime, e.size, e.linkname)
PY
}

img_file() {
	python3 - "$1" "$2" "$3" <<'PY'
import json, sys, tarfile
lay, tag, want = sys.argv[1], sys.argv[2] or None, sys.argv[3].lstrip("/")
idx = json.load(open(lay + "/index.json"))
ms = [m for m in idx["manifests"]
      if tag is None or m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag]
blob = lambda d: lay + "/blobs/sha256/" + d[7:]
m = json.load(open(blob(ms[0]["digest"])))
for l in reversed(m["layers"]):
    with tarfile.open(blob(l["digest"]), "r:*") as t:
        for e in t.getmembers():
            if e.name.rstrip("/") == want and e.isfile():
                sys.stdout.buffer.write(t.extractfile(e).read())
                sys.exit(0)
sys.exit("no %s in the image" % want)
PY
}

busybox_ctx() {
	mkdir -p "$1/bin" "$1/etc" &&
	cp /bin/busybox "$1/bin/busybox" &&
	for a in sh echo cat ls id wc env sleep true false; do
		ln -s busybox "$1/bin/$a" || return 1
	done &&
	printf 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001:app:/home/app:/bin/sh\n' >"$1/etc/passwd" &&
	printf 'root:x:0:\nappgrp:x:1001:\nstaff:x:50:app\n' >"$1/etc/group" &&
	cat >"$1/Dockerfile" <<-\EOF
	FROM scratch
	COPY bin /bin/
	COPY etc /etc/
	ENV PATH=/bin
	CMD ["/bin/sh"]
	EOF
}

host_tools() {
	d=$1 && shift &&
	for p in "$@"; do
		mkdir -p "$d${p%/*}" && cp -L "$p" "$d$p" || return 1
		for lib in $(ldd "$p" | sed -n 's|.*[ 	]\(/[^ ]*\) (0x.*|\1|p'); do
			mkdir -p "$d${lib%/*}" && cp -L "$lib" "$d$lib" || return 1
		done
	done
}

layer_paths() {
	python3 - "$@" <<'PY'
import json, sys, tarfile
lay, tag, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
idx = json.load(open(lay + "/index.json"))
ms = [m for m in idx["manifests"]
      if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag]
blob = lambda d: lay + "/blobs/sha256/" + d[7:]
m = json.load(open(blob(ms[0]["digest"])))
for name in sorted(t.name for t in tarfile.open(blob(m["layers"][n]["digest"]))):
    print(name)
PY
}

no_tmp_dirs() {
	if ls -a "$1" | grep -q '\.tmp-'; then
		echo "leftovers in $1:"
		ls -a "$1"
		return 1
	fi
}
