# kiln: build, test, benchmark and install the VMM and its jailer.
#
#   make            build build/kiln, build/jailer, build/kiln-agent (static, for guests)
#                   and build/kiln-agent-client
#   make test       every test, exactly as CI runs it
#   make bench      benchmarks, printed side by side with their references
#   make demo       install what is missing, build, and boot a microVM
#   make install    PREFIX=/usr/local DESTDIR=
#   make deps       install build and test dependencies (apt-get, as root)
#   V=1             show full commands
#   SANITIZE=1      build with ASan+UBSan (into build/asan by default)

HOST_ARCH := $(shell uname -m)
ARCH ?= $(HOST_ARCH)
SANITIZE ?= 0
# A cross build (ARCH=aarch64 on x86-64) uses Debian's cross toolchain and the arm64
# -dev packages (multiarch; tools/deps.sh installs them), and builds into its own
# directory so that native and cross builds coexist.
ifneq ($(ARCH),$(HOST_ARCH))
CROSS_COMPILE ?= $(ARCH)-linux-gnu-
ARCH_BUILD := build/$(ARCH)
else
ARCH_BUILD := build
endif
ifeq ($(SANITIZE),1)
BUILD ?= $(ARCH_BUILD)/asan
else ifeq ($(SANITIZE),fuzz)
BUILD ?= $(ARCH_BUILD)/fuzz
else ifeq ($(SANITIZE),fuzzcov)
BUILD ?= $(ARCH_BUILD)/fuzzcov
else
BUILD ?= $(ARCH_BUILD)
endif
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
DOCDIR ?= $(PREFIX)/share/doc/kiln
# systemd reads units from /usr/local/lib/systemd/system too; with PREFIX=/usr, the
# distribution's /usr/lib/systemd/system.
UNITDIR ?= $(PREFIX)/lib/systemd/system
DESTDIR ?=
CC ?= gcc
HOSTCC ?= gcc
PKG_CONFIG ?= pkg-config
HOST_PKG_CONFIG := pkg-config
ifneq ($(CROSS_COMPILE),)
# make's built-in defaults (cc, ar) would be the host's tools.
ifeq ($(origin CC),default)
CC := $(CROSS_COMPILE)gcc
endif
ifeq ($(origin AR),default)
AR := $(CROSS_COMPILE)ar
endif
ifeq ($(origin PKG_CONFIG),file)
PKG_CONFIG := $(CROSS_COMPILE)pkg-config
endif
endif

ifeq ($(V),1)
Q :=
msg = @true
else
Q := @
msg = @printf '  %-7s %s\n' $(1) $(2)
endif

WARNINGS := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wimplicit-fallthrough \
	-Wstrict-prototypes -Wmissing-prototypes -Wno-missing-field-initializers
HARDEN := -fstack-protector-strong -fPIE
HARDEN_LD := -pie -Wl,-z,relro,-z,now,-z,noexecstack
# kiln and the jailer are static: inside the jail there is no libc to load.
# Sanitizer builds cannot be static and run outside a jail.
ifeq ($(SANITIZE),1)
OPT := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
OPT_LD := -fsanitize=address,undefined
STATIC_LD :=
else ifeq ($(SANITIZE),fuzz)
# `make fuzz`: clang's libFuzzer coverage plus ASan and UBSan in every object. (clang
# calls the kvm_msrs header-plus-entries struct in regs.c an extension; gcc does not.)
OPT := -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined \
	-fno-sanitize-recover=all -Wno-gnu-variable-sized-type-not-at-end
OPT_LD := -fsanitize=address,undefined
STATIC_LD :=
else ifeq ($(SANITIZE),fuzzcov)
# `make fuzz-coverage`: the fuzz targets with clang's source-based coverage, no sanitizers.
OPT := -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link -fprofile-instr-generate \
	-fcoverage-mapping -Wno-gnu-variable-sized-type-not-at-end
OPT_LD := -fprofile-instr-generate
STATIC_LD :=
else
OPT := -O2 -g -D_FORTIFY_SOURCE=3
OPT_LD :=
STATIC_LD := -static-pie
endif

