# farm — build, run, test.  `make run` and `make check` are the two entry points.
# Quiet unless V=1.  SANITIZE=address,undefined builds everything with sanitizers.

PREFIX   ?= /usr/local
DESTDIR  ?=
BUILD    ?= build
CC       ?= cc
V        ?= 0
SANITIZE ?=

PKGS      := fcgi jansson libcurl gnutls libzmq libwebsockets zlib
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -ldb-5.3 -lpthread

WARN     := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-unused-parameter
CFLAGS   ?= -O2 -g
# lib/ is grouped by layer (core, store, creds, platform, events, pipeline), each
# platform a module folder lib/platform/<type>/; every header is included by file
# name alone.
LIB_DIRS := $(sort $(dir $(wildcard lib/*/*.h lib/platform/*/*.h)))
CFLAGS   += -std=gnu11 $(WARN) -D_GNU_SOURCE $(patsubst %/,-I%,$(LIB_DIRS)) $(PKG_CFLAGS) -fno-strict-aliasing
# The version every program prints (-v) and /farm-status reports: the VERSION file.
CFLAGS   += -DFARM_VERSION='"$(shell cat VERSION 2>/dev/null || echo 0.0.0)"'
LDFLAGS  ?=
ifneq ($(SANITIZE),)
CFLAGS   += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -O1
LDFLAGS  += -fsanitize=$(SANITIZE)
endif
# FUZZ_ENGINE=libfuzzer (set by `make fuzz`): everything instrumented for coverage, any
# sanitizer report fatal, fuzz targets linked with libFuzzer's main instead of replay.c.
ifeq ($(FUZZ_ENGINE),libfuzzer)
CFLAGS   += -fsanitize=fuzzer-no-link -fno-sanitize-recover=all
endif

ifeq ($(V),1)
Q :=
else
Q := @
endif

