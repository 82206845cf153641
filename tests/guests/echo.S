/* IRQ 4 (vector 36 after the PIC is remapped): save registers, call serial_irq, iretq. */
	.section .text
	.code64
	.globl irq4_entry
irq4_entry:
	push %rax
	push %rcx
	push %rdx
	push %rsi
	push %rdi
	push %r8
	push %r9
	push %r10
	push %r11
	cld
	call serial_irq
	pop %r11
	pop %r10
	pop %r9
	pop %r8
	pop %rdi
	pop %rsi
	pop %rdx
	pop %rcx
	pop %rax
	iretq