# Each binary links only what it uses.
VMM_PKGS := jansson liburing
JAILER_PKGS := libcap libcgroup
# The architecture's own libraries (ARCH_VMM_LIBS; arm64: libfdt) and unit tests.
-include vmm/arch/$(ARCH)/arch.mk
# Library flags come from pkg-config when make reads this file, so the libraries must be
# there before: `make test`, `make demo` and `make bench` install them first (tools/deps.sh)
# and then run make again. Any other goal that builds says what is missing instead of
# failing to link.
NODEPS_GOALS := deps check-deps clean uninstall help test demo bench fuzz fuzz-coverage
ifneq ($(filter-out $(NODEPS_GOALS),$(or $(MAKECMDGOALS),all)),)
PKG_MISSING := $(shell for p in $(VMM_PKGS) $(JAILER_PKGS); do \
	$(PKG_CONFIG) --exists $$p 2>/dev/null || printf '%s ' $$p; done)
ifneq ($(PKG_MISSING),)
$(error $(PKG_CONFIG) finds no $(PKG_MISSING)for $(ARCH): install them with `make deps`$(if \
	$(CROSS_COMPILE), and `tools/deps.sh install arm64`) as root, or run `make test` or `make demo`)
endif
endif
pkg_libs = $(shell $(PKG_CONFIG) $(if $(STATIC_LD),--static) --libs $(1) 2>/dev/null)
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(VMM_PKGS) $(JAILER_PKGS) 2>/dev/null)
VMM_LIBS := $(call pkg_libs,$(VMM_PKGS)) $(ARCH_VMM_LIBS)
JAILER_LIBS := $(call pkg_libs,$(JAILER_PKGS))
CRITERION_LIBS := $(shell $(PKG_CONFIG) --libs criterion 2>/dev/null)

CPPFLAGS += -I. -Icommon -Ivmm -Ivmm/arch/$(ARCH) -D_GNU_SOURCE -DKILN_VERSION='"$(VERSION)"'
CFLAGS += -std=gnu11 $(OPT) $(WARNINGS) $(HARDEN) $(PKG_CFLAGS) -MMD -MP
LDFLAGS += $(OPT_LD) $(HARDEN_LD)
LDLIBS += -lpthread
ifneq ($(CROSS_COMPILE),)
# Target libraries that cannot be installed beside the native ones (libfdt, Criterion)
# are unpacked here by `tools/deps.sh ensure arm64`; unit tests find them at run time.
CROSS_SYSROOT ?= $(or $(KILN_CACHE),$(HOME)/.cache/kiln)/sysroot-$(ARCH)
CROSS_LIBDIR := $(CROSS_SYSROOT)/usr/lib/$(ARCH)-linux-gnu
LDFLAGS += -L$(CROSS_LIBDIR) -Wl,-rpath-link,$(CROSS_LIBDIR)
CRITERION_LIBS := $(or $(CRITERION_LIBS),-lcriterion)
endif

# The HTTP/1.1 parser of kiln's API (libhttp-parser, no dependencies), always linked static.
# A cross build finds the arm64 one in CROSS_SYSROOT (it cannot sit beside the native one).
ifneq ($(CROSS_COMPILE),)
HTTP_PARSER_A := $(wildcard $(CROSS_LIBDIR)/libhttp_parser.a)
else
HTTP_PARSER_A := $(shell $(CC) -print-file-name=libhttp_parser.a 2>/dev/null)
endif
VMM_LIBS += $(HTTP_PARSER_A)
ifneq ($(filter-out $(NODEPS_GOALS),$(or $(MAKECMDGOALS),all)),)
# Debian's libhttp-parser-dev ships a static library and no .pc file: found as above.
ifeq ($(wildcard $(HTTP_PARSER_A)),)
$(error $(CC) finds no libhttp_parser.a (libhttp-parser-dev) for $(ARCH): install it with \
	`make deps`$(if $(CROSS_COMPILE), and `tools/deps.sh install arm64`) as root, or run \
	`make test` or `make demo`)
endif
endif

comma := ,
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)

