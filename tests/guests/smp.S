/*
 * Application processor start-up: a real-mode trampoline copied to 0x3000 (SIPI
 * vector 3) that switches to long mode on the boot CPU's page tables and jumps
 * to ap_entry64, which calls ap_main on the shared AP stack.
 */
#define TRAMP 0x3000
#define T(label) (TRAMP + (label) - tramp_start)

	.section .text
	.code16
	.globl tramp_start, tramp_end, tramp_cr3, tramp_entry
tramp_start:
	cli
	xor %ax, %ax
	mov %ax, %ds
	lgdtl T(tramp_gdtr)
	mov %cr0, %eax
	or $1, %eax
	mov %eax, %cr0
	ljmpl $0x08, $T(tramp_pm)
	.code32
tramp_pm:
	mov $0x10, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov %cr4, %eax
	or $0x20, %eax			/* PAE */
	mov %eax, %cr4
	mov T(tramp_cr3), %eax
	mov %eax, %cr3
	mov $0xc0000080, %ecx		/* EFER.LME */
	rdmsr
	or $0x100, %eax
	wrmsr
	mov %cr0, %eax
	or $0x80000000, %eax		/* paging on: long mode */
	mov %eax, %cr0
	ljmp $0x18, $T(tramp_lm)
	.code64
tramp_lm:
	mov $0x10, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	movabs T(tramp_entry), %rax
	jmp *%rax
	.align 8
tramp_gdt:
	.quad 0
	.quad 0x00cf9b000000ffff	/* 32-bit code */
	.quad 0x00cf93000000ffff	/* data */
	.quad 0x00af9b000000ffff	/* 64-bit code */
tramp_gdtr:
	.word 31
	.long T(tramp_gdt)
	.align 8
tramp_cr3:
	.quad 0
tramp_entry:
	.quad 0
tramp_end:

	.globl ap_entry64
ap_entry64:
	lea ap_stack_top(%rip), %rsp
	call ap_main
1:	cli
	hlt
	jmp 1b

	.section .bss
	.align 16
	.skip 8192
ap_stack_top:
