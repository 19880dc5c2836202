/* SPDX-License-Identifier: MIT */
/*
 * Hand-written CFI for every rule kind the table generator must map, most of
 * which compilers emit only in libc/ld.so assembly: CFA in other registers,
 * RA in a register or at CFA-16, RA undefined, a signal frame laid out like
 * glibc's __restore_rt, the PLT expression, expressions and val_offset rules
 * (unrepresentable: counted), remember/restore_state nesting, big offsets,
 * advance_loc2/4, GNU_args_size, restore_extended and the _sf forms. Nothing
 * here is executed except main; the oracle test compares the table built
 * from this file's .eh_frame with libdw's answers at every address.
 */
	.text
	.macro FN name
	.globl \name
	.type \name, @function
	.p2align 4
\name:
	.cfi_startproc
	.endm
	.macro END name
	ret
	.cfi_endproc
	.size \name, .-\name
	.endm

	FN main
	xorl %eax, %eax
	END main

	FN f_frame
	pushq %rbp
	.cfi_def_cfa_offset 16
	.cfi_offset %rbp, -16
	movq %rsp, %rbp
	.cfi_def_cfa_register %rbp
	nop
	popq %rbp
	.cfi_def_cfa %rsp, 8
	END f_frame

	FN f_cfa_rbx
	pushq %rbx
	.cfi_def_cfa_offset 16
	.cfi_offset %rbx, -16
	movq %rsp, %rbx
	.cfi_def_cfa_register %rbx
	nop
	.cfi_def_cfa %rsp, 16
	popq %rbx
	.cfi_def_cfa_offset 8
	END f_cfa_rbx

	/* vfork: the RA popped into rdi, CFA = rsp */
	FN f_ra_in_reg
	popq %rdi
	.cfi_adjust_cfa_offset -8
	.cfi_register %rip, %rdi
	nop
	pushq %rdi
	.cfi_adjust_cfa_offset 8
	.cfi_offset %rip, -8
	END f_ra_in_reg

	/* longjmp: CFA = rdi, RA in rdx, rbp in r9 */
	FN f_longjmp
	nop
	.cfi_def_cfa %rdi, 0
	.cfi_register %rip, %rdx
	.cfi_register %rbp, %r9
	nop
	.cfi_def_cfa %rsp, 8
	.cfi_offset %rip, -8
	.cfi_same_value %rbp
	END f_longjmp

	/* setcontext: CFA = rdx, RA at CFA+168, rbp at CFA+120 */
	FN f_setcontext
	nop
	.cfi_def_cfa %rdx, 0
	.cfi_offset %rip, 168
	.cfi_offset %rbp, 120
	nop
	END f_setcontext

	/* _start / the clone child */
	FN f_ra_undef
	.cfi_undefined %rip
	nop
	END f_ra_undef

	/* the same layout as glibc's __restore_rt (CFI survey §3) */
	nop
	FN f_signal
	.cfi_signal_frame
	.cfi_escape 0x0f, 0x04, 0x77, 0xa0, 0x01, 0x06	/* CFA = *(rsp + 160) */
	.cfi_escape 0x10, 0x08, 0x02, 0x77, 0x28	/* r8 at rsp + 40 */
	.cfi_escape 0x10, 0x09, 0x02, 0x77, 0x30
	.cfi_escape 0x10, 0x0a, 0x02, 0x77, 0x38
	.cfi_escape 0x10, 0x0b, 0x03, 0x77, 0xc0, 0x00
	.cfi_escape 0x10, 0x0c, 0x03, 0x77, 0xc8, 0x00
	.cfi_escape 0x10, 0x0d, 0x03, 0x77, 0xd0, 0x00
	.cfi_escape 0x10, 0x0e, 0x03, 0x77, 0xd8, 0x00
	.cfi_escape 0x10, 0x0f, 0x03, 0x77, 0xe0, 0x00
	.cfi_escape 0x10, 0x05, 0x03, 0x77, 0xe8, 0x00	/* rdi at 104 */
	.cfi_escape 0x10, 0x04, 0x03, 0x77, 0xf0, 0x00	/* rsi at 112 */
	.cfi_escape 0x10, 0x06, 0x03, 0x77, 0xf8, 0x00	/* rbp at 120 */
	.cfi_escape 0x10, 0x03, 0x03, 0x77, 0x80, 0x01	/* rbx at 128 */
	.cfi_escape 0x10, 0x01, 0x03, 0x77, 0x88, 0x01	/* rdx at 136 */
	.cfi_escape 0x10, 0x00, 0x03, 0x77, 0x90, 0x01	/* rax at 144 */
	.cfi_escape 0x10, 0x02, 0x03, 0x77, 0x98, 0x01	/* rcx at 152 */
	.cfi_escape 0x10, 0x07, 0x03, 0x77, 0xa0, 0x01	/* rsp at 160 */
	.cfi_escape 0x10, 0x10, 0x03, 0x77, 0xa8, 0x01	/* rip at 168 */
	movq $15, %rax
	syscall
	END f_signal

	/* a signal frame with another layout: not recognized, counted as a CFA expression */
	FN f_signal_other
	.cfi_signal_frame
	.cfi_escape 0x0f, 0x04, 0x77, 0xa8, 0x01, 0x06	/* CFA = *(rsp + 168) */
	nop
	END f_signal_other

	/* the PLT expression, and a different expression */
	FN f_plt
	.cfi_escape 0x0f, 0x0b, 0x77, 0x08, 0x80, 0x00, 0x3f, 0x1a, 0x3b, 0x2a, 0x33, 0x24, 0x22
	nop
	.cfi_escape 0x0f, 0x02, 0x77, 0x10	/* CFA = rsp + 16, as an expression */
	nop
	END f_plt

	FN f_reg_expr
	nop
	.cfi_escape 0x10, 0x06, 0x02, 0x77, 0x10	/* rbp at address rsp + 16 */
	nop
	.cfi_restore %rbp
	nop
	.cfi_escape 0x16, 0x10, 0x02, 0x77, 0x00	/* rip = rsp (val_expression) */
	nop
	END f_reg_expr

	FN f_val_offset
	nop
	.cfi_val_offset %rbp, -16
	nop
	.cfi_val_offset %rip, -8
	nop
	END f_val_offset

	FN f_same_ra
	nop
	.cfi_same_value %rip
	nop
	END f_same_ra

	FN f_bp_undef
	nop
	.cfi_undefined %rbp
	nop
	END f_bp_undef

	FN f_ra_off16
	pushq %rax
	.cfi_def_cfa_offset 16
	.cfi_offset %rip, -16
	nop
	END f_ra_off16

	FN f_remember
	pushq %rbp
	.cfi_def_cfa_offset 16
	.cfi_offset %rbp, -16
	.cfi_remember_state
	testq %rax, %rax
	je 1f
	.cfi_remember_state
	pushq %rbx
	.cfi_def_cfa_offset 24
	.cfi_remember_state
	subq $40, %rsp
	.cfi_def_cfa_offset 64
	nop
	.cfi_restore_state
	nop
	.cfi_restore_state
	popq %rbp
	.cfi_def_cfa_offset 8
	.cfi_restore %rbp
	ret
