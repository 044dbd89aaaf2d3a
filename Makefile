# ci-tools: from git push to production as small Unix filters.
# GNU make: each tool is cmd/NAME.c, each lib module lib/DOMAIN/NAME.c (see
# lib/README), each unit test t/unit/NAME.c, each page man/NAME.[157];
# adding one needs no edit here.

VERSION  = 0.1.0
PREFIX   = /usr/local
BINDIR   = $(PREFIX)/bin
MANDIR   = $(PREFIX)/share/man
PKG_CONFIG = pkg-config
PKGS     = libcurl libcjson libarchive libssl libcrypto zlib libxml-2.0
# libcurl, libarchive and libxml2 are compiled against but not linked:
# their loaders (lib/net/curl-load.c, lib/image/archive-load.c,
# lib/smoke/xml-load.c, on lib/core/dynlib) open each when a tool first
# needs it; with the libraries they pull in they were most of a start-up.
# libssl is not linked either: its one call runs inside libcurl, which
# has loaded it (lib/net/http.c).  Nor is libcrypto: core/crypto-load
# opens it where a stage's work begins (digests, CA files).
LINKPKGS = $(filter-out libcurl libarchive libxml-2.0 libssl libcrypto,$(PKGS))

CC       = cc
CFLAGS   = -O2 -g
WARN     = -Wall -Wextra -Wshadow -Wmissing-prototypes -Wstrict-prototypes \
           -Wformat=2 -Wno-format-nonliteral -Wvla
STD      = -std=c99 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -pthread
PKG_CFLAGS != $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null || echo -I/usr/include/cjson -I/usr/include/libxml2
PKG_LIBS   != $(PKG_CONFIG) --libs $(LINKPKGS) 2>/dev/null || echo -lcjson -lz
PKG_LIBS   += -ldl

# CI=true makes every warning an error; SANITIZE=1 builds with ASan+UBSan.
WERROR_  =
WERROR_true = -Werror
WERROR_1 = -Werror
SAN_     =
SAN_0    =
SAN_1    = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
ALLCFLAGS = $(STD) $(WARN) $(WERROR_$(CI)) $(SAN_$(SANITIZE)) $(PKG_CFLAGS) -Ilib $(CFLAGS)
# --as-needed: each tool depends only on the libraries it calls.
ALLLDFLAGS = -pthread -Wl,--as-needed $(SAN_$(SANITIZE)) $(LDFLAGS)

