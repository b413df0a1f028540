# farm — build, run, test.  `make run` and `make check` are the two entry points.
# Quiet unless V=1.  SANITIZE=address,undefined builds everything with sanitizers.

PREFIX   ?= /usr/local
DESTDIR  ?=
BUILD    ?= build
CC       ?= cc
V        ?= 0
SANITIZE ?=

PKGS      := fcgi jansson libcurl gnutls libzmq libwebsockets
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -ldb-5.3 -lpthread

WARN     := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-unused-parameter
CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 $(WARN) -D_GNU_SOURCE -Ilib $(PKG_CFLAGS) -fno-strict-aliasing
LDFLAGS  ?=
ifneq ($(SANITIZE),)
CFLAGS   += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -O1
LDFLAGS  += -fsanitize=$(SANITIZE)
endif

ifeq ($(V),1)
Q :=
else
Q := @
endif

LIB_SRC  := $(sort $(wildcard lib/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
LIBFARM  := $(BUILD)/libfarm.a

# Each program is fcgi/<prog>.c plus its fcgi/<prog>-*.c companions.
PROGS    := farm-fcgi farmctl farm-eventd farm-wsd farm-runner
PROG_BIN := $(foreach p,$(PROGS),$(if $(wildcard fcgi/$(p).c),$(BUILD)/$(p)))

UNIT_SRC := $(sort $(wildcard t/unit/test-*.c))
UNIT_BIN := $(UNIT_SRC:t/unit/%.c=$(BUILD)/t/%)

FUZZ_SRC := $(sort $(wildcard t/fuzz/fuzz-*.c))
FUZZ_BIN := $(FUZZ_SRC:t/fuzz/%.c=$(BUILD)/fuzz/%)

.PHONY: all deps run check check-unit check-sanitize check-valgrind check-sanitize-full test clean install rpm fmt

all: $(PROG_BIN) $(UNIT_BIN) $(FUZZ_BIN)

deps:
	$(Q)scripts/deps

$(BUILD)/%.o: %.c $(wildcard lib/*.h) $(wildcard fcgi/*.h) Makefile
	@mkdir -p $(dir $@)
	@$(if $(filter 1,$(V)),,echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

$(LIBFARM): $(LIB_OBJ)
	@$(if $(filter 1,$(V)),,echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

define PROG_RULE
$(BUILD)/$(1): $(patsubst %.c,$(BUILD)/%.o,$(wildcard fcgi/$(1).c fcgi/$(1)-*.c)) $(LIBFARM)
	@$$(if $$(filter 1,$$(V)),,echo "  LD      $$@")
	$$(Q)$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(PKG_LIBS)
endef
$(foreach p,$(PROGS),$(if $(wildcard fcgi/$(p).c),$(eval $(call PROG_RULE,$(p)))))

$(BUILD)/t/%: $(BUILD)/t/unit/%.o $(LIBFARM)
	@mkdir -p $(dir $@)
	@$(if $(filter 1,$(V)),,echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# Fuzz targets are built as corpus replayers (t/fuzz/replay.c provides main()).
$(BUILD)/fuzz/%: $(BUILD)/t/fuzz/%.o $(BUILD)/t/fuzz/replay.o $(LIBFARM)
	@mkdir -p $(dir $@)
	@$(if $(filter 1,$(V)),,echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

run: deps all
	$(Q)scripts/farm-run

# The whole suite: warnings-as-errors build, unit tests, fuzz corpora and the
# integration tests (real nginx, pool, database, daemons, fakes) with prove,
# then the unit tests and fuzz corpora again under ASan/UBSan.
check: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)FARM_BUILD=$(CURDIR)/$(BUILD) prove -j2 --timer $(UNIT_BIN) t/fuzz.t $(sort $(wildcard t/t[0-9]*.sh))
	$(Q)$(MAKE) --no-print-directory check-sanitize

check-unit: all
	$(Q)FARM_BUILD=$(CURDIR)/$(BUILD) prove $(UNIT_BIN) t/fuzz.t

check-sanitize:
	$(Q)$(MAKE) --no-print-directory BUILD=build-san SANITIZE=address,undefined all
	$(Q)FARM_BUILD=$(CURDIR)/build-san ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  prove $(UNIT_SRC:t/unit/%.c=build-san/t/%) t/fuzz.t

# Valgrind over the unit tests (not part of check: slow).
check-valgrind: all
	$(Q)prove -e 'valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
	  --suppressions=t/valgrind.supp' $(UNIT_BIN)

# The whole suite under sanitizers, integration tests included.
check-sanitize-full:
	$(Q)$(MAKE) --no-print-directory BUILD=build-san SANITIZE=address,undefined all
	$(Q)FARM_BUILD=$(CURDIR)/build-san ASAN_OPTIONS=detect_leaks=0 prove $(UNIT_SRC:t/unit/%.c=build-san/t/%) t/fuzz.t $(sort $(wildcard t/t[0-9]*.sh))

test: check

clean:
	rm -rf build build-san

fmt:
	clang-format -i lib/*.[ch] fcgi/*.[ch] t/unit/*.[ch]