1:
	.cfi_restore_state
	popq %rbp
	.cfi_def_cfa_offset 8
	END f_remember

	FN f_big
	subq $65592, %rsp
	.cfi_def_cfa_offset 65600
	nop
	addq $65592, %rsp
	.cfi_def_cfa_offset 8
	END f_big

	/* bodies long enough for advance_loc2 and advance_loc4 */
	FN f_advance
	pushq %rbx
	.cfi_def_cfa_offset 16
	.skip 300, 0x90
	pushq %rbp
	.cfi_def_cfa_offset 24
	.cfi_offset %rbp, -24
	.skip 70000, 0x90
	popq %rbp
	.cfi_def_cfa_offset 16
	.cfi_restore %rbp
	popq %rbx
	.cfi_def_cfa_offset 8
	END f_advance

	FN f_escapes
	nop
	.cfi_escape 0x2e, 0x10				/* GNU_args_size 16 */
	nop
	.cfi_escape 0x11, 0x06, 0x7d			/* offset_extended_sf rbp, -3 * -8 = cfa+24 */
	nop
	.cfi_escape 0x12, 0x07, 0x7e			/* def_cfa_sf rsp, -2 * -8 = 16 */
	nop
	.cfi_escape 0x13, 0x7d				/* def_cfa_offset_sf -3 * -8 = 24 */
	nop
	.cfi_escape 0x2f, 0x06, 0x04			/* GNU_negative_offset_extended rbp, -(4) * -8 = cfa+32 */
	nop
	.cfi_escape 0x06, 0x06				/* restore_extended rbp */
	nop
	.cfi_escape 0x05, 0x06, 0x05			/* offset_extended rbp at cfa-40 */
	nop
	.cfi_escape 0x15, 0x06, 0x7e			/* val_offset_sf rbp = cfa+16 */
	nop
	.cfi_escape 0x08, 0x06				/* same_value rbp */
	nop
	.cfi_escape 0x0c, 0x07, 0x08			/* def_cfa rsp+8 */
	.cfi_escape 0x00, 0x00				/* nops */
	END f_escapes

	.section .note.GNU-stack, "", @progbits