TOOLS    = $(patsubst cmd/%.c,%,$(wildcard cmd/ci-*.c))
LIBOBJ   = $(patsubst %.c,%.o,$(wildcard lib/*/*.c))
LIBHDR   = $(wildcard lib/*/*.h)
UNITS    = $(patsubst %.c,%.t,$(wildcard t/unit/*.c))
# Each t/fuzz/NAME.c but the driver is a fuzz target (t/README).
FUZZERS  = $(patsubst t/fuzz/%.c,%,$(filter-out t/fuzz/driver.c,$(wildcard t/fuzz/*.c)))
REPLAYS  = $(patsubst %,t/fuzz/%.run,$(FUZZERS))
FUZZHDR  = $(wildcard t/fuzz/*.h)
MAN1     = $(wildcard man/*.1)
MAN5     = $(wildcard man/*.5)
MAN7     = $(wildcard man/*.7)

all: $(TOOLS)

# Remember the flags: switching SANITIZE or CI rebuilds everything.
.flags: FORCE
	@echo '$(CC) $(ALLCFLAGS) $(ALLLDFLAGS)' > .flags.new; \
	if cmp -s .flags.new .flags; then rm -f .flags.new; else mv .flags.new .flags; fi
FORCE:

$(LIBOBJ): $(LIBHDR) .flags
# The version lives here alone; only version.o sees it.
lib/core/version.o: Makefile
lib/core/version.o: CFLAGS += -DCI_VERSION='"$(VERSION)"'
.c.o:
	$(CC) $(ALLCFLAGS) -c -o $@ $<

lib/libci.a: $(LIBOBJ)
	rm -f $@
	ar rcs $@ $(LIBOBJ)

$(TOOLS): %: cmd/%.c lib/libci.a $(LIBHDR) .flags
	$(CC) $(ALLCFLAGS) -o $@ cmd/$@.c lib/libci.a $(ALLLDFLAGS) $(PKG_LIBS) -lm

$(UNITS): %.t: %.c lib/libci.a $(wildcard t/unit/*.h) $(LIBHDR) .flags
	$(CC) $(ALLCFLAGS) -o $@ $< lib/libci.a $(ALLLDFLAGS) $(PKG_LIBS) -lm

# A fuzz target without libFuzzer: t/fuzz/driver.c feeds it files, so the
# tests replay every seed and regression through this build.
$(REPLAYS): %.run: %.c t/fuzz/driver.c $(FUZZHDR) lib/libci.a $(LIBHDR) .flags
	$(CC) $(ALLCFLAGS) -o $@ $< t/fuzz/driver.c lib/libci.a $(ALLLDFLAGS) $(PKG_LIBS) -lm

# make fuzz: lib/ again with clang, libFuzzer and ASan+UBSan, into
# build/fuzz/ (the normal objects stay as they are); then each target
# runs FUZZTIME seconds from its seeds (t/fuzz/corpus/NAME, the
# regressions, the dictionary t/fuzz/NAME.dict), growing its corpus in
# build/fuzz/corpus/NAME (paths given whole: a target may chdir, as git
# does, while an input runs).  make -j2 fuzz runs two at a time.  A crash,
# leak or timeout leaves its input in build/fuzz/crash/ and fails.
FUZZCC   = clang
FUZZTIME = 60
FUZZSAN  = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZFLAGS = $(STD) $(WARN) $(PKG_CFLAGS) -Ilib -O1 -g $(FUZZSAN)
FUZZOBJ  = $(patsubst %.c,build/fuzz/%.o,$(wildcard lib/*/*.c))
FUZZBIN  = $(patsubst %,build/fuzz/%,$(FUZZERS))
FUZZHAVE = build/fuzz/.clang
# A target without a dictionary t/fuzz/NAME.dict may share one.
FUZZDICT_pipeline = json
FUZZDICT_gate-spec = json
FUZZDICT_rollout-spec = json
FUZZDICT_oci = json
FUZZDICT_baseline = json
FUZZDICT_ledger = json
FUZZDICT_block = json
FUZZDICT_plainhead = http
FUZZDICT_prometheus = json
FUZZDICT_authfile = json
FUZZDICT_rollout-state = json

# clang without libFuzzer (a missing libclang-rt-dev) fails here, naming
# the packages, rather than in the middle of a link.
$(FUZZHAVE):
	@mkdir -p $(@D)
	@printf 'int LLVMFuzzerTestOneInput(const char *d, long n);\n%s\n' \
	    'int LLVMFuzzerTestOneInput(const char *d, long n) { return d && n < 0; }' \
	    >build/fuzz/have.c
	@$(FUZZCC) -fsanitize=fuzzer,address,undefined -o build/fuzz/have build/fuzz/have.c \
	    >/dev/null 2>&1 || { echo "make fuzz: $(FUZZCC) with libFuzzer is missing:" \
	    "install clang libclang-rt-dev (scripts/install-deps)" >&2; exit 1; }
	@touch $@

$(FUZZOBJ): build/fuzz/%.o: %.c $(LIBHDR) $(FUZZHAVE)
	@mkdir -p $(@D)
	$(FUZZCC) $(FUZZFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<
build/fuzz/lib/core/version.o: Makefile
build/fuzz/lib/core/version.o: FUZZFLAGS += -DCI_VERSION='"$(VERSION)"'

build/fuzz/libci.a: $(FUZZOBJ)
	rm -f $@
	ar rcs $@ $(FUZZOBJ)

$(FUZZBIN): build/fuzz/%: t/fuzz/%.c $(FUZZHDR) build/fuzz/libci.a $(LIBHDR)
	$(FUZZCC) $(FUZZFLAGS) -fsanitize=fuzzer -o $@ $< build/fuzz/libci.a \
	    -pthread $(PKG_LIBS) -lm

fuzz: $(patsubst %,fuzz-%,$(FUZZERS))

fuzz-%: build/fuzz/% FORCE
	@mkdir -p build/fuzz/corpus/$* build/fuzz/crash
	@echo "fuzz $*: $(FUZZTIME) s"
	@set -- $(CURDIR)/build/fuzz/corpus/$*; \
	for d in $(CURDIR)/t/fuzz/corpus/$* $(CURDIR)/t/fuzz/regressions/$*; do \
	    test -d $$d && set -- "$$@" $$d; done; \
	dict=t/fuzz/$*.dict; test -f $$dict || dict=t/fuzz/$(FUZZDICT_$*).dict; \
	test -f $$dict && dict=-dict=$$dict || dict=; \
	if build/fuzz/$* -max_total_time=$(FUZZTIME) -timeout=10 -rss_limit_mb=2048 \
	    -print_final_stats=1 -artifact_prefix=$(CURDIR)/build/fuzz/crash/$*- $$dict "$$@" \
	    >build/fuzz/$*.log 2>&1; then \
	    grep -E '^stat::number_of_executed_units' build/fuzz/$*.log | \
	        sed -e 's/^stat::number_of_executed_units: */fuzz $*: ok, /' -e 's/$$/ runs/'; \
	else \
	    tail -n 60 build/fuzz/$*.log; \
	    echo "fuzz $*: failed; the input is in build/fuzz/crash/, the log in build/fuzz/$*.log" >&2; \
	    exit 1; \
	fi

# make check installs what the tests need when something is missing, then
# (in a fresh make, so pkg-config sees the new libraries) builds and runs
# every TAP test with prove: C unit tests and shell tests alike.  Under CI
# (CI set and not false or 0, as .ci/run sets it) it first fuzzes every
# target for CIFUZZTIME seconds, two at a time (make fuzz, below), and
# after the tests runs them a second time built with SANITIZE=1
# (sanitize-test, below).
CIFUZZTIME = 20
check: deps
	@case "$(CI)" in ""|false|0) ;; *) \
	    $(MAKE) --no-print-directory -j2 fuzz FUZZTIME=$(CIFUZZTIME) || exit 1 ;; esac
	@$(MAKE) --no-print-directory test
	@case "$(CI)" in ""|false|0) ;; *) \
	    $(MAKE) --no-print-directory sanitize-test SANITIZE=1 || exit 1 ;; esac

