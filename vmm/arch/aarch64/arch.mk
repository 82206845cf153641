# Build settings of the arm64 machine (included by the Makefile when ARCH=aarch64).
# The device tree is built with libfdt, which ships no pkg-config file.
ARCH_VMM_LIBS := -lfdt
# Unit tests of x86-64 code (boot protocol, CPUID, i8042, ELF and bzImage loaders, ACPI).
ARCH_EXCLUDED_UNITS := tests/unit/test_boot_layout.c tests/unit/test_cpuid.c \
	tests/unit/test_i8042.c tests/unit/test_loaders.c tests/unit/test_acpi.c