# Sources are discovered; each directory is one layer of the architecture.
COMMON_SRCS := $(wildcard common/*.c)
VMM_SRCS := $(filter-out vmm/main.c,$(wildcard vmm/*.c vmm/api/*.c vmm/devices/*.c \
	vmm/devices/*/*.c vmm/backends/*.c vmm/arch/$(ARCH)/*.c))
JAILER_SRCS := $(filter-out jailer/main.c,$(wildcard jailer/*.c))
# arch.mk may exclude unit tests of another architecture's code (ARCH_EXCLUDED_UNITS).
UNIT_SRCS := $(filter-out $(ARCH_EXCLUDED_UNITS),$(wildcard tests/unit/test_*.c))
INTEG_SRCS := $(wildcard tests/integ/*.c)
# The guest agent and its host client share the protocol's codec (agentproto/).
AGENTPROTO_SRCS := $(wildcard agentproto/*.c)
AGENT_SRCS := $(filter-out guest/agent/main.c,$(wildcard guest/agent/*.c))
AGENTCLIENT_SRCS := $(filter-out host/agentclient/main.c,$(wildcard host/agentclient/*.c))
AGENT_TEST_SRCS := $(wildcard tests/agent/*.c)
# kiln-run drives the jailer, kiln and the agent client.
KILNRUN_SRCS := $(filter-out host/kilnrun/main.c,$(wildcard host/kilnrun/*.c))
RUN_LIBS := $(call pkg_libs,jansson)
TOOL_SRCS := $(wildcard tools/bench/*.c)
HELPER_SRCS := $(wildcard tests/helpers/*.c)

obj = $(patsubst %.c,$(BUILD)/%.o,$(1))
COMMON_OBJS := $(call obj,$(COMMON_SRCS))
VMM_OBJS := $(call obj,$(VMM_SRCS))
# The jailer binary is $(BUILD)/jailer, so its objects cannot live in $(BUILD)/jailer/.
jailer_obj = $(patsubst jailer/%.c,$(BUILD)/jailer-obj/%.o,$(1))
JAILER_OBJS := $(call jailer_obj,$(JAILER_SRCS))

KILN := $(BUILD)/kiln
KILN_TESTHOOKS := $(BUILD)/kiln-testhooks
JAILER := $(BUILD)/jailer
JAILER_PROFILE := $(BUILD)/jailer-profile
LIBCOMMON := $(BUILD)/libcommon.a
LIBVMM := $(BUILD)/libvmm.a
LIBJAILER := $(BUILD)/libjailer.a
LIBAGENTPROTO := $(BUILD)/libagentproto.a
LIBAGENT := $(BUILD)/libagent.a
LIBAGENTCLIENT := $(BUILD)/libagentclient.a
LIBKILNRUN := $(BUILD)/libkilnrun.a
KILN_RUN := $(BUILD)/kiln-run
AGENT := $(BUILD)/kiln-agent
AGENT_CLIENT := $(BUILD)/kiln-agent-client
AGENT_TEST_BIN := $(BUILD)/tests/agent/agent
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_SRCS))
INTEG_BIN := $(BUILD)/tests/integ/integ
TOOL_BINS := $(patsubst tools/bench/%.c,$(BUILD)/tools/bench/%,$(TOOL_SRCS))
HELPER_BINS := $(patsubst tests/helpers/%.c,$(BUILD)/tests/helpers/%,$(HELPER_SRCS))

.PHONY: all test unit integ e2e bench demo install uninstall clean deps check-deps guests \
	test-bins fuzz fuzz-bins fuzz-coverage
.DEFAULT_GOAL := all

all: $(KILN) $(JAILER) $(AGENT) $(AGENT_CLIENT) $(KILN_RUN)

$(BUILD)/%.o: %.c
	$(call msg,CC,$<)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<
$(BUILD)/jailer-obj/%.o: jailer/%.c
	$(call msg,CC,$<)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(LIBCOMMON): $(COMMON_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^
$(LIBVMM): $(VMM_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^
$(LIBJAILER): $(JAILER_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^
$(LIBAGENTPROTO): $(call obj,$(AGENTPROTO_SRCS))
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^
$(LIBAGENT): $(call obj,$(AGENT_SRCS))
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^
$(LIBAGENTCLIENT): $(call obj,$(AGENTCLIENT_SRCS))
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^
$(LIBKILNRUN): $(call obj,$(KILNRUN_SRCS))
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

# Seccomp profiles are compiled to BPF at build time by a host tool (libseccomp) and
# embedded in kiln; the same filters are also written as a file for tests and
# `kiln --seccomp-filter`.
SECCOMPC := build/tools/seccompc
SECCOMP_PROFILE := seccomp-profiles/$(ARCH).json
SECCOMP_C := $(BUILD)/seccomp/filters.c
SECCOMP_BPF := $(BUILD)/seccomp/$(ARCH).bpf
SECCOMP_OBJ := $(BUILD)/seccomp/filters.o

$(SECCOMPC): tools/seccomp/seccompc.c
	$(call msg,HOSTCC,$@)
	@mkdir -p $(@D)
	$(Q)$(HOSTCC) -std=gnu11 -O2 $(WARNINGS) -o $@ $< \
		$$($(HOST_PKG_CONFIG) --cflags --libs libseccomp jansson)
$(SECCOMP_C) $(SECCOMP_BPF) &: $(SECCOMP_PROFILE) $(SECCOMPC)
	$(call msg,SECCOMP,$<)
	@mkdir -p $(@D)
	$(Q)$(SECCOMPC) --arch $(ARCH) $< --c $(SECCOMP_C) --bpf $(SECCOMP_BPF)
$(SECCOMP_OBJ): $(SECCOMP_C)
	$(call msg,CC,$<)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(KILN): $(BUILD)/vmm/main.o $(SECCOMP_OBJ) $(LIBVMM) $(LIBCOMMON)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $(STATIC_LD) -o $@ $^ $(VMM_LIBS) $(LDLIBS)
# A test build of kiln whose threads can make a forbidden system call on request
# (KILN_TEST_BAD_SYSCALL=vmm|vcpu), to test what a seccomp violation does.
$(BUILD)/testhooks/%.o: %.c
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) -DKILN_TEST_HOOKS $(CFLAGS) -c -o $@ $<
$(KILN_TESTHOOKS): $(BUILD)/testhooks/vmm/main.o $(BUILD)/testhooks/vmm/vcpu.o $(SECCOMP_OBJ) \
		$(LIBVMM) $(LIBCOMMON)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $(STATIC_LD) -o $@ $^ $(VMM_LIBS) $(LDLIBS)

$(JAILER): $(BUILD)/jailer-obj/main.o $(LIBJAILER) $(LIBCOMMON)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $(STATIC_LD) -o $@ $^ $(JAILER_LIBS) $(LDLIBS)
# The jailer with its step profile compiled in (jailer/profile.h), for make bench.
$(BUILD)/jailer-obj/main-profile.o: jailer/main.c
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) -DJAILER_PROFILE $(CFLAGS) -c -o $@ $<
$(JAILER_PROFILE): $(BUILD)/jailer-obj/main-profile.o $(LIBJAILER) $(LIBCOMMON)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $(STATIC_LD) -o $@ $^ $(JAILER_LIBS) $(LDLIBS)

# The guest agent is static whatever the build (it goes into a guest's root file system),
# except under the sanitizers, whose runtimes cannot be.
$(AGENT): $(BUILD)/guest/agent/main.o $(LIBAGENT) $(LIBAGENTPROTO) $(LIBCOMMON)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $(STATIC_LD) -o $@ $^ $(LDLIBS)
$(AGENT_CLIENT): $(BUILD)/host/agentclient/main.o $(LIBAGENTCLIENT) $(LIBAGENTPROTO) $(LIBCOMMON)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(KILN_RUN): $(BUILD)/host/kilnrun/main.o $(LIBKILNRUN) $(LIBAGENTCLIENT) $(LIBAGENTPROTO) \
		$(LIBCOMMON)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $(STATIC_LD) -o $@ $^ $(RUN_LIBS) $(LDLIBS)
# The agent's integration tests: the real agent on a Unix socket, driven by the real client.
$(AGENT_TEST_BIN): $(call obj,$(AGENT_TEST_SRCS)) $(BUILD)/tests/integ/proc.o $(LIBAGENTCLIENT) \
		$(LIBAGENTPROTO) $(LIBCOMMON)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $(if $(CROSS_COMPILE),-Wl$(comma)--disable-new-dtags$(comma)-rpath$(comma)$(CROSS_LIBDIR)) \
		-o $@ $^ $(LDLIBS) $(CRITERION_LIBS)

# Unit tests link the libraries, never main().
$(BUILD)/tests/unit/%: $(BUILD)/tests/unit/%.o $(LIBKILNRUN) $(LIBAGENT) $(LIBAGENTCLIENT) $(LIBAGENTPROTO) \
		$(LIBVMM) $(LIBJAILER) $(LIBCOMMON)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $(if $(CROSS_COMPILE),-Wl$(comma)--disable-new-dtags$(comma)-rpath$(comma)$(CROSS_LIBDIR)) \
		-o $@ $^ $(VMM_LIBS) $(JAILER_LIBS) $(LDLIBS) $(CRITERION_LIBS)
# arm64's device-tree builder and Image parser are pure functions of a machine
# description: their unit test also builds and runs natively on other hosts.
ifneq ($(ARCH),aarch64)
A64_PURE_OBJS := $(call obj,vmm/arch/aarch64/devicetree.c vmm/arch/aarch64/image.c)
$(BUILD)/tests/unit/test_aarch64_fdt: $(A64_PURE_OBJS)
$(BUILD)/tests/unit/test_aarch64_fdt: LDLIBS += $(LIBCOMMON) -lfdt
endif
$(INTEG_BIN): $(call obj,$(INTEG_SRCS)) $(LIBCOMMON)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(VMM_LIBS) $(LDLIBS) $(CRITERION_LIBS) \
		$$($(PKG_CONFIG) --libs libseccomp)
$(BUILD)/tools/bench/%: $(BUILD)/tools/bench/%.o $(LIBVMM) $(LIBCOMMON)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(VMM_LIBS) $(LDLIBS)

# Small programs tests run inside jails and guests' hosts: static, like kiln.
$(BUILD)/tests/helpers/%: $(BUILD)/tests/helpers/%.o $(LIBVMM) $(LIBCOMMON)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $(STATIC_LD) -o $@ $^ $(VMM_LIBS) $(LDLIBS)

# Freestanding x86-64 test guests, loaded by kiln as ELF kernels (README.md, "Tests").
ifeq ($(ARCH),x86_64)
include tests/guests/guests.mk
else
guests:
endif

test-bins: all $(UNIT_BINS) $(INTEG_BIN) $(AGENT_TEST_BIN) $(HELPER_BINS) $(KILN_TESTHOOKS) $(JAILER_PROFILE) \
	$(SECCOMP_BPF) guests

# In-tree fuzzing with clang's libFuzzer (`tools/deps.sh ensure fuzz` installs clang):
# every tests/fuzz/fuzz_*.c is a target, built into build/fuzz with ASan and UBSan, and run
# for FUZZ_SECONDS from its seed corpus tests/fuzz/corpus/<target>/; a crash, a leak, a
# timeout or a broken invariant fails. `make fuzz FUZZ_SECONDS=600` runs longer.
FUZZ_SECONDS ?= 10
FUZZ_CC ?= clang
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(BUILD)/tests/fuzz/%,$(FUZZ_SRCS))
# The arm64 Image parser is a pure function: its target builds on any host.
FUZZ_A64_OBJS := $(if $(filter aarch64,$(ARCH)),,$(call obj,vmm/arch/aarch64/image.c))

fuzz: check-deps
	$(Q)tools/deps.sh ensure fuzz
	$(Q)$(MAKE) --no-print-directory SANITIZE=fuzz CC=$(FUZZ_CC) fuzz-bins
	$(Q)tests/fuzz/run.sh $(ARCH_BUILD)/fuzz $(FUZZ_SECONDS)

# How much of its source file each target reaches in FUZZ_SECONDS (llvm-cov, from clang).
fuzz-coverage: check-deps
	$(Q)tools/deps.sh ensure fuzz
	$(Q)$(MAKE) --no-print-directory SANITIZE=fuzzcov CC=$(FUZZ_CC) fuzz-bins
	$(Q)tests/fuzz/coverage.sh $(ARCH_BUILD)/fuzzcov $(FUZZ_SECONDS)

fuzz-bins: $(FUZZ_BINS)
$(BUILD)/tests/fuzz/%: $(BUILD)/tests/fuzz/%.o $(FUZZ_A64_OBJS) $(LIBAGENT) $(LIBAGENTPROTO) $(LIBVMM) \
		$(LIBJAILER) $(LIBCOMMON)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(VMM_LIBS) $(JAILER_LIBS) $(LDLIBS)

# The README's test command: every dependency (one apt-get run), then a normal, a
# sanitizer, a fuzzing (clang) and, on x86-64 hosts, an arm64 cross build, then every
# suite: unit, integration, Linux end to end, arm64, and each fuzz target for
# TEST_FUZZ_SECONDS.
TEST_DEPS := fuzz $(if $(filter x86_64,$(HOST_ARCH)),arm64)
TEST_FUZZ_SECONDS ?= 10
test:
	$(Q)tools/deps.sh ensure $(TEST_DEPS)
	$(Q)$(MAKE) --no-print-directory test-bins
	$(Q)$(MAKE) --no-print-directory SANITIZE=1 test-bins
	$(Q)$(MAKE) --no-print-directory SANITIZE=fuzz CC=$(FUZZ_CC) fuzz-bins
ifeq ($(HOST_ARCH),x86_64)
	$(Q)$(MAKE) --no-print-directory ARCH=aarch64 test-bins
endif
	$(Q)FUZZ_SECONDS=$(TEST_FUZZ_SECONDS) tests/run.sh $(BUILD) build/asan

# Like test, these install what is missing first, then build in a second make.
bench: check-deps
	$(Q)$(MAKE) --no-print-directory all guests $(TOOL_BINS) $(HELPER_BINS) $(JAILER_PROFILE)
	$(Q)tools/bench/run.sh $(BUILD)

demo: check-deps
	$(Q)$(MAKE) --no-print-directory all guests
	$(Q)tools/demo.sh $(BUILD)

deps:
	$(Q)tools/deps.sh install

check-deps:
	$(Q)tools/deps.sh ensure

# What `make install` puts under $(DESTDIR)$(PREFIX), and so exactly what `make uninstall`
# removes: the two programs, the systemd units (their paths rewritten for BINDIR and DOCDIR),
# the documentation and the example VM files that the unit reads from /etc/kiln.
INSTALL_PROGRAMS := $(BINDIR)/kiln $(BINDIR)/jailer $(BINDIR)/kiln-run $(BINDIR)/kiln-agent-client
INSTALL_UNITS := kiln@.service kiln-api@.service
INSTALL_DATA := $(addprefix $(UNITDIR)/,$(INSTALL_UNITS)) $(DOCDIR)/README.md $(DOCDIR)/jailer.md \
	$(DOCDIR)/examples/vm1.json $(DOCDIR)/examples/vm1.env
INSTALL_DIRS := $(DOCDIR)/examples $(DOCDIR)

install: all
	$(call msg,INSTALL,$(DESTDIR)$(PREFIX))
	$(Q)install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(DOCDIR)/examples
	$(Q)install -m 0755 $(KILN) $(DESTDIR)$(BINDIR)/kiln
	$(Q)install -m 0755 $(JAILER) $(DESTDIR)$(BINDIR)/jailer
	$(Q)install -m 0755 $(KILN_RUN) $(DESTDIR)$(BINDIR)/kiln-run
	$(Q)install -m 0755 $(AGENT_CLIENT) $(DESTDIR)$(BINDIR)/kiln-agent-client
	$(Q)for u in $(INSTALL_UNITS); do \
		sed -e 's#/usr/local/bin/#$(BINDIR)/#g' -e 's#/usr/local/share/doc/kiln/#$(DOCDIR)/#g' \
			tools/systemd/$$u > $(DESTDIR)$(UNITDIR)/$$u.tmp && \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$$u.tmp && \
		mv -f $(DESTDIR)$(UNITDIR)/$$u.tmp $(DESTDIR)$(UNITDIR)/$$u || exit 1; \
	done
	$(Q)install -m 0644 README.md $(DESTDIR)$(DOCDIR)/README.md
	$(Q)install -m 0644 jailer/README.md $(DESTDIR)$(DOCDIR)/jailer.md
	$(Q)install -m 0644 tools/systemd/vm1.json tools/systemd/vm1.env $(DESTDIR)$(DOCDIR)/examples/
	$(Q)for f in $(INSTALL_PROGRAMS) $(INSTALL_DATA); do echo "  $(DESTDIR)$$f"; done

# Removes the files above, then the documentation directories if nothing else is in them.
uninstall:
	$(call msg,REMOVE,$(DESTDIR)$(PREFIX))
	$(Q)for f in $(INSTALL_PROGRAMS) $(INSTALL_DATA); do \
		if [ -e "$(DESTDIR)$$f" ]; then rm -f "$(DESTDIR)$$f" && echo "  $(DESTDIR)$$f"; fi; \
	done
	$(Q)for d in $(INSTALL_DIRS); do \
		[ ! -d "$(DESTDIR)$$d" ] || rmdir --ignore-fail-on-non-empty "$(DESTDIR)$$d"; done

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
