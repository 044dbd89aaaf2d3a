# ci-tools: from git push to production as small Unix filters.
# GNU make: each tool is cmd/NAME.c, each lib module lib/DOMAIN/NAME.c (see
# lib/README), each unit test t/unit/NAME.c, each page man/NAME.[157];
# adding one needs no edit here.

VERSION  = 0.1.0
PREFIX   = /usr/local
BINDIR   = $(PREFIX)/bin
MANDIR   = $(PREFIX)/share/man
PKG_CONFIG = pkg-config
PKGS     = libcurl libcjson libarchive libssl libcrypto zlib

CC       = cc
CFLAGS   = -O2 -g
WARN     = -Wall -Wextra -Wshadow -Wmissing-prototypes -Wstrict-prototypes \
           -Wformat=2 -Wno-format-nonliteral -Wvla
STD      = -std=c99 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -pthread
PKG_CFLAGS != $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null || echo -I/usr/include/cjson
PKG_LIBS   != $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null || echo -lcurl -lcjson -larchive -lssl -lcrypto -lz

# CI=true makes every warning an error; SANITIZE=1 builds with ASan+UBSan.
WERROR_  =
WERROR_true = -Werror
WERROR_1 = -Werror
SAN_     =
SAN_0    =
SAN_1    = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
ALLCFLAGS = $(STD) $(WARN) $(WERROR_$(CI)) $(SAN_$(SANITIZE)) $(PKG_CFLAGS) -Ilib $(CFLAGS)
ALLLDFLAGS = -pthread $(SAN_$(SANITIZE)) $(LDFLAGS)

TOOLS    = $(patsubst cmd/%.c,%,$(wildcard cmd/ci-*.c))
LIBOBJ   = $(patsubst %.c,%.o,$(wildcard lib/*/*.c))
LIBHDR   = $(wildcard lib/*/*.h)
UNITS    = $(patsubst %.c,%.t,$(wildcard t/unit/*.c))
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
	@for m in $(MAN1) $(MAN5) $(MAN7); do \
	    out=$$(mandoc -Tlint -W warning $$m 2>&1); \
	    if [ -n "$$out" ]; then echo "$$out"; exit 1; fi; done
	@scripts/checksrc cmd/*.c lib/*/*.c lib/*/*.h
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
	rm -f $(TOOLS) lib/*/*.o lib/libci.a t/unit/*.t .flags .flags.new
	rm -rf t/trash.* ci-out

.PHONY: all check test deps demo lint install uninstall clean FORCE
