/*
 * resources: CPU and memory of one instance (canary or stable), read from
 * its cgroup, for ci-canary's "resources" metric source.  The values are
 * ratios of the instance's limits: CPU time over an interval against the
 * cores it may use, memory in use against the memory it may use.
 *
 * Where the instance is (the "where" argument):
 *   cgroup:PATH    a cgroup path ("/system.slice/app.service"), or a
 *                  directory under the cgroup root ("/sys/fs/cgroup/...";
 *                  on v1 the controller's directory, "/sys/fs/cgroup/
 *                  memory/app", names the same path in every hierarchy)
 *   pid:N          the cgroup of process N, from /proc/N/cgroup
 *   pidfile:FILE   the same for the process id written in FILE
 *   runc:ID        the same for container ID's init process, as
 *                  "runc [--root RUNC_ROOT] state ID" reports it
 *
 * Which cgroup version: when ROOT/cgroup.controllers exists the host is
 * unified (v2): one hierarchy at ROOT, a process's cgroup on its "0::"
 * line.  Otherwise each controller has its own hierarchy (v1, and hybrid
 * hosts whose v2 at ROOT/unified holds no controller we read): the
 * directory of ROOT whose name, split at commas, names the controller
 * ("cpuacct", or a combined "cpu,cpuacct"), a process's cgroup on the
 * line that names it.  A v1 hierarchy that is not there, or a v2
 * controller the cgroup's cgroup.controllers does not list, is left out;
 * a file it should have that is missing or unparsable is an error.
 *
 *                    v2                         v1
 *   CPU used         cpu.stat usage_usec        cpuacct.usage (ns)
 *   CPU quota        cpu.max                    cpu.cfs_quota_us and
 *                                               cpu.cfs_period_us
 *   CPUs allowed     cpuset.cpus.effective      cpuset.effective_cpus,
 *                                               else cpuset.cpus
 *   memory used      memory.current minus       memory.usage_in_bytes minus
 *                    memory.stat inactive_file  memory.stat total_inactive_file
 *   memory limit     memory.max                 memory.limit_in_bytes
 *
 * Memory in use leaves out inactive page cache, as docker stats does.
 * Limits: a quota or a memory limit is the tightest of the cgroup's own
 * (which must be readable) and its ancestors' (skipped where missing); the
 * CPU limit is also at most the size of the cpuset (an empty cpuset, as a
 * new v1 cgroup has, counts as none).  Both are capped by the host: its
 * online CPUs (the cpuN lines of /proc/stat) and MemTotal (/proc/meminfo),
 * so "max" or v1's huge "no limit" value give the host's size, and
 * cpu_limited/mem_limited say the cgroup allows less than the host has.
 *
 * Errors: EX_USAGE_ for a "where" that is not one (unknown prefix, bad
 * pid, relative or ".." path); EX_SERVICE when what it names cannot be
 * read (no such process, a pidfile with garbage, a cgroup file missing or
 * unparsable, runc failing).  Messages start with "resources of 'WHERE'"
 * and name the file or the input.  The functions keep no state but the
 * roots below; a read does not write to the cgroup.
 */
#ifndef CI_ROLLOUT_RESOURCES_H
#define CI_ROLLOUT_RESOURCES_H

#include "core/log.h"

struct res_sample {
	long long at_ms;		/* mono_ms() when the CPU time was read */
	int has_cpu;
	unsigned long long cpu_usec;	/* cumulative CPU time of the cgroup */
	double cpu_limit;		/* cores the cgroup may use (see above) */
	int cpu_limited;		/* 1: a quota or cpuset below the host's CPUs */
	int has_mem;
	unsigned long long mem_bytes;	/* in use, without inactive page cache */
	unsigned long long mem_limit;	/* bytes it may use (see above) */
	int mem_limited;		/* 1: a limit below the host's MemTotal */
};

/* Read the instance at where; runc_root (or NULL) is runc's --root.  On
 * error s is zeroed and e says why. */
int resources_read(const char *where, const char *runc_root, struct res_sample *s,
    struct err *e);

/* Percent of b's CPU limit used between samples a and b (b later); -1
 * when it cannot be told: no CPU data, no time between them, or the CPU
 * time went back (the cgroup was recreated). */
double resources_cpu_percent(const struct res_sample *a, const struct res_sample *b);

/* Percent of the memory limit in use; -1 without memory data. */
double resources_mem_percent(const struct res_sample *s);

/*
 * For tests: read cgroups under sysfs_cgroup instead of /sys/fs/cgroup,
 * and processes, /proc/stat and /proc/meminfo under proc instead of
 * /proc.  NULL restores the default.  Not thread-safe; call it before
 * reading.
 */
void resources_set_root(const char *sysfs_cgroup, const char *proc);

#endif
