/* The freestanding test guests' runtime: port I/O, serial output, boot_params, reset. */
#include "guest.h"

#define COM1 0x3f8
#define PAGE_PRESENT 0x1ULL
#define PAGE_RW 0x2ULL
#define PAGE_PWT 0x8ULL
#define PAGE_PCD 0x10ULL
#define PAGE_PS 0x80ULL

void putc(char c)
{
	outb(COM1, (u8)c);
}

void puts(const char *s)
{
	while (*s)
		putc(*s++);
}

int getc_wait(u32 polls)
{
	for (u32 i = 0; i < polls; i++)
		if (inb(COM1 + 5) & 1)	/* LSR: data ready */
			return inb(COM1);
	return -1;
}

void put_hex(u64 v, int digits)
{
	for (int i = digits - 1; i >= 0; i--)
		putc("0123456789abcdef"[(v >> (i * 4)) & 0xf]);
}

void put_dec(u64 v)
{
	char buf[24];
	int n = 0;
	do {
		buf[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		putc(buf[--n]);
}

void halt_forever(void)
{
	for (;;)
		__asm__ volatile("cli; hlt");
}

void reset(void)
{
	outb(0x64, 0xfe);
	halt_forever();
}

static u64 hole_pd[512] __attribute__((aligned(4096)));

void map_mmio_hole(void)
{
	u64 cr3;
	__asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
	u64 *pml4 = (u64 *)(cr3 & ~0xfffULL);
	u64 *pdpt = (u64 *)(pml4[0] & ~0xfffULL);
	for (u64 i = 0; i < 512; i++)
		hole_pd[i] = (0xc0000000ULL + (i << 21)) | PAGE_PRESENT | PAGE_RW | PAGE_PCD |
			     PAGE_PWT | PAGE_PS;
	pdpt[3] = (u64)hole_pd | PAGE_PRESENT | PAGE_RW;
	__asm__ volatile("mov %0, %%cr3" :: "r"(cr3) : "memory");
}

void *memcpy(void *d, const void *s, unsigned long n)
{
	u8 *dp = d;
	const u8 *sp = s;
	while (n--)
		*dp++ = *sp++;
	return d;
}

void *memset(void *d, int c, unsigned long n)
{
	u8 *dp = d;
	while (n--)
		*dp++ = (u8)c;
	return d;
}
