# ci-tools: from git push to production as small Unix filters.
.POSIX:

PREFIX   = /usr/local
BINDIR   = $(PREFIX)/bin
MANDIR   = $(PREFIX)/share/man
PKG_CONFIG = pkg-config
PKGS     = libcurl libcjson libarchive libcrypto

CC       = cc
CFLAGS   = -O2 -g
WARN     = -Wall -Wextra -Wshadow -Wmissing-prototypes -Wstrict-prototypes \
           -Wformat=2 -Wno-format-nonliteral -Wvla
STD      = -std=c99 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
PKG_CFLAGS != $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null || echo -I/usr/include/cjson
PKG_LIBS   != $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null || echo -lcurl -lcjson -larchive -lcrypto

# CI=true makes every warning an error; SANITIZE=1 builds with ASan+UBSan.
WERROR_  =
WERROR_true = -Werror
WERROR_1 = -Werror
SAN_     =
SAN_0    =
SAN_1    = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
ALLCFLAGS = $(STD) $(WARN) $(WERROR_$(CI)) $(SAN_$(SANITIZE)) $(PKG_CFLAGS) -Ilib $(CFLAGS)
ALLLDFLAGS = $(SAN_$(SANITIZE)) $(LDFLAGS)

TOOLS    = ci-gate
LIBOBJ   = lib/log.o lib/buf.o lib/json.o lib/pipeline.o lib/proc.o \
           lib/fsutil.o lib/timeutil.o lib/xml.o lib/report.o lib/git.o
LIBHDR   = lib/log.h lib/buf.h lib/json.h lib/pipeline.h lib/proc.h \
           lib/fsutil.h lib/timeutil.h lib/xml.h lib/report.h lib/git.h
UNITS    = t/unit/buf.t t/unit/json.t t/unit/pipeline.t t/unit/proc.t \
           t/unit/fsutil.t t/unit/timeutil.t t/unit/report.t
MAN1     = man/ci-gate.1
MAN5     = man/ci-pipeline.5
MAN7     = man/ci-tools.7

all: $(TOOLS)

# Remember the flags: switching SANITIZE or CI rebuilds everything.
.flags: FORCE
	@echo '$(CC) $(ALLCFLAGS) $(ALLLDFLAGS)' > .flags.new; \
	if cmp -s .flags.new .flags; then rm -f .flags.new; else mv .flags.new .flags; fi
FORCE:

$(LIBOBJ): $(LIBHDR) .flags
.c.o:
	$(CC) $(ALLCFLAGS) -c -o $@ $<

lib/libci.a: $(LIBOBJ)
	rm -f $@
	ar rcs $@ $(LIBOBJ)

ci-gate: cmd/ci-gate.c lib/libci.a $(LIBHDR) .flags
	$(CC) $(ALLCFLAGS) -o $@ cmd/ci-gate.c lib/libci.a $(ALLLDFLAGS) $(PKG_LIBS)

$(UNITS): lib/libci.a t/unit/tap.h $(LIBHDR) .flags
t/unit/buf.t: t/unit/buf.c
t/unit/json.t: t/unit/json.c
t/unit/pipeline.t: t/unit/pipeline.c
t/unit/proc.t: t/unit/proc.c
t/unit/fsutil.t: t/unit/fsutil.c
t/unit/timeutil.t: t/unit/timeutil.c
t/unit/report.t: t/unit/report.c
$(UNITS):
	$(CC) $(ALLCFLAGS) -o $@ $(@:.t=.c) lib/libci.a $(ALLLDFLAGS) $(PKG_LIBS)

# make check installs what the tests need when something is missing, then
# (in a fresh make, so pkg-config sees the new libraries) builds and runs
# every TAP test with prove: C unit tests and shell tests alike.
check: deps
	@$(MAKE) --no-print-directory test

test: all $(UNITS)
	prove -j2 -e '' $(UNITS) t/t[0-9]*.sh

deps:
	@scripts/install-deps --check >/dev/null 2>&1 || scripts/install-deps

demo: deps
	@$(MAKE) --no-print-directory all
	scripts/demo

lint:
	@for m in man/*.[1-8]; do mandoc -Tlint -W warning $$m || exit 1; done
	@scripts/checksrc cmd/*.c lib/*.c lib/*.h

install: all
	mkdir -p $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man7
	cp $(TOOLS) $(DESTDIR)$(BINDIR)/
	cp $(MAN1) $(DESTDIR)$(MANDIR)/man1/
	cp $(MAN5) $(DESTDIR)$(MANDIR)/man5/
	cp $(MAN7) $(DESTDIR)$(MANDIR)/man7/

uninstall:
	for t in $(TOOLS); do rm -f $(DESTDIR)$(BINDIR)/$$t; done
	for m in $(MAN1); do rm -f $(DESTDIR)$(MANDIR)/man1/$${m#man/}; done
	for m in $(MAN5); do rm -f $(DESTDIR)$(MANDIR)/man5/$${m#man/}; done
	for m in $(MAN7); do rm -f $(DESTDIR)$(MANDIR)/man7/$${m#man/}; done

clean:
	rm -f $(TOOLS) lib/*.o lib/libci.a $(UNITS) .flags .flags.new
	rm -rf t/trash.* ci-out

.PHONY: all check test deps demo lint install uninstall clean FORCE
