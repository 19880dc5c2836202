/* SPDX-License-Identifier: MIT */
/*
 * A function with no CFI at all (no .cfi_* directives, so no FDE) that keeps
 * a frame pointer, like hand-written assembly or JIT code: only the
 * frame-pointer fallback can unwind it. It has no .size either: the
 * machine-code analyser takes a function's bounds from its symbol size, so
 * without one this stays the frame-pointer test (unw_synth is the
 * analyser's). It calls nocfi_leaf(n) count times,
 * spinning a little between calls so samples land in it too.
 *   uint64_t asm_fp_spin(uint64_t count, uint64_t n)
 */
	.text
	.globl	asm_fp_spin
	.type	asm_fp_spin, @function
	.p2align 4
asm_fp_spin:
	push	%rbp
	mov	%rsp, %rbp
	push	%rbx
	push	%r12
	mov	%rdi, %rbx
	mov	%rsi, %r12
	xor	%eax, %eax
1:	test	%rbx, %rbx
	jz	3f
	mov	%r12, %rdi
	call	nocfi_leaf
	mov	$200000, %ecx
2:	imul	%rcx, %rax
	dec	%rcx
	jnz	2b
	dec	%rbx
	jmp	1b
3:	pop	%r12
	pop	%rbx
	pop	%rbp
	ret

	.section .note.GNU-stack, "", @progbits
