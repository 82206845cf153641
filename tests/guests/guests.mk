# Freestanding x86-64 test guests: small, no SSE or the instructions an emulated
# KVM lacks, linked at 1 MiB and loaded by kiln like a vmlinux (README.md, "Tests").
GUEST_CC ?= gcc
GUEST_CFLAGS := -std=gnu11 -O2 -g -ffreestanding -nostdlib -mgeneral-regs-only -mno-red-zone \
	-fno-pic -fno-pie -fno-stack-protector -fno-asynchronous-unwind-tables \
	-fcf-protection=none -mno-sse -Wall -Wextra -Werror
GUEST_LDFLAGS := -nostdlib -static -no-pie -Wl,--build-id=none -Wl,-T,tests/guests/guest.ld \
	-Wl,-z,noexecstack -Wl,--no-warn-rwx-segments
GUEST_LIB := tests/guests/lib/start.S tests/guests/lib/guest.c
GUEST_NAMES := $(basename $(notdir $(wildcard tests/guests/*.c)))
GUEST_ELFS := $(patsubst %,$(BUILD)/tests/guests/%.elf,$(GUEST_NAMES))

guests: $(GUEST_ELFS)

# A guest is its .c, an optional .S of the same name, and the runtime.
$(BUILD)/tests/guests/%.elf: tests/guests/%.c $(GUEST_LIB) $(wildcard tests/guests/lib/*.h) \
		tests/guests/guest.ld $(wildcard tests/guests/*.S)
	$(call msg,GUEST,$@)
	@mkdir -p $(@D)
	$(Q)$(GUEST_CC) $(GUEST_CFLAGS) $(GUEST_LDFLAGS) -o $@ $(GUEST_LIB) $< \
		$(wildcard tests/guests/$*.S)
