/* Entry in 64-bit mode, as kiln starts a vmlinux: RSI = boot_params. */
	.section .text.start, "ax"
	.code64
	.globl _start
_start:
	lea stack_top(%rip), %rsp
	mov %rsi, %rdi
	call guest_main
	call reset

	.section .bss
	.align 16
	.skip 16384
	.globl stack_top
stack_top:
