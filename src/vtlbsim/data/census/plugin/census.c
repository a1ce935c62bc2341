/*
 * vtlbsim census: a QEMU TCG plugin (API version 1, QEMU 7.2) that counts, per vCPU and per
 * phase, the maintenance instructions a guest executes (TLBI, IC, DC, BP, AT), barriers, writes
 * to translation/control registers, SVC/HVC/SMC/ERET, WFI/WFE, and the instructions executed per
 * address range. Phases are separated by HINT #127 (an unallocated hint: a NOP to the guest).
 *
 * Method: every instruction is decoded once, when QEMU translates it (decode.c); only the ones
 * the census counts get an execution callback. Instruction totals come from one callback per
 * executed translation block (its instruction count is known at translation). Counters are per
 * vCPU, and a vCPU's counters are written only by the thread running it, so no atomics are needed.
 *
 * Caveat (QEMU 7.2): the execution callback of an A32 instruction runs *before* its condition is
 * checked, so a conditional instruction is counted when reached, not when executed. Conditional
 * sites are therefore kept apart (per site, with their condition field) and never added to the
 * kind counts; vtlbsim resolves them (src/vtlbsim/census/cond.py).
 *
 * Options (-plugin libcensus.so,KEY=VALUE,...):
 *   isa=a64|a32          the guest's instruction set (a32: A32 and T32; T32 blocks are told apart
 *                        by 2-byte instructions or a 2-aligned start, ambiguous ones by QEMU's
 *                        disassembler)
 *   a64range=LO:HI       with isa=a32: blocks starting in [LO, HI) are A64 (a hypervisor's text
 *                        under an AArch32 guest)
 *   range=NAME:LO:HI     an address range for instruction totals (hex, HI exclusive; up to 8;
 *                        the rest is counted as "other")
 *   event=ADDR:NAME      report "event SEQ PHASE VCPU NAME" each time the instruction at ADDR
 *                        (hex) executes, numbered in execution order (up to 8 events; used to
 *                        follow a hypervisor's vCPU loads and flushes, see census/xen.py)
 * Output (qemu_plugin_outs, i.e. QEMU's log with -d plugin -D FILE): tab-separated lines, see
 * src/vtlbsim/census/pluginlog.py.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "qemu_plugin_api.h"

CENSUS_EXPORT int qemu_plugin_version = 1;

#define MAX_PHASES 8
#define MAX_VCPUS 8
#define MAX_KINDS 256
#define MAX_RANGES 9
#define MAX_SITES 8192
#define SITE_HASH 16384

struct site {
    uint64_t vaddr;
    uint32_t insn;
    int kind;
    int cond;
    int isa;
    int last_in_tb; /* bit 0: seen as the last instruction of its block; bit 1: seen before it */
};

static int isa_a64 = 1;
static uint64_t a64_lo, a64_hi;
static int n_vcpus = 1;
static const char *kind_name[MAX_KINDS];
static int n_kinds;
static uint64_t kind_count[MAX_PHASES][MAX_VCPUS][MAX_KINDS];
static char range_name[MAX_RANGES][32];
static uint64_t range_lo[MAX_RANGES], range_hi[MAX_RANGES];
static int n_ranges;
static uint64_t insn_count[MAX_PHASES][MAX_VCPUS][MAX_RANGES];
static struct site sites[MAX_SITES];
static int site_hash[SITE_HASH];
static int n_sites;
static uint64_t sites_dropped;
static uint64_t site_count[MAX_PHASES][MAX_VCPUS][MAX_SITES];
static int phase;
#define MAX_EVENTS 8
static uint64_t event_addr[MAX_EVENTS];
static char event_name[MAX_EVENTS][32];
static int n_events;
static uint64_t event_seq;
static uint64_t ambiguous_resolved;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* Callback user data: bit 63 marks a site index (else a kind index); bit 62 a conditional site;
 * bit 61 the marker; bit 60 an event (its index in the low bits). */
#define UD_SITE (1ull << 63)
#define UD_COND (1ull << 62)
#define UD_MARK (1ull << 61)
#define UD_EVENT (1ull << 60)
#define UD_INDEX 0xFFFFFFull

static int vcpu_slot(unsigned int vcpu_index)
{
    return vcpu_index < MAX_VCPUS ? (int)vcpu_index : MAX_VCPUS - 1;
}

