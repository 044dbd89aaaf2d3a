# faults-lib.sh: full disks and crash checks for the fault tests (sourced
# after test-lib.sh).
#
#   faults_require_tmpfs     the script needs to mount a tmpfs (root): skip
#                            the whole script without it, fail under CI
#   tmpfs_mount DIR [SIZE]   a small tmpfs at DIR (default 256k), made if
#                            missing; pair it with test_when_finished
#                            "tmpfs_umount DIR"
#   tmpfs_umount DIR         unmount it (lazily, should something hold it)
#   tmpfs_umount_all         unmount whatever is still mounted under the
#                            trash directory (for an EXIT trap: a body
#                            that returns early skips its cleanups)
#   fill_up DIR              fill DIR's file system: the next write that
#                            needs a new page fails with ENOSPC (a file's
#                            last page still takes what fits in it)
#   pad_page FILE ROOM LINE  append copies of the JSON line LINE, then one
#                            with a longer "pad" value, so that FILE ends
#                            ROOM bytes short of a page: an append longer
#                            than ROOM is then cut short on a full tmpfs
#   no_temp_files DIR        nothing named *.tmp* or .*.tmp-* under DIR
#   layout_whole DIR         every image of the OCI layout DIR's
#                            index.json has its manifest, config and
#                            layers, each of the size and digest given

faults_require_tmpfs() {
	mkdir -p "$TRASH/.tmpfs-probe" &&
	mount -t tmpfs -o size=4k tmpfs "$TRASH/.tmpfs-probe" 2>/dev/null &&
	umount "$TRASH/.tmpfs-probe" && rmdir "$TRASH/.tmpfs-probe" && return 0
	if test -n "$test_ci"; then
		echo "not ok 1 - $TEST_NAME: cannot mount a tmpfs: the tests of a full disk run as root"
		echo "1..1"
		exit 1
	fi
	echo "1..0 # SKIP cannot mount a tmpfs (a full disk needs root)"
	exit 0
}

tmpfs_mount() {
	mkdir -p "$1" &&
	mount -t tmpfs -o "size=${2:-256k}" tmpfs "$1"
}

tmpfs_umount() {
	umount "$1" 2>/dev/null || umount -l "$1"
}

tmpfs_umount_all() {
	for m in $(awk -v t="$TRASH/" 'index($2, t) == 1 { print $2 }' /proc/mounts | sort -r); do
		tmpfs_umount "$m"
	done
}

fill_up() {
	dd if=/dev/zero of="$1/.fill" bs=4096 2>/dev/null
	test -s "$1/.fill"
}

pad_page() {
	python3 - "$@" <<-\EOF
	import json, os, sys
	path, room, line = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
	size = os.path.getsize(path) if os.path.exists(path) else 0
	want = (size // 4096 + 2) * 4096 - room
	with open(path, "a") as f:
	    while True:
	        text = json.dumps(dict(line, pad="")) + "\n"
	        if size + len(text) > want - 200:
	            break
	        f.write(text)
	        size += len(text)
	    fill = want - size - len(json.dumps(dict(line, pad=""))) - 1
	    f.write(json.dumps(dict(line, pad="x" * fill)) + "\n")
	assert os.path.getsize(path) % 4096 == 4096 - room, os.path.getsize(path)
	EOF
}

no_temp_files() {
	nt_found_=$(find "$1" \( -name '*.tmp*' -o -name '.*.tmp-*' \) -print) &&
	if test -n "$nt_found_"; then
		echo "temp files left in $1:"
		echo "$nt_found_"
		return 1
	fi
}

layout_whole() {
	python3 - "$1" <<-\EOF
	import hashlib, json, os, sys
	lay = sys.argv[1]
	def blob(d, size=None):
	    p = os.path.join(lay, "blobs", *d["digest"].split(":"))
	    data = open(p, "rb").read()
	    assert len(data) == d["size"], "%s: %d bytes, not %d" % (p, len(data), d["size"])
	    assert "sha256:" + hashlib.sha256(data).hexdigest() == d["digest"], p + ": digest"
	    return data
	idx = json.load(open(os.path.join(lay, "index.json")))
	for m in idx["manifests"]:
	    man = json.loads(blob(m))
	    for d in [man["config"]] + man["layers"]:
	        blob(d)
	EOF
}
