/* Census instruction decoder: see decode.h for the Arm ARM sections each table follows. */
#include "decode.h"

#include <stddef.h>
#include <string.h>

#define F(x, hi, lo) (((x) >> (lo)) & ((1u << ((hi) - (lo) + 1)) - 1))

static const char *set(int *klass, int k, const char *name)
{
    if (klass)
        *klass = k;
    return name;
}

/* DSB/DMB option field (CRm in A64, option in A32/T32): Arm ARM C6.2.109 "DSB". */
static const char *barrier_name(int is_dmb, unsigned opt)
{
    static const char *const dsb[16] = {
        "ssbb", "dsb oshld", "dsb oshst", "dsb osh", "pssbb", "dsb nshld", "dsb nshst", "dsb nsh",
        NULL, "dsb ishld", "dsb ishst", "dsb ish", NULL, "dsb ld", "dsb st", "dsb sy"};
    static const char *const dmb[16] = {
        NULL, "dmb oshld", "dmb oshst", "dmb osh", NULL, "dmb nshld", "dmb nshst", "dmb nsh",
        NULL, "dmb ishld", "dmb ishst", "dmb ish", NULL, "dmb ld", "dmb st", "dmb sy"};
    return is_dmb ? dmb[opt & 15] : dsb[opt & 15];
}

/* A64 TLBI <op>: SYS with CRn=8 (CRn=9: the FEAT_XS nXS forms). Arm ARM C5.5, "TLBI". */
static const char *a64_tlbi(unsigned op1, unsigned crm, unsigned op2)
{
    if (op1 == 0) {
        static const char *const os[8] = {"vmalle1os", "vae1os", "aside1os", "vaae1os", NULL, "vale1os", NULL, "vaale1os"};
        static const char *const ris[8] = {NULL, "rvae1is", NULL, "rvaae1is", NULL, "rvale1is", NULL, "rvaale1is"};
        static const char *const is[8] = {"vmalle1is", "vae1is", "aside1is", "vaae1is", NULL, "vale1is", NULL, "vaale1is"};
        static const char *const ros[8] = {NULL, "rvae1os", NULL, "rvaae1os", NULL, "rvale1os", NULL, "rvaale1os"};
        static const char *const rl[8] = {NULL, "rvae1", NULL, "rvaae1", NULL, "rvale1", NULL, "rvaale1"};
        static const char *const l[8] = {"vmalle1", "vae1", "aside1", "vaae1", NULL, "vale1", NULL, "vaale1"};
        switch (crm) {
        case 1: return os[op2];
        case 2: return ris[op2];
        case 3: return is[op2];
        case 5: return ros[op2];
        case 6: return rl[op2];
        case 7: return l[op2];
        }
    } else if (op1 == 4) {
        static const char *const c0[8] = {NULL, "ipas2e1is", "ripas2e1is", NULL, NULL, "ipas2le1is", "ripas2le1is", NULL};
        static const char *const c1[8] = {"alle2os", "vae2os", NULL, NULL, "alle1os", "vale2os", "vmalls12e1os", NULL};
        static const char *const c2[8] = {NULL, "rvae2is", NULL, NULL, NULL, "rvale2is", NULL, NULL};
        static const char *const c3[8] = {"alle2is", "vae2is", NULL, NULL, "alle1is", "vale2is", "vmalls12e1is", NULL};
        static const char *const c4[8] = {"ipas2e1os", "ipas2e1", "ripas2e1", "ripas2e1os", "ipas2le1os", "ipas2le1", "ripas2le1", "ripas2le1os"};
        static const char *const c5[8] = {NULL, "rvae2os", NULL, NULL, NULL, "rvale2os", NULL, NULL};
        static const char *const c6[8] = {NULL, "rvae2", NULL, NULL, NULL, "rvale2", NULL, NULL};
        static const char *const c7[8] = {"alle2", "vae2", NULL, NULL, "alle1", "vale2", "vmalls12e1", NULL};
        static const char *const *const t[8] = {c0, c1, c2, c3, c4, c5, c6, c7};
        return crm < 8 ? t[crm][op2] : NULL;
    } else if (op1 == 6) {
        static const char *const c1[8] = {"alle3os", "vae3os", NULL, NULL, NULL, "vale3os", NULL, NULL};
        static const char *const c2[8] = {NULL, "rvae3is", NULL, NULL, NULL, "rvale3is", NULL, NULL};
        static const char *const c3[8] = {"alle3is", "vae3is", NULL, NULL, NULL, "vale3is", NULL, NULL};
        static const char *const c5[8] = {NULL, "rvae3os", NULL, NULL, NULL, "rvale3os", NULL, NULL};
        static const char *const c6[8] = {NULL, "rvae3", NULL, NULL, NULL, "rvale3", NULL, NULL};
        static const char *const c7[8] = {"alle3", "vae3", NULL, NULL, NULL, "vale3", NULL, NULL};
        switch (crm) {
        case 1: return c1[op2];
        case 2: return c2[op2];
        case 3: return c3[op2];
        case 5: return c5[op2];
        case 6: return c6[op2];
        case 7: return c7[op2];
        }
    }
    return NULL;
}