static int current_phase(void)
{
    return __atomic_load_n(&phase, __ATOMIC_RELAXED);
}

static int kind_index(const char *name)
{
    for (int k = 0; k < n_kinds; k++)
        if (kind_name[k] == name || !strcmp(kind_name[k], name))
            return k;
    if (n_kinds == MAX_KINDS)
        return MAX_KINDS - 1;
    kind_name[n_kinds] = name;
    return n_kinds++;
}

static int site_index(uint64_t vaddr, uint32_t insn, int kind, int cond, int isa)
{
    unsigned h = (unsigned)((vaddr >> 1) ^ (vaddr >> 15) ^ insn) % SITE_HASH;
    for (unsigned probe = 0; probe < SITE_HASH; probe++, h = (h + 1) % SITE_HASH) {
        int s = site_hash[h] - 1;
        if (s < 0) {
            if (n_sites == MAX_SITES) {
                sites_dropped++;
                return -1;
            }
            s = n_sites++;
            sites[s] = (struct site){vaddr, insn, kind, cond, isa, 0};
            site_hash[h] = s + 1;
            return s;
        }
        if (sites[s].vaddr == vaddr && sites[s].insn == insn)
            return s;
    }
    return -1;
}

static int range_of(uint64_t vaddr)
{
    for (int r = 0; r < n_ranges; r++)
        if (vaddr >= range_lo[r] && vaddr < range_hi[r])
            return r;
    return n_ranges; /* "other" */
}

__attribute__((format(printf, 1, 2))) static void emit(const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    qemu_plugin_outs(line);
}

static void on_tb_exec(unsigned int vcpu_index, void *udata)
{
    uintptr_t u = (uintptr_t)udata;
    insn_count[current_phase()][vcpu_slot(vcpu_index)][u >> 24] += u & 0xFFFFFF;
}

static void on_insn_exec(unsigned int vcpu_index, void *udata)
{
    uint64_t u = (uint64_t)(uintptr_t)udata;
    int v = vcpu_slot(vcpu_index);
    if (u & UD_MARK) {
        int p = current_phase();
        kind_count[p][v][u & UD_INDEX]++;
        int next = p + 1 < MAX_PHASES ? p + 1 : p;
        __atomic_store_n(&phase, next, __ATOMIC_RELAXED);
        emit("mark\t%d\t%d\n", next, v);
        return;
    }
    int p = current_phase();
    if (u & UD_EVENT) {
        emit("event\t%" PRIu64 "\t%d\t%d\t%s\n", __atomic_add_fetch(&event_seq, 1, __ATOMIC_RELAXED),
             p, v, event_name[u & UD_INDEX]);
        return;
    }
    if (u & UD_SITE) {
        int s = (int)(u & UD_INDEX);
        site_count[p][v][s]++;
        if (!(u & UD_COND))
            kind_count[p][v][sites[s].kind]++;
        return;
    }
    kind_count[p][v][u & UD_INDEX]++;
}

static uint32_t read32(const uint8_t *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/* Is this AArch32 block Thumb? 2-byte instructions or a 2-aligned start say so; a block of
 * 4-byte instructions each beginning with a 32-bit T32 prefix (hw1[15:11] = 0b11101..0b11111)
 * is ambiguous (returns -1). */
static int block_is_thumb(struct qemu_plugin_tb *tb, size_t n)
{
    if (qemu_plugin_tb_vaddr(tb) & 2)
        return 1;
    int all_prefix = 1;
    for (size_t k = 0; k < n; k++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, k);
        if (qemu_plugin_insn_size(insn) == 2)
            return 1;
        const uint8_t *b = qemu_plugin_insn_data(insn);
        unsigned hw1 = b[0] | b[1] << 8;
        if ((hw1 >> 11) < 0x1D)
            all_prefix = 0;
    }
    return all_prefix ? -1 : 0;
}

/* For an ambiguous block: the decoding whose mnemonic QEMU's disassembler (which knows the
 * block's instruction set) prints; NULL if neither. */
