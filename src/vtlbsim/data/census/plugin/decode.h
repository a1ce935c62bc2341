/*
 * Decoding of the instructions the census counts, from their encodings in the Arm ARM
 * (DDI 0487 K.a): C5.5 "A64 System instructions" (TLBI, IC, DC, AT: op1/CRn/CRm/op2), C6.2
 * (MSR register, SYS, HINT, DSB/DMB/ISB, SVC/HVC/SMC, ERET), G8 "AArch32 System instructions"
 * (MCR/MCRR p15: opc1/CRn/CRm/opc2), F5/F6 (A32/T32 DSB, DMB, ISB, SVC, HVC, SMC, ERET, hints).
 */
#ifndef CENSUS_DECODE_H
#define CENSUS_DECODE_H

#include <stdint.h>

#ifdef CENSUS_DECODE_EXPORT /* the decoder library the unit tests load */
#define CENSUS_DECODE_API __attribute__((visibility("default")))
#else
#define CENSUS_DECODE_API
#endif

enum census_isa { CENSUS_A64 = 0, CENSUS_A32 = 1, CENSUS_T32 = 2, CENSUS_T16 = 3 };

/* Classes: what the plugin does with a match. */
enum census_class {
    CENSUS_NONE = 0,
    CENSUS_MAINT,   /* TLB / I-cache / branch predictor / data cache / AT: counted per site */
    CENSUS_REG,     /* a write to a translation or control register: counted per site */
    CENSUS_EXC,     /* SVC, HVC, SMC, ERET: HVC/SMC/ERET per site */
    CENSUS_BARRIER, /* DSB, DMB, ISB, SB, speculation barriers: counted, not per site */
    CENSUS_HINT,    /* WFI, WFE, CLRBHB, CSDB: counted, not per site */
    CENSUS_MARKER,  /* HINT #127: the phase marker */
};

/*
 * The instruction's census name (vtlbsim's spelling: lower case, e.g. "vale1is", "tlbimvais",
 * "iciallu", "dc cvau", "dsb ish", "msr ttbr0_el1", "mcr contextidr", "svc") or NULL if the
 * census does not count it. ``insn``: A64/A32 the 32-bit word; T32 (hw1 << 16) | hw2; T16 the
 * halfword. ``cond`` (may be NULL) receives the A32 condition field (14 = always; T32/A64: 14).
 * ``klass`` (may be NULL) receives the census_class.
 */
CENSUS_DECODE_API const char *census_decode(int isa, uint32_t insn, int *cond, int *klass);

/* The first word of the mnemonic the disassembler prints for a census name ("mcr", "dsb", ...). */
CENSUS_DECODE_API const char *census_mnemonic(const char *name);

#endif