/* The nXS forms carry their base name + "nxs" (as vtlbsim's arch/ops.py spells them). */
static const char *a64_tlbi_nxs(unsigned op1, unsigned crm, unsigned op2)
{
    static char names[8][8][8][20]; /* op1 x CRm x op2, filled on first use */
    const char *base = a64_tlbi(op1, crm, op2);
    if (base == NULL)
        return NULL;
    char *n = names[op1][crm & 7][op2];
    if (n[0] == 0 && strlen(base) + 4 < sizeof names[0][0][0]) {
        char tmp[20];
        strcpy(tmp, base);
        strcat(tmp, "nxs");
        memcpy(n, tmp, sizeof tmp); /* benign race: every writer writes the same bytes */
    }
    return n;
}

/* A64 IC / DC / AT / prediction restriction: SYS with CRn=7. Arm ARM C5.5 "IC", "DC", "AT". */
static const char *a64_cache(unsigned op1, unsigned crm, unsigned op2, int *klass)
{
    const char *n = NULL;
    if (op1 == 0) {
        if (crm == 1 && op2 == 0) n = "ialluis";
        else if (crm == 5 && op2 == 0) n = "iallu";
        else if (crm == 6) {
            static const char *const t[8] = {NULL, "dc ivac", "dc isw", "dc igvac", "dc igsw", "dc igdvac", "dc igdsw", NULL};
            n = t[op2];
        } else if (crm == 10) {
            static const char *const t[8] = {NULL, NULL, "dc csw", NULL, "dc cgsw", NULL, "dc cgdsw", NULL};
            n = t[op2];
        } else if (crm == 14) {
            static const char *const t[8] = {NULL, NULL, "dc cisw", NULL, "dc cigsw", NULL, "dc cigdsw", NULL};
            n = t[op2];
        } else if (crm == 8) {
            static const char *const t[8] = {"at s1e1r", "at s1e1w", "at s1e0r", "at s1e0w", NULL, NULL, NULL, NULL};
            n = t[op2];
        } else if (crm == 9) {
            static const char *const t[8] = {"at s1e1rp", "at s1e1wp", NULL, NULL, NULL, NULL, NULL, NULL};
            n = t[op2];
        }
    } else if (op1 == 3) {
        if (crm == 5 && op2 == 1) n = "ivau";
        else if (crm == 4 && op2 == 1) n = "dc zva";
        else if (crm == 4 && op2 == 3) n = "dc gva";
        else if (crm == 4 && op2 == 4) n = "dc gzva";
        else if (crm == 10 && op2 == 1) n = "dc cvac";
        else if (crm == 11 && op2 == 1) n = "dc cvau";
        else if (crm == 12 && op2 == 1) n = "dc cvap";
        else if (crm == 13 && op2 == 1) n = "dc cvadp";
        else if (crm == 14 && op2 == 1) n = "dc civac";
        else if (crm == 3 && op2 == 4) n = "cfp rctx";
        else if (crm == 3 && op2 == 5) n = "dvp rctx";
        else if (crm == 3 && op2 == 7) n = "cpp rctx";
    } else if (op1 == 4 && crm == 8) {
        static const char *const t[8] = {"at s1e2r", "at s1e2w", NULL, NULL, "at s12e1r", "at s12e1w", "at s12e0r", "at s12e0w"};
        n = t[op2];
    } else if (op1 == 6 && crm == 8) {
        static const char *const t[8] = {"at s1e3r", "at s1e3w", NULL, NULL, NULL, NULL, NULL, NULL};
        n = t[op2];
    }
    return n ? set(klass, CENSUS_MAINT, n) : NULL;
}