static const char *disambiguate(struct qemu_plugin_insn *insn, const char *a32, const char *t32,
                                int *isa)
{
    char *dis = qemu_plugin_insn_disas(insn);
    const char *pick = NULL;
    if (dis) {
        const char *names[2] = {a32, t32};
        for (int k = 0; k < 2 && !pick; k++) {
            if (!names[k])
                continue;
            const char *m = census_mnemonic(names[k]);
            size_t n = strlen(m);
            if (!strncmp(dis, m, n) && (dis[n] == ' ' || dis[n] == '\t' || dis[n] == 0 || dis[n] == '.')) {
                pick = names[k];
                *isa = k == 0 ? CENSUS_A32 : CENSUS_T32;
            }
        }
        free(dis);
    } else if (a32 && !t32) {
        pick = a32;
        *isa = CENSUS_A32;
    }
    __atomic_add_fetch(&ambiguous_resolved, 1, __ATOMIC_RELAXED);
    return pick;
}

static void on_tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    (void)id;
    size_t n = qemu_plugin_tb_n_insns(tb);
    uint64_t tb_vaddr = qemu_plugin_tb_vaddr(tb);
    int a64 = isa_a64 || (tb_vaddr >= a64_lo && tb_vaddr < a64_hi);
    int thumb = a64 ? 0 : block_is_thumb(tb, n);
    uintptr_t ud = ((uintptr_t)range_of(tb_vaddr) << 24) | (n & 0xFFFFFF);
    qemu_plugin_register_vcpu_tb_exec_cb(tb, on_tb_exec, QEMU_PLUGIN_CB_NO_REGS, (void *)ud);

    pthread_mutex_lock(&lock);
    for (size_t k = 0; k < n; k++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, k);
        size_t size = qemu_plugin_insn_size(insn);
        uint64_t vaddr = qemu_plugin_insn_vaddr(insn);
        const uint8_t *b = qemu_plugin_insn_data(insn);
        int cond = 14, klass = CENSUS_NONE, isa;
        uint32_t word;
        const char *name;
        for (int e = 0; e < n_events; e++)
            if (vaddr == event_addr[e])
                qemu_plugin_register_vcpu_insn_exec_cb(insn, on_insn_exec, QEMU_PLUGIN_CB_NO_REGS,
                                                       (void *)(uintptr_t)(UD_EVENT | (uint64_t)e));
        if (a64) {
            if (size != 4)
                continue;
            word = read32(b);
            isa = CENSUS_A64;
            name = census_decode(isa, word, &cond, &klass);
        } else if (size == 2) {
            word = (uint32_t)(b[0] | b[1] << 8);
            isa = CENSUS_T16;
            name = census_decode(isa, word, &cond, &klass);
        } else if (thumb == 1) {
            word = (uint32_t)(b[0] | b[1] << 8) << 16 | (uint32_t)(b[2] | b[3] << 8);
            isa = CENSUS_T32;
            name = census_decode(isa, word, &cond, &klass);
        } else {
            word = read32(b);
            isa = CENSUS_A32;
            name = census_decode(isa, word, &cond, &klass);
            if (thumb == -1) {
                uint32_t tword = (uint32_t)(b[0] | b[1] << 8) << 16 | (uint32_t)(b[2] | b[3] << 8);
                int tcond, tklass;
                const char *tname = census_decode(CENSUS_T32, tword, &tcond, &tklass);
                if (name || tname) {
                    const char *pick = disambiguate(insn, name, tname, &isa);
                    if (pick == tname && tname) {
                        name = tname;
                        cond = tcond;
                        klass = tklass;
                        word = tword;
                    } else if (pick == NULL) {
                        name = NULL;
                    }
                }
            }
        }
        if (name == NULL)
            continue;
        int kind = kind_index(name);
        uint64_t u;
        int per_site = klass == CENSUS_MAINT || klass == CENSUS_REG ||
                       (klass == CENSUS_EXC && strcmp(name, "svc")) || cond != 14;
        if (klass == CENSUS_MARKER) {
            u = UD_MARK | (uint64_t)kind;
        } else if (per_site) {
            int s = site_index(vaddr, word, kind, cond, isa);
            if (s < 0) {
                if (cond != 14)
                    continue; /* reported as sites_dropped */
                u = (uint64_t)kind;
            } else {
                sites[s].last_in_tb |= (k + 1 == n) ? 1 : 2;
                u = UD_SITE | (uint64_t)s | (cond != 14 ? UD_COND : 0);
            }
        } else {
            u = (uint64_t)kind;
        }
        qemu_plugin_register_vcpu_insn_exec_cb(insn, on_insn_exec, QEMU_PLUGIN_CB_NO_REGS,
                                               (void *)(uintptr_t)u);
    }
    pthread_mutex_unlock(&lock);
}