# With SANITIZE=1 every sanitizer report goes to a file of build/san/ as
# well as failing the program (ASan and UBSan halt, LeakSanitizer is on):
# a test that expects a tool to fail must not take a sanitizer's exit for
# the failure it wanted, so any report there fails the run after prove.
SANDIR   = $(CURDIR)/build/san
SANOPTS  = log_path=$(SANDIR)/report:halt_on_error=1:abort_on_error=0
test: all $(UNITS) $(REPLAYS)
	@rm -rf $(SANDIR)
	@case "$(SANITIZE)" in 1) mkdir -p $(SANDIR) ;; esac
	@if [ "$(SANITIZE)" = 1 ]; then \
	    export ASAN_OPTIONS="$(SANOPTS):detect_leaks=1:exitcode=86" \
	        UBSAN_OPTIONS="$(SANOPTS):print_stacktrace=1:exitcode=86" \
	        LSAN_OPTIONS="$(SANOPTS):exitcode=86"; fi; \
	prove -j2 --timer -e '' $(TESTS); rc=$$?; \
	if [ -d $(SANDIR) ] && [ -n "$$(ls $(SANDIR))" ]; then \
	    for f in $$(ls $(SANDIR)/* | head -n 5); do echo "== $$f"; cat "$$f"; done; \
	    echo "make test: $$(ls $(SANDIR) | wc -l) sanitizer reports in $(SANDIR)" >&2; exit 1; fi; \
	exit $$rc
TESTS    = $(UNITS) t/t[0-9]*.sh

# The second run under CI: the same tests built with ASan and UBSan, but
# the fuzz replays (make fuzz ran every seed under both sanitizers just
# before), the tests that run none of our C code (the test library's
# self-test, the CI examples' YAML, the bench table), and, to stay within
# CI's time, the tests whose length is set by the clock rather than by our
# code: rollouts and rollbacks against live traffic (t05*, t06*), the
# demo, the network-fault tests (stalls held for seconds) and the kill -9
# tests under strace.  Their parsers and state files are fuzzed above.
SANSKIP  = t/t0002-test-lib.sh t/t0901-examples-ci.sh t/t0902-bench.sh \
           t/t0950-fuzz-regressions.sh t/t0900-demo.sh t/t0961-faults-kill.sh \
           $(wildcard t/t05*.sh t/t06*.sh t/t097*.sh)
sanitize-test:
	@echo "make check: the tests again, built with SANITIZE=1"
	@$(MAKE) --no-print-directory test SANITIZE=1 \
	    TESTS="$$(echo $(UNITS) $(filter-out $(SANSKIP),$(wildcard t/t[0-9]*.sh)))"

deps:
	@scripts/install-deps --check >/dev/null 2>&1 || scripts/install-deps

demo: deps
	@$(MAKE) --no-print-directory all
	scripts/demo

lint:
	@for m in $(MAN1) $(MAN5) $(MAN7); do \
	    out=$$(mandoc -Tlint -W warning $$m 2>&1); \
	    if [ -n "$$out" ]; then echo "$$out"; exit 1; fi; done
	@scripts/checksrc cmd/*.c lib/*/*.c lib/*/*.h t/fuzz/*.c t/fuzz/*.h
	@scripts/check-layers

install: all
	mkdir -p $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man7
	cp $(TOOLS) $(DESTDIR)$(BINDIR)/
	for m in $(MAN1); do cp $$m $(DESTDIR)$(MANDIR)/man1/; done
	for m in $(MAN5); do cp $$m $(DESTDIR)$(MANDIR)/man5/; done
	for m in $(MAN7); do cp $$m $(DESTDIR)$(MANDIR)/man7/; done

uninstall:
	for t in $(TOOLS); do rm -f $(DESTDIR)$(BINDIR)/$$t; done
	for m in $(MAN1); do rm -f $(DESTDIR)$(MANDIR)/man1/$${m#man/}; done
	for m in $(MAN5); do rm -f $(DESTDIR)$(MANDIR)/man5/$${m#man/}; done
	for m in $(MAN7); do rm -f $(DESTDIR)$(MANDIR)/man7/$${m#man/}; done

clean:
	rm -f $(TOOLS) lib/*/*.o lib/libci.a t/unit/*.t t/fuzz/*.run t/helpers/*.so .flags .flags.new
	rm -rf t/trash.* ci-out build/fuzz

.PHONY: all check test sanitize-test deps demo lint install uninstall clean fuzz FORCE