/* A64 MSR (register) writes the census names (op0=3). Arm ARM D23/D24 register encodings. */
static const char *a64_msr(unsigned op1, unsigned crn, unsigned crm, unsigned op2)
{
    static const struct {
        unsigned char op1, crn, crm, op2;
        const char *name;
    } regs[] = {
        {0, 1, 0, 0, "msr sctlr_el1"},   {0, 2, 0, 0, "msr ttbr0_el1"},   {0, 2, 0, 1, "msr ttbr1_el1"},
        {0, 2, 0, 2, "msr tcr_el1"},     {0, 10, 2, 0, "msr mair_el1"},   {0, 12, 0, 0, "msr vbar_el1"},
        {0, 13, 0, 1, "msr contextidr_el1"},
        {4, 1, 0, 0, "msr sctlr_el2"},   {4, 1, 1, 0, "msr hcr_el2"},     {4, 2, 0, 0, "msr ttbr0_el2"},
        {4, 2, 0, 1, "msr ttbr1_el2"},   {4, 2, 0, 2, "msr tcr_el2"},     {4, 2, 1, 0, "msr vttbr_el2"},
        {4, 2, 1, 2, "msr vtcr_el2"},    {4, 12, 0, 0, "msr vbar_el2"},   {4, 13, 0, 1, "msr contextidr_el2"},
        {5, 1, 0, 0, "msr sctlr_el12"},  {5, 2, 0, 0, "msr ttbr0_el12"},  {5, 2, 0, 1, "msr ttbr1_el12"},
        {5, 2, 0, 2, "msr tcr_el12"},    {5, 13, 0, 1, "msr contextidr_el12"},
    };
    for (size_t i = 0; i < sizeof regs / sizeof regs[0]; i++)
        if (regs[i].op1 == op1 && regs[i].crn == crn && regs[i].crm == crm && regs[i].op2 == op2)
            return regs[i].name;
    return NULL;
}

/* HINT #imm (A64 CRm:op2, A32/T32 imm8): the ones the census counts. */
static const char *hint_name(unsigned imm, int *klass)
{
    switch (imm) {
    case 2: return set(klass, CENSUS_HINT, "wfe");
    case 3: return set(klass, CENSUS_HINT, "wfi");
    case 20: return set(klass, CENSUS_HINT, "csdb");
    case 22: return set(klass, CENSUS_HINT, "clrbhb");
    case 127: return set(klass, CENSUS_MARKER, "hint #127");
    }
    return NULL;
}

