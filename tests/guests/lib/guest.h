/* The freestanding test guests' runtime: port I/O, serial output, boot_params, reset. */
#ifndef GUEST_H
#define GUEST_H

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

static inline void outb(u16 port, u8 v) { __asm__ volatile("outb %0, %1" :: "a"(v), "Nd"(port)); }
static inline u8 inb(u16 port) { u8 v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline void mmio_write32(u64 addr, u32 v) { *(volatile u32 *)addr = v; }
static inline u32 mmio_read32(u64 addr) { return *(volatile u32 *)addr; }
static inline u16 mmio_read16(u64 addr) { return *(volatile u16 *)addr; }
static inline u8 mmio_read8(u64 addr) { return *(volatile u8 *)addr; }

void puts(const char *s);
void putc(char c);
void put_hex(u64 v, int digits);
void put_dec(u64 v);
/* The next byte the console receives (polling the UART), or -1 after `polls` polls. */
int getc_wait(u32 polls);
/* Pulse the i8042 reset line (what Linux's reboot=k does): kiln exits 0. */
void reset(void) __attribute__((noreturn));
void halt_forever(void) __attribute__((noreturn));
/* Map the 3-4 GiB hole (LAPIC, IOAPIC, MMIO devices) uncached into the boot page tables. */
void map_mmio_hole(void);
void *memcpy(void *d, const void *s, unsigned long n);
void *memset(void *d, int c, unsigned long n);

/* boot_params offsets (Linux's zero page). */
#define BP_ACPI_RSDP_ADDR 0x070
#define BP_E820_ENTRIES 0x1e8
#define BP_RAMDISK_IMAGE 0x218
#define BP_RAMDISK_SIZE 0x21c
#define BP_CMD_LINE_PTR 0x228
#define BP_E820_TABLE 0x2d0

/* Each guest provides this; rsi from kiln (boot_params) arrives as the argument. */
void guest_main(u8 *boot_params);

#endif