LIB_SRC  := $(sort $(wildcard lib/*/*.c lib/platform/*/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
LIBFARM  := $(BUILD)/libfarm.a

# Each program is the folder fcgi/<prog>/ (its main is fcgi/<prog>/<prog>.c).
PROGS    := farm-fcgi farmctl farm-eventd farm-wsd farm-runner
PROG_BIN := $(foreach p,$(PROGS),$(if $(wildcard fcgi/$(p)/$(p).c),$(BUILD)/$(p)))

UNIT_SRC := $(sort $(wildcard t/unit/test-*.c))
UNIT_BIN := $(UNIT_SRC:t/unit/%.c=$(BUILD)/t/%)

FUZZ_SRC := $(sort $(wildcard t/fuzz/fuzz-*.c))
FUZZ_BIN := $(FUZZ_SRC:t/fuzz/%.c=$(BUILD)/fuzz/%)

.PHONY: all deps fuzz run check check-unit check-sanitize check-valgrind check-sanitize-full test clean install rpm fmt

all: $(PROG_BIN) $(UNIT_BIN) $(FUZZ_BIN)

deps:
	$(Q)scripts/deps

$(BUILD)/%.o: %.c $(wildcard lib/*/*.h lib/platform/*/*.h) $(wildcard fcgi/*/*.h) $(wildcard t/fuzz/*.h) Makefile
	@mkdir -p $(dir $@)
	@$(if $(filter 1,$(V)),,echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/lib/core/daemon.o: VERSION

$(LIBFARM): $(LIB_OBJ)
	@$(if $(filter 1,$(V)),,echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

define PROG_RULE
$(BUILD)/$(1): $(patsubst %.c,$(BUILD)/%.o,$(wildcard fcgi/$(1)/*.c)) $(LIBFARM)
	@$$(if $$(filter 1,$$(V)),,echo "  LD      $$@")
	$$(Q)$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(PKG_LIBS)
endef
$(foreach p,$(PROGS),$(if $(wildcard fcgi/$(p)/$(p).c),$(eval $(call PROG_RULE,$(p)))))

$(BUILD)/t/%: $(BUILD)/t/unit/%.o $(LIBFARM)
	@mkdir -p $(dir $@)
	@$(if $(filter 1,$(V)),,echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# Fuzz targets are built as corpus replayers (t/fuzz/replay.c provides main()), or
# with FUZZ_ENGINE=libfuzzer as libFuzzer programs (make fuzz).
ifeq ($(FUZZ_ENGINE),libfuzzer)
$(BUILD)/fuzz/%: $(BUILD)/t/fuzz/%.o $(LIBFARM)
	@mkdir -p $(dir $@)
	@$(if $(filter 1,$(V)),,echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(PKG_LIBS)
else
$(BUILD)/fuzz/%: $(BUILD)/t/fuzz/%.o $(BUILD)/t/fuzz/replay.o $(LIBFARM)
	@mkdir -p $(dir $@)
	@$(if $(filter 1,$(V)),,echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)
endif

# make fuzz: every target (or FUZZ_TARGETS="fuzz-conf ...") built with clang's libFuzzer,
# ASan and UBSan into build-fuzz/, then run FUZZ_SECONDS each, one after the other,
# from its committed corpus (t/fuzz/corpus/<target>/, read only) and what earlier runs
# found (build-fuzz/corpus/<target>/).  A crash, leak, sanitizer report or broken
# contract leaves its input in build-fuzz/crash/ and fails the run; the log of each
# target is build-fuzz/<target>.log.  Not part of check: check replays the corpora.
FUZZ_SECONDS ?= 60
FUZZ_CC      ?= clang
FUZZ_BUILD   ?= build-fuzz
FUZZ_TARGETS ?= $(FUZZ_SRC:t/fuzz/%.c=%)
fuzz:
	$(Q)command -v $(FUZZ_CC) >/dev/null 2>&1 && \
	  [ -e "$$($(FUZZ_CC) -print-file-name=libclang_rt.fuzzer-$$(uname -m).a)" ] || scripts/deps fuzz
	$(Q)$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=$(FUZZ_CC) FUZZ_ENGINE=libfuzzer \
	  SANITIZE=address,undefined $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz/%)
	$(Q)fail=0; for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_BUILD)/corpus/$$t $(FUZZ_BUILD)/crash; \
	  dict=; [ -f t/fuzz/$$t.dict ] && dict=-dict=t/fuzz/$$t.dict; \
	  if $(FUZZ_BUILD)/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
	     -print_final_stats=1 $$dict -artifact_prefix=$(FUZZ_BUILD)/crash/$$t- \
	     $(FUZZ_BUILD)/corpus/$$t t/fuzz/corpus/$$t >$(FUZZ_BUILD)/$$t.log 2>&1; then r=ok; \
	  else r="FAILED (see $(FUZZ_BUILD)/crash/, $(FUZZ_BUILD)/$$t.log)"; fail=1; fi; \
	  printf '  FUZZ    %-20s %s runs, %s s: %s\n' $$t \
	    "$$(sed -n 's/^stat::number_of_executed_units: *//p' $(FUZZ_BUILD)/$$t.log)" \
	    $(FUZZ_SECONDS) "$$r"; \
	done; exit $$fail

run: deps all
	$(Q)scripts/farm-run

# The whole suite: warnings-as-errors build, unit tests, fuzz corpora and the
# integration tests (real nginx, pool, database, daemons, fakes) with prove,
# then the unit tests and fuzz corpora again under ASan/UBSan.
# Every answer the integration tests get through test-lib's api() is recorded
# (FARM_RECORD_DIR) and checked against docs/openapi.json afterwards (docs/api.md).
RECORDS := $(CURDIR)/$(BUILD)/openapi-records
check: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)rm -rf $(RECORDS)
	$(Q)FARM_BUILD=$(CURDIR)/$(BUILD) FARM_RECORD_DIR=$(RECORDS) \
	  prove -j2 --timer $(UNIT_BIN) t/fuzz.t $(sort $(wildcard t/t[0-9]*.sh))
	$(Q)$(MAKE) --no-print-directory check-openapi
	$(Q)$(MAKE) --no-print-directory check-sanitize

# The replication tests alone (issue 19, docs/replication.md; all three are in `make
# check` too): t9500 (three nodes on loopback, kill -9 of the master), t9510 (a link cut
# in network namespaces: root only, a TAP skip otherwise), t9520 (join, remove, rolling
# restart, a replica's backup), t9530 (a disk full on a replica, then on the master: root
# only), t9540 (a replica's WebSocket clients as quick as the master's), t9550 (step-down
# beside a checkpoint in its delay), t9560 (farm's acknowledgement wait).
HA_TESTS := t/t9500-replication.sh t/t9510-replication-netns.sh t/t9520-replication-ops.sh \
	t/t9530-replication-diskfull.sh t/t9540-replication-wake.sh \
	t/t9550-replication-stepdown.sh t/t9560-replication-acks.sh
.PHONY: check-ha
check-ha: all
	$(Q)FARM_BUILD=$(CURDIR)/$(BUILD) prove --timer $(HA_TESTS)

# The recorded answers of the last `make check` (or of tests run by hand with
# FARM_RECORD_DIR=$(RECORDS)) against the document's schemas.
.PHONY: check-openapi
check-openapi:
	$(Q)/usr/bin/python3 t/openapi-check.py lint docs/openapi.json
	$(Q)/usr/bin/python3 t/openapi-check.py responses docs/openapi.json $(wildcard $(RECORDS)/*.jsonl)

check-unit: all
	$(Q)FARM_BUILD=$(CURDIR)/$(BUILD) prove $(UNIT_BIN) t/fuzz.t

check-sanitize:
	$(Q)$(MAKE) --no-print-directory BUILD=build-san SANITIZE=address,undefined all
	$(Q)FARM_BUILD=$(CURDIR)/build-san ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  prove $(UNIT_SRC:t/unit/%.c=build-san/t/%) t/fuzz.t

# Valgrind over the unit tests (not part of check: slow).
VALGRIND := valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
	--suppressions=t/valgrind.supp
check-valgrind: all
	$(Q)prove -e '$(VALGRIND)' $(UNIT_BIN)

# The whole suite under sanitizers, integration tests included.
check-sanitize-full:
	$(Q)$(MAKE) --no-print-directory BUILD=build-san SANITIZE=address,undefined all
	$(Q)FARM_BUILD=$(CURDIR)/build-san ASAN_OPTIONS=detect_leaks=0 prove $(UNIT_SRC:t/unit/%.c=build-san/t/%) t/fuzz.t $(sort $(wildcard t/t[0-9]*.sh))

test: check

clean:
	rm -rf build build-san build-fuzz

fmt:
	clang-format -i lib/*/*.[ch] fcgi/*/*.[ch] t/unit/*.[ch]

# ---- install and packages ------------------------------------------------------
# make install DESTDIR=/tmp/root PREFIX=/usr   lays out what farm.spec packages:
#   $(SBINDIR)/farm-fcgi farm-eventd farm-wsd farm-runner (those built), $(BINDIR)/farmctl,
#   $(SYSCONFDIR)/farm/farm.conf (0640; never overwritten), units, sysusers.d, tmpfiles.d,
#   nginx drop-ins ($(NGINXDIR)/conf.d/farm.conf upstreams, default.d/farm.conf locations,
#   default.d/farm-console.conf the console at /, farm-fastcgi.conf), man pages, docs,
#   $(DATADIR)/openapi.json (served by the drop-in at /api/v1/openapi.json), the console's
#   static files in $(DATADIR)/www, the examples of a replication node's farm.socket
#   drop-in and nginx upstream in $(DATADIR)/replication, $(STATEDIR) (0700).
# FARM_SOCKET, FARM_WSD, FARM_NGINX_DIR, FARM_ACCESS_LOG, FARM_NGINX_GROUP, FARM_DATA_DIR,
# FARM_WWW_DIR fill the
# templates' placeholders (the tests point them into a trash directory).
# Ownership (farm user, nginx group) is the package's business: see farm.spec.
VERSION       := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
BINDIR        ?= $(PREFIX)/bin
SBINDIR       ?= $(PREFIX)/sbin
SYSCONFDIR    ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
LOCALSTATEDIR ?= /var
STATEDIR      ?= $(LOCALSTATEDIR)/lib/farm
RUNDIR        ?= /run/farm
SYSTEMDDIR    ?= $(if $(filter /usr,$(PREFIX)),/usr/lib,$(PREFIX)/lib)
UNITDIR       ?= $(SYSTEMDDIR)/systemd/system
SYSUSERSDIR   ?= $(SYSTEMDDIR)/sysusers.d
TMPFILESDIR   ?= $(SYSTEMDDIR)/tmpfiles.d
MANDIR        ?= $(PREFIX)/share/man
DOCDIR        ?= $(PREFIX)/share/doc/farm
DATADIR       ?= $(PREFIX)/share/farm
NGINXDIR      ?= $(SYSCONFDIR)/nginx
FARM_SOCKET      ?= $(RUNDIR)/farm.sock
FARM_WSD         ?= 127.0.0.1:8091
FARM_WS_LISTEN   ?= 8092
FARM_NGINX_DIR   ?= $(NGINXDIR)
FARM_ACCESS_LOG  ?= $(LOCALSTATEDIR)/log/nginx/farm-access.log
FARM_NGINX_GROUP ?= nginx
FARM_DATA_DIR    ?= $(DATADIR)
FARM_WWW_DIR     ?= $(FARM_DATA_DIR)/www

DAEMONS   := $(foreach p,farm-fcgi farm-eventd farm-wsd farm-runner,$(if $(wildcard fcgi/$(p)/$(p).c),$(p)))
UNITS     := farm.socket farm.service $(addsuffix .service,$(filter-out farm-fcgi,$(DAEMONS)))
MAN8      := farmctl.8 $(addsuffix .8,$(DAEMONS))
MAN_OUT   := $(BUILD)/doc/farm.conf.5 $(MAN8:%=$(BUILD)/doc/%)

SUBST = sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@BINDIR@|$(BINDIR)|g' \
	-e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' -e 's|@FARM_STATEDIR@|$(STATEDIR)|g' \
	-e 's|@FARM_RUNDIR@|$(RUNDIR)|g' -e 's|@FARM_SOCKET@|$(FARM_SOCKET)|g' \
	-e 's|@FARM_WSD@|$(FARM_WSD)|g' -e 's|@FARM_NGINX_DIR@|$(FARM_NGINX_DIR)|g' \
	-e 's|@FARM_ACCESS_LOG@|$(FARM_ACCESS_LOG)|g' -e 's|@FARM_NGINX_GROUP@|$(FARM_NGINX_GROUP)|g' \
	-e 's|@FARM_DATA_DIR@|$(FARM_DATA_DIR)|g' -e 's|@FARM_WWW_DIR@|$(FARM_WWW_DIR)|g' \
	-e 's|@FARM_WS_LISTEN@|$(FARM_WS_LISTEN)|g' \
	-e 's|@VERSION@|$(VERSION)|g'

# farm.conf(5)'s key list comes from the config table itself (farmctl config keys --man).
$(BUILD)/doc/farm.conf.5: doc/farm.conf.5.in $(BUILD)/farmctl VERSION
	@mkdir -p $(dir $@)
	@$(if $(filter 1,$(V)),,echo "  GEN     $@")
	$(Q){ sed '/^@KEYS@$$/,$$d' $< && env -u FARM_CONFIG $(BUILD)/farmctl config keys --man && \
	  sed '1,/^@KEYS@$$/d' $<; } | $(SUBST) >$@.tmp && mv $@.tmp $@

$(BUILD)/doc/%.8: doc/%.8 VERSION
	@mkdir -p $(dir $@)
	$(Q)$(SUBST) $< >$@

.PHONY: man rpm-sysusers
man: $(MAN_OUT)

rpm-sysusers:
	@$(SUBST) scripts/systemd/farm.sysusers

install: $(PROG_BIN) $(MAN_OUT)
	@$(if $(filter 1,$(V)),,echo "  INSTALL $(DESTDIR)$(PREFIX)")
	$(Q)install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(UNITDIR) \
	  $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR) $(DESTDIR)$(MANDIR)/man5 \
	  $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(DOCDIR) $(DESTDIR)$(NGINXDIR)/conf.d \
	  $(DESTDIR)$(NGINXDIR)/default.d $(DESTDIR)$(DATADIR)
	$(Q)install -d -m 0750 $(DESTDIR)$(SYSCONFDIR)/farm
	$(Q)install -d -m 0700 $(DESTDIR)$(STATEDIR)
	$(Q)install -m 0755 $(BUILD)/farmctl $(DESTDIR)$(BINDIR)/farmctl
	$(Q)for d in $(DAEMONS); do install -m 0755 $(BUILD)/$$d $(DESTDIR)$(SBINDIR)/$$d || exit 1; done
	$(Q)set -e; if [ -e $(DESTDIR)$(SYSCONFDIR)/farm/farm.conf ]; then \
	  echo "  KEEP    $(DESTDIR)$(SYSCONFDIR)/farm/farm.conf (new one: farm.conf.new)"; \
	  $(SUBST) packaging/farm.conf.in >$(DESTDIR)$(SYSCONFDIR)/farm/farm.conf.new; \
	  chmod 0640 $(DESTDIR)$(SYSCONFDIR)/farm/farm.conf.new; \
	else \
	  $(SUBST) packaging/farm.conf.in >$(DESTDIR)$(SYSCONFDIR)/farm/farm.conf; \
	  chmod 0640 $(DESTDIR)$(SYSCONFDIR)/farm/farm.conf; \
	fi
	$(Q)set -e; for u in $(UNITS); do \
	  $(SUBST) scripts/systemd/$$u >$(DESTDIR)$(UNITDIR)/$$u; chmod 0644 $(DESTDIR)$(UNITDIR)/$$u; done
	$(Q)$(SUBST) scripts/systemd/farm.sysusers >$(DESTDIR)$(SYSUSERSDIR)/farm.conf
	$(Q)$(SUBST) scripts/systemd/farm.tmpfiles >$(DESTDIR)$(TMPFILESDIR)/farm.conf
	$(Q)$(SUBST) nginx/farm-upstream.conf >$(DESTDIR)$(NGINXDIR)/conf.d/farm.conf
	$(Q)$(SUBST) nginx/farm-locations.conf >$(DESTDIR)$(NGINXDIR)/default.d/farm.conf
	$(Q)$(SUBST) nginx/farm-console.conf >$(DESTDIR)$(NGINXDIR)/default.d/farm-console.conf
	$(Q)$(SUBST) nginx/farm-fastcgi.conf >$(DESTDIR)$(NGINXDIR)/farm-fastcgi.conf
	$(Q)$(SUBST) nginx/farm-stream.conf >$(DESTDIR)$(NGINXDIR)/farm-stream.conf
	$(Q)chmod 0644 $(DESTDIR)$(SYSUSERSDIR)/farm.conf $(DESTDIR)$(TMPFILESDIR)/farm.conf \
	  $(DESTDIR)$(NGINXDIR)/conf.d/farm.conf $(DESTDIR)$(NGINXDIR)/default.d/farm.conf \
	  $(DESTDIR)$(NGINXDIR)/default.d/farm-console.conf \
	  $(DESTDIR)$(NGINXDIR)/farm-fastcgi.conf $(DESTDIR)$(NGINXDIR)/farm-stream.conf
	$(Q)install -m 0644 $(BUILD)/doc/farm.conf.5 $(DESTDIR)$(MANDIR)/man5/farm.conf.5
	$(Q)install -m 0644 $(MAN8:%=$(BUILD)/doc/%) $(DESTDIR)$(MANDIR)/man8/
	$(Q)install -m 0644 $(wildcard README.md docs/*.md) $(DESTDIR)$(DOCDIR)/
	$(Q)install -m 0644 docs/openapi.json $(DESTDIR)$(DATADIR)/openapi.json
	$(Q)install -d $(DESTDIR)$(DATADIR)/www/js
	$(Q)install -m 0644 $(wildcard www/*.html www/*.css www/*.svg) $(DESTDIR)$(DATADIR)/www/
	$(Q)install -m 0644 $(wildcard www/js/*.js) $(DESTDIR)$(DATADIR)/www/js/
	$(Q)install -d $(DESTDIR)$(DATADIR)/replication
	$(Q)install -m 0644 scripts/systemd/farm.socket-replication.conf nginx/farm-replication.conf \
	  $(DESTDIR)$(DATADIR)/replication/

# make rpm: source and binary RPMs with rpmbuild in a private _topdir ($(BUILD)/rpmbuild).
# --nodeps: Debian has no RPM database to check BuildRequires against.  rpmbuild runs
# with a clean environment: this make's command-line variables (BUILD=...) are in
# ours and would leak into the spec's own make.
RPM_TOP  := $(abspath $(BUILD))/rpmbuild
DIST_TAR := $(RPM_TOP)/SOURCES/farm-$(VERSION).tar.gz
DIST_SRC := $(wildcard Makefile VERSION farm.spec README.md .clang-format lib fcgi nginx scripts t doc docs packaging www)

rpm: farm.spec
	$(Q)test "$$(sed -n 's/^Version:[[:space:]]*//p' farm.spec)" = "$(VERSION)" || \
	  { echo "farm.spec Version differs from VERSION ($(VERSION))" >&2; exit 1; }
	$(Q)rm -rf $(RPM_TOP) && mkdir -p $(RPM_TOP)/SOURCES $(RPM_TOP)/SPECS
	@$(if $(filter 1,$(V)),,echo "  TAR     $(DIST_TAR)")
	$(Q)tar -czf $(DIST_TAR) --exclude-vcs --exclude='t/trash.*' --exclude='__pycache__' \
	  --exclude='*.o' --transform 's,^,farm-$(VERSION)/,' $(DIST_SRC)
	$(Q)$(MAKE) --no-print-directory -s STATEDIR=/var/lib/farm rpm-sysusers >$(RPM_TOP)/SOURCES/farm.sysusers
	$(Q)cp farm.spec $(RPM_TOP)/SPECS/farm.spec
	@$(if $(filter 1,$(V)),,echo "  RPMBUILD $(RPM_TOP)")
	$(Q)env -i PATH="$$PATH" HOME="$$HOME" LANG=C.UTF-8 rpmbuild -ba --nodeps --define '_topdir $(RPM_TOP)' \
	  $(if $(wildcard fcgi/farm-runner/farm-runner.c),,--without runner) \
	  $(RPM_TOP)/SPECS/farm.spec >$(RPM_TOP)/rpmbuild.log 2>&1 || \
	  { tail -n 40 $(RPM_TOP)/rpmbuild.log >&2; exit 1; }
	$(Q)ls $(RPM_TOP)/SRPMS/*.src.rpm $(RPM_TOP)/RPMS/*/*.rpm
