#include "textflag.h"

// func spaces(b []byte, pos []int32) int
//
// Sixty-four bytes at a time: compare each with a space (PCMPEQB, four 16-byte loads), gather
// the comparisons into one 64-bit mask (PMOVMSKB), and write the offset of each set bit, lowest
// first (BSF, then clear it), while pos has room. The loop over a mask's bits ends in the one
// branch the processor cannot predict, once per 64 bytes, not once per field. The last, partial
// block is the line's last 64 bytes loaded again, with the bytes already seen shifted out of its
// mask, so no load reads past b. A line shorter than 64 bytes is read byte by byte. SSE2 only:
// every amd64 processor has it.
//
// Registers: SI b, BX len(b), DI pos, R8 len(pos), AX spaces found, R13 offset of the block,
// R9 its length, R10 its mask, R11 its address then a bit's offset, R12 and CX and DX scratch.
TEXT ·spaces(SB), NOSPLIT, $0-56
	MOVQ b_base+0(FP), SI
	MOVQ b_len+8(FP), BX
	MOVQ pos_base+24(FP), DI
	MOVQ pos_len+32(FP), R8
	XORQ AX, AX
	XORQ R13, R13
	MOVQ $0x2020202020202020, DX
	MOVQ DX, X0
	PUNPCKLQDQ X0, X0
	CMPQ BX, $64
	JLT  short

block:
	MOVQ BX, R9
	SUBQ R13, R9
	JZ   done
	CMPQ R9, $64
	JLT  last
	LEAQ (SI)(R13*1), R11
	MOVQ $64, R9
	JMP  mask

last:
	LEAQ -64(SI)(BX*1), R11

mask:
	MOVOU 0(R11), X1
	MOVOU 16(R11), X2
	MOVOU 32(R11), X3
	MOVOU 48(R11), X4
	PCMPEQB X0, X1
	PCMPEQB X0, X2
	PCMPEQB X0, X3
	PCMPEQB X0, X4
	PMOVMSKB X1, R10
	PMOVMSKB X2, R12
	PMOVMSKB X3, CX
	PMOVMSKB X4, DX
	SHLQ $16, R12
	ORQ  R12, R10
	SHLQ $32, CX
	ORQ  CX, R10
	SHLQ $48, DX
	ORQ  DX, R10
	MOVQ $64, CX
	SUBQ R9, CX
	SHRQ CX, R10

	TESTQ R10, R10
	JZ    advance

bits:
	BSFQ R10, R11
	CMPQ AX, R8
	JGE  counted
	LEAQ (R13)(R11*1), R12
	MOVL R12, (DI)(AX*4)

counted:
	INCQ AX
	LEAQ -1(R10), R12
	ANDQ R12, R10
	JNZ  bits

advance:
	ADDQ R9, R13
	JMP  block

short:
	CMPQ R13, BX
	JGE  done
	MOVBLZX (SI)(R13*1), R10
	CMPL R10, $0x20
	JNE  shortnext
	CMPQ AX, R8
	JGE  shortcounted
	MOVL R13, (DI)(AX*4)

shortcounted:
	INCQ AX

shortnext:
	INCQ R13
	JMP  short

done:
	MOVQ AX, ret+48(FP)
	RET