static void on_exit_report(qemu_plugin_id_t id, void *udata)
{
    (void)id;
    (void)udata;
    int phases = current_phase() + 1;
    emit("phases\t%d\n", phases);
    for (int p = 0; p < phases; p++)
        for (int v = 0; v < n_vcpus && v < MAX_VCPUS; v++) {
            for (int k = 0; k < n_kinds; k++)
                if (kind_count[p][v][k])
                    emit("count\t%d\t%d\t%s\t%" PRIu64 "\n", p, v, kind_name[k], kind_count[p][v][k]);
            for (int r = 0; r <= n_ranges; r++)
                if (insn_count[p][v][r])
                    emit("insns\t%d\t%d\t%s\t%" PRIu64 "\n", p, v, r < n_ranges ? range_name[r] : "other",
                         insn_count[p][v][r]);
        }
    for (int s = 0; s < n_sites; s++) {
        const struct site *st = &sites[s];
        emit("site\t%d\t0x%" PRIx64 "\t0x%08" PRIx32 "\t%s\t%d\t%s\t%d\n", s, st->vaddr, st->insn,
             kind_name[st->kind], st->cond, st->isa == CENSUS_A64 ? "a64" : st->isa == CENSUS_A32 ? "a32" : "t32",
             st->last_in_tb);
        for (int p = 0; p < phases; p++)
            for (int v = 0; v < n_vcpus && v < MAX_VCPUS; v++)
                if (site_count[p][v][s])
                    emit("sitecount\t%d\t%d\t%d\t%" PRIu64 "\n", s, p, v, site_count[p][v][s]);
    }
    emit("dropped\t%" PRIu64 "\t%" PRIu64 "\n", sites_dropped, ambiguous_resolved);
    emit("end\n");
}

static int parse_range(const char *spec, uint64_t *lo, uint64_t *hi)
{
    char *end;
    *lo = strtoull(spec, &end, 16);
    if (*end != ':')
        return -1;
    *hi = strtoull(end + 1, &end, 16);
    return *end == 0 && *hi > *lo ? 0 : -1;
}

CENSUS_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc,
                                      char **argv)
{
    n_vcpus = info->system_emulation ? info->system.smp_vcpus : 1;
    if (n_vcpus > MAX_VCPUS) {
        fprintf(stderr, "census: at most %d vCPUs\n", MAX_VCPUS);
        return -1;
    }
    for (int a = 0; a < argc; a++) {
        const char *arg = argv[a];
        if (!strcmp(arg, "isa=a64")) {
            isa_a64 = 1;
        } else if (!strcmp(arg, "isa=a32")) {
            isa_a64 = 0;
        } else if (!strncmp(arg, "range=", 6)) {
            const char *colon = strchr(arg + 6, ':');
            if (!colon || n_ranges == MAX_RANGES - 1 || colon - (arg + 6) >= 31 ||
                parse_range(colon + 1, &range_lo[n_ranges], &range_hi[n_ranges])) {
                fprintf(stderr, "census: bad option %s (expected range=NAME:LO:HI, hex)\n", arg);
                return -1;
            }
            memcpy(range_name[n_ranges], arg + 6, (size_t)(colon - (arg + 6)));
            n_ranges++;
        } else if (!strncmp(arg, "a64range=", 9)) {
            if (parse_range(arg + 9, &a64_lo, &a64_hi)) {
                fprintf(stderr, "census: bad option %s (expected a64range=LO:HI, hex)\n", arg);
                return -1;
            }
        } else if (!strncmp(arg, "event=", 6)) {
            char *end;
            const char *colon = strchr(arg + 6, ':');
            if (!colon || n_events == MAX_EVENTS || strlen(colon + 1) >= sizeof event_name[0] ||
                (event_addr[n_events] = strtoull(arg + 6, &end, 16), end != colon)) {
                fprintf(stderr, "census: bad option %s (expected event=ADDR:NAME, hex)\n", arg);
                return -1;
            }
            strcpy(event_name[n_events++], colon + 1);
        } else {
            fprintf(stderr, "census: unknown option %s\n", arg);
            return -1;
        }
    }
    emit("census\t1\t%s\t%d\t%s\n", info->target_name, n_vcpus, isa_a64 ? "a64" : "a32");
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_tb_trans);
    qemu_plugin_register_atexit_cb(id, on_exit_report, NULL);
    return 0;
}
