/*
 * PVH entry: the Xen PHYS32_ENTRY note points kiln at pvh_start, entered in
 * 32-bit protected mode with paging off and EBX = hvm_start_info. Build an
 * identity map of the first 1 GiB, enter long mode, call pvh_main(start_info).
 */
	.section .note.kiln, "a"
	.align 4
	.long 4, 4, 18			/* namesz, descsz, XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.long pvh_start

	.section .text
	.code32
	.globl pvh_start
pvh_start:
	mov %ebx, %esi
	/* PD: 512 x 2 MiB pages */
	mov $pvh_pd, %edi
	xor %ecx, %ecx
1:	mov %ecx, %eax
	shl $21, %eax
	or $0x83, %eax			/* present, rw, 2 MiB */
	mov %eax, (%edi,%ecx,8)
	movl $0, 4(%edi,%ecx,8)
	inc %ecx
	cmp $512, %ecx
	jne 1b
	mov $pvh_pd, %eax
	or $3, %eax
	mov %eax, pvh_pdpt
	mov $pvh_pdpt, %eax
	or $3, %eax
	mov %eax, pvh_pml4
	mov $pvh_pml4, %eax
	mov %eax, %cr3
	mov %cr4, %eax
	or $0x20, %eax			/* PAE */
	mov %eax, %cr4
	mov $0xc0000080, %ecx
	rdmsr
	or $0x100, %eax			/* LME */
	wrmsr
	lgdt pvh_gdtr
	mov %cr0, %eax
	or $0x80000001, %eax		/* PG | PE */
	mov %eax, %cr0
	ljmp $0x08, $pvh_long
	.code64
pvh_long:
	mov $0x10, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	lea stack_top(%rip), %rsp
	mov %rsi, %rdi
	call pvh_main
	call reset

	.section .data
	.align 8
pvh_gdt:
	.quad 0
	.quad 0x00af9b000000ffff	/* 64-bit code */
	.quad 0x00cf93000000ffff	/* data */
pvh_gdtr:
	.word 23
	.long pvh_gdt

	.section .bss
	.align 4096
pvh_pml4: .skip 4096
pvh_pdpt: .skip 4096
pvh_pd: .skip 4096
