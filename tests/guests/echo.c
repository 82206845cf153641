/*
 * Echoes serial input back, driven by the UART's receive interrupt through the
 * legacy PIC: prints "echo: ready", echoes every byte, and on 'q' prints how it
 * was woken and reboots.
 */
#include "lib/guest.h"

#define COM1 0x3f8
#define VECTOR_BASE 32
#define SERIAL_IRQ 4

struct idt_gate {
	u16 off_lo, sel;
	u8 ist, type;
	u16 off_mid;
	u32 off_hi, zero;
} __attribute__((packed));

static struct idt_gate idt[VECTOR_BASE + 16] __attribute__((aligned(16)));
extern void irq4_entry(void);
static volatile u32 irqs;
static volatile int done;

void serial_irq(void);
void serial_irq(void)
{
	irqs++;
	/* IIR says why; drain everything the FIFO holds. */
	while (!(inb(COM1 + 2) & 1) || (inb(COM1 + 5) & 1)) {
		if (!(inb(COM1 + 5) & 1))
			continue;
		u8 c = inb(COM1);
		putc((char)c);
		if (c == 'q')
			done = 1;
	}
	outb(0x20, 0x20);	/* EOI to the master PIC */
}

static void pic_init(void)
{
	outb(0x20, 0x11); outb(0xa0, 0x11);		/* ICW1: init, ICW4 follows */
	outb(0x21, VECTOR_BASE); outb(0xa1, VECTOR_BASE + 8);
	outb(0x21, 0x04); outb(0xa1, 0x02);		/* cascade on IRQ 2 */
	outb(0x21, 0x01); outb(0xa1, 0x01);		/* 8086 mode */
	outb(0x21, (u8)~(1u << SERIAL_IRQ));		/* only the serial port */
	outb(0xa1, 0xff);
}

void guest_main(u8 *bp)
{
	struct __attribute__((packed)) { u16 limit; u64 base; } idtr;
	u16 cs;
	(void)bp;

	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	u64 h = (u64)irq4_entry;
	idt[VECTOR_BASE + SERIAL_IRQ] = (struct idt_gate){
		.off_lo = (u16)h, .sel = cs, .type = 0x8e, .off_mid = (u16)(h >> 16),
		.off_hi = (u32)(h >> 32) };
	idtr.limit = sizeof(idt) - 1;
	idtr.base = (u64)idt;
	__asm__ volatile("lidt %0" :: "m"(idtr));

	pic_init();
	outb(COM1 + 4, 0x0b);	/* DTR, RTS, OUT2 */
	outb(COM1 + 1, 0x01);	/* interrupt on received data */
	puts("echo: ready\n");
	while (!done)
		__asm__ volatile("sti; hlt; cli");
	puts(irqs ? "\necho: interrupt-driven, bye\n" : "\necho: no interrupts, bye\n");
}