static const char *decode_a64(uint32_t i, int *klass)
{
    if ((i & 0xFFC00000u) == 0xD5000000u) { /* System: 1101 0101 00 L op0 op1 CRn CRm op2 Rt */
        unsigned l = F(i, 21, 21), op0 = F(i, 20, 19), op1 = F(i, 18, 16), crn = F(i, 15, 12);
        unsigned crm = F(i, 11, 8), op2 = F(i, 7, 5), rt = F(i, 4, 0);
        if (l)
            return NULL; /* MRS, SYSL */
        if (op0 == 1) {
            if (crn == 8)
                return a64_tlbi(op1, crm, op2) ? set(klass, CENSUS_MAINT, a64_tlbi(op1, crm, op2)) : NULL;
            if (crn == 9)
                return a64_tlbi_nxs(op1, crm, op2) ? set(klass, CENSUS_MAINT, a64_tlbi_nxs(op1, crm, op2)) : NULL;
            if (crn == 7)
                return a64_cache(op1, crm, op2, klass);
            return NULL;
        }
        if (op0 == 0 && op1 == 3 && rt == 31) {
            if (crn == 2)
                return hint_name((crm << 3) | op2, klass);
            if (crn == 3) {
                if (op2 == 4 || op2 == 5) {
                    const char *n = barrier_name(op2 == 5, crm);
                    return n ? set(klass, CENSUS_BARRIER, n) : NULL;
                }
                if (op2 == 6 && crm == 15)
                    return set(klass, CENSUS_BARRIER, "isb");
                if (op2 == 7 && crm == 0)
                    return set(klass, CENSUS_BARRIER, "sb");
                if (op2 == 1 && (crm & 3) == 2) { /* DSB <option>nXS (FEAT_XS) */
                    static const char *const t[4] = {"dsb oshnxs", "dsb nshnxs", "dsb ishnxs", "dsb synxs"};
                    return set(klass, CENSUS_BARRIER, t[crm >> 2]);
                }
            }
            return NULL;
        }
        if (op0 == 3) {
            const char *n = a64_msr(op1, crn, crm, op2);
            return n ? set(klass, CENSUS_REG, n) : NULL;
        }
        return NULL;
    }
    if ((i & 0xFFE0001Fu) == 0xD4000001u) return set(klass, CENSUS_EXC, "svc");
    if ((i & 0xFFE0001Fu) == 0xD4000002u) return set(klass, CENSUS_EXC, "hvc");
    if ((i & 0xFFE0001Fu) == 0xD4000003u) return set(klass, CENSUS_EXC, "smc");
    if (i == 0xD69F03E0u || i == 0xD69F0BFFu || i == 0xD69F0FFFu) return set(klass, CENSUS_EXC, "eret");
    return NULL;
}

/* AArch32 CP15 write MCR p15, opc1, <Rt>, CRn, CRm, opc2: Arm ARM G8 (TLB: G8.2.x "TLBI*",
 * cache/BP: "ICIALLU" ..., registers: TTBR0, DACR, CONTEXTIDR, HCR, ...). */
static const char *cp15_mcr(unsigned opc1, unsigned crn, unsigned crm, unsigned opc2, int *klass)
{
    const char *n = NULL;
    if (crn == 8 && opc1 == 0) {
        static const char *const c3[8] = {"tlbiallis", "tlbimvais", "tlbiasidis", "tlbimvaais", NULL, "tlbimvalis", NULL, "tlbimvaalis"};
        static const char *const c5[8] = {"itlbiall", "itlbimva", "itlbiasid", NULL, NULL, NULL, NULL, NULL};
        static const char *const c6[8] = {"dtlbiall", "dtlbimva", "dtlbiasid", NULL, NULL, NULL, NULL, NULL};
        static const char *const c7[8] = {"tlbiall", "tlbimva", "tlbiasid", "tlbimvaa", NULL, "tlbimval", NULL, "tlbimvaal"};
        n = crm == 3 ? c3[opc2] : crm == 5 ? c5[opc2] : crm == 6 ? c6[opc2] : crm == 7 ? c7[opc2] : NULL;
    } else if (crn == 8 && opc1 == 4) {
        static const char *const c0[8] = {NULL, "tlbiipas2is", NULL, NULL, NULL, "tlbiipas2lis", NULL, NULL};
        static const char *const c3[8] = {"tlbiallhis", "tlbimvahis", NULL, NULL, "tlbiallnsnhis", "tlbimvalhis", NULL, NULL};
        static const char *const c4[8] = {NULL, "tlbiipas2", NULL, NULL, NULL, "tlbiipas2l", NULL, NULL};
        static const char *const c7[8] = {"tlbiallh", "tlbimvah", NULL, NULL, "tlbiallnsnh", "tlbimvalh", NULL, NULL};
        n = crm == 0 ? c0[opc2] : crm == 3 ? c3[opc2] : crm == 4 ? c4[opc2] : crm == 7 ? c7[opc2] : NULL;
    } else if (crn == 7 && opc1 == 0) {
        static const char *const c1[8] = {"icialluis", NULL, NULL, NULL, NULL, NULL, "bpiallis", NULL};
        static const char *const c5[8] = {"iciallu", "icimvau", NULL, NULL, "cp15isb", NULL, "bpiall", "bpimva"};
        static const char *const c6[8] = {NULL, "dcimvac", "dcisw", NULL, NULL, NULL, NULL, NULL};
        static const char *const c8[8] = {"ats1cpr", "ats1cpw", "ats1cur", "ats1cuw", "ats12nsopr", "ats12nsopw", "ats12nsour", "ats12nsouw"};
        static const char *const c10[8] = {NULL, "dccmvac", "dccsw", NULL, "cp15dsb", "cp15dmb", NULL, NULL};
        static const char *const c14[8] = {NULL, "dccimvac", "dccisw", NULL, NULL, NULL, NULL, NULL};
        switch (crm) {
        case 1: n = c1[opc2]; break;
        case 5: n = c5[opc2]; break;
        case 6: n = c6[opc2]; break;
        case 8: n = c8[opc2]; break;
        case 10: n = c10[opc2]; break;
        case 11: n = opc2 == 1 ? "dccmvau" : NULL; break;
        case 12: n = opc2 == 1 ? "dccmvap" : NULL; break;
        case 14: n = c14[opc2]; break;
        }
        if (n && (!strcmp(n, "cp15isb") || !strcmp(n, "cp15dsb") || !strcmp(n, "cp15dmb")))
            return set(klass, CENSUS_BARRIER, n);
    } else if (crn == 7 && opc1 == 4 && crm == 8 && opc2 <= 1) {
        n = opc2 == 0 ? "ats1hr" : "ats1hw";
    }
    if (n)
        return set(klass, CENSUS_MAINT, n);
    static const struct {
        unsigned char opc1, crn, crm, opc2;
        const char *name;
    } regs[] = {
        {0, 1, 0, 0, "mcr sctlr"},  {0, 1, 0, 1, "mcr actlr"},  {0, 2, 0, 0, "mcr ttbr0"},
        {0, 2, 0, 1, "mcr ttbr1"},  {0, 2, 0, 2, "mcr ttbcr"},  {0, 3, 0, 0, "mcr dacr"},
        {0, 10, 2, 0, "mcr prrr"},  {0, 10, 2, 1, "mcr nmrr"},  {0, 12, 0, 0, "mcr vbar"},
        {0, 13, 0, 1, "mcr contextidr"},
        {4, 1, 0, 0, "mcr hsctlr"}, {4, 1, 1, 0, "mcr hcr"},    {4, 1, 1, 4, "mcr hcr2"},
        {4, 2, 0, 2, "mcr htcr"},   {4, 2, 1, 2, "mcr vtcr"},   {4, 12, 0, 0, "mcr hvbar"},
    };
    for (size_t k = 0; k < sizeof regs / sizeof regs[0]; k++)
        if (regs[k].opc1 == opc1 && regs[k].crn == crn && regs[k].crm == crm && regs[k].opc2 == opc2)
            return set(klass, CENSUS_REG, regs[k].name);
    return NULL;
}

/* MCRR p15, opc1, <Rt>, <Rt2>, CRm: the 64-bit translation table base registers. */
static const char *cp15_mcrr(unsigned opc1, unsigned crm, int *klass)
{
    if (crm != 2)
        return NULL;
    switch (opc1) {
    case 0: return set(klass, CENSUS_REG, "mcrr ttbr0");
    case 1: return set(klass, CENSUS_REG, "mcrr ttbr1");
    case 4: return set(klass, CENSUS_REG, "mcrr httbr");
    case 6: return set(klass, CENSUS_REG, "mcrr vttbr");
    }
    return NULL;
}

static const char *decode_a32(uint32_t i, int *cond, int *klass)
{
    unsigned c = F(i, 31, 28);
    if (cond)
        *cond = (int)c;
    if (c == 15) { /* unconditional space: barriers */
        if (cond)
            *cond = 14;
        uint32_t op = i & 0xFFFFFFF0u;
        if (op == 0xF57FF040u || op == 0xF57FF050u) {
            const char *n = barrier_name(op == 0xF57FF050u, i & 15);
            return n ? set(klass, CENSUS_BARRIER, n) : NULL;
        }
        if (op == 0xF57FF060u)
            return set(klass, CENSUS_BARRIER, "isb");
        if (i == 0xF57FF070u)
            return set(klass, CENSUS_BARRIER, "sb");
        return NULL;
    }
    if ((i & 0x0F100F10u) == 0x0E000F10u) /* MCR p15: cond 1110 opc1 0 CRn Rt 1111 opc2 1 CRm */
        return cp15_mcr(F(i, 23, 21), F(i, 19, 16), F(i, 3, 0), F(i, 7, 5), klass);
    if ((i & 0x0FF00F00u) == 0x0C400F00u) /* MCRR p15: cond 1100 0100 Rt2 Rt 1111 opc1 CRm */
        return cp15_mcrr(F(i, 7, 4), F(i, 3, 0), klass);
    if ((i & 0x0F000000u) == 0x0F000000u) return set(klass, CENSUS_EXC, "svc");
    if ((i & 0x0FF000F0u) == 0x01400070u) return set(klass, CENSUS_EXC, "hvc");
    if ((i & 0x0FFFFFF0u) == 0x01600070u) return set(klass, CENSUS_EXC, "smc");
    if ((i & 0x0FFFFFFFu) == 0x0160006Eu) return set(klass, CENSUS_EXC, "eret");
    if ((i & 0x0FFFFF00u) == 0x0320F000u) return hint_name(i & 0xFF, klass);
    return NULL;
}

static const char *decode_t32(uint32_t x, int *klass)
{
    if ((x & 0xFF100F10u) == 0xEE000F10u) /* MCR T1: 1110 1110 opc1 0 CRn | Rt 1111 opc2 1 CRm */
        return cp15_mcr(F(x, 23, 21), F(x, 19, 16), F(x, 3, 0), F(x, 7, 5), klass);
    if ((x & 0xFFF00F00u) == 0xEC400F00u) /* MCRR T1: 1110 1100 0100 Rt2 | Rt 1111 opc1 CRm */
        return cp15_mcrr(F(x, 7, 4), F(x, 3, 0), klass);
    uint32_t op = x & 0xFFFFFFF0u;
    if (op == 0xF3BF8F40u || op == 0xF3BF8F50u) {
        const char *n = barrier_name(op == 0xF3BF8F50u, x & 15);
        return n ? set(klass, CENSUS_BARRIER, n) : NULL;
    }
    if (op == 0xF3BF8F60u) return set(klass, CENSUS_BARRIER, "isb");
    if (x == 0xF3BF8F70u) return set(klass, CENSUS_BARRIER, "sb");
    if ((x & 0xFFF0F000u) == 0xF7E08000u) return set(klass, CENSUS_EXC, "hvc");
    if ((x & 0xFFF0FFFFu) == 0xF7F08000u) return set(klass, CENSUS_EXC, "smc");
    if (x == 0xF3DE8F00u) return set(klass, CENSUS_EXC, "eret"); /* SUBS PC, LR, #0 */
    if ((x & 0xFFFFFF00u) == 0xF3AF8000u) return hint_name(x & 0xFF, klass);
    return NULL;
}

static const char *decode_t16(uint32_t h, int *klass)
{
    if ((h & 0xFF00u) == 0xDF00u) return set(klass, CENSUS_EXC, "svc");
    if ((h & 0xFF0Fu) == 0xBF00u) return hint_name((h >> 4) & 15, klass); /* low nibble 0: hint, else IT */
    return NULL;
}

const char *census_decode(int isa, uint32_t insn, int *cond, int *klass)
{
    if (cond)
        *cond = 14;
    if (klass)
        *klass = CENSUS_NONE;
    switch (isa) {
    case CENSUS_A64: return decode_a64(insn, klass);
    case CENSUS_A32: return decode_a32(insn, cond, klass);
    case CENSUS_T32: return decode_t32(insn, klass);
    case CENSUS_T16: return decode_t16(insn & 0xFFFF, klass);
    }
    return NULL;
}

const char *census_mnemonic(const char *name)
{
    static const char *const words[] = {"msr", "mcrr", "mcr", "dsb", "dmb", "isb", "sb", "svc", "hvc", "smc",
                                        "eret", "wfi", "wfe", "csdb", "ssbb", "pssbb", "hint"};
    for (size_t k = 0; k < sizeof words / sizeof words[0]; k++) {
        size_t n = strlen(words[k]);
        if (!strncmp(name, words[k], n) && (name[n] == 0 || name[n] == ' '))
            return words[k];
    }
    return "mcr"; /* every other AArch32 census name is a CP15 operation written with MCR */
}
