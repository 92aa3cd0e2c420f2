/*
 * newlib system calls over Arm semihosting, for qemu (-semihosting-config enable=on,target=native).
 * Only what the example needs: _write to stdout/stderr (SYS_WRITE0 in chunks) and _exit with
 * qemu's exit status (SYS_EXIT: ApplicationExit gives 0, RunTimeErrorUnknown gives 1; AArch32
 * semihosting carries no other code). Everything else comes from nosys.specs. _exit first
 * writes print.c's partial line, then the RAM used beyond .data and .bss: the heap (nothing
 * allocates unless some newlib function does) and the stack's high-water mark, found as the
 * lowest word that no longer holds startup.c's paint.
 */
#include <stddef.h>
#include <stdint.h>

static int semihost(int op, const void *arg) {
    register int r0 __asm("r0") = op;
    register const void *r1 __asm("r1") = arg;
    __asm volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

int _write(int fd, const char *buf, size_t len) {
    (void)fd;
    char chunk[129];
    for (size_t done = 0; done < len;) {
        size_t n = len - done < 128 ? len - done : 128;
        size_t k = 0;
        for (size_t i = 0; i < n; ++i)
            if (buf[done + i] != '\0') chunk[k++] = buf[done + i];
        chunk[k] = '\0';
        semihost(0x04 /* SYS_WRITE0 */, chunk);
        done += n;
    }
    return (int)len;
}

extern uint32_t __stack_top, end;
extern const uint32_t stack_paint;
void *_sbrk(ptrdiff_t incr);

/* Appends the decimal digits of v to *at. */
static void put_uint(char **at, uint32_t v) {
    char digits[10];
    int n = 0;
    do digits[n++] = (char)('0' + v % 10); while ((v /= 10) != 0);
    while (n > 0) *(*at)++ = digits[--n];
}

static void put_str(char **at, const char *s) {
    while (*s) *(*at)++ = *s++;
}

void print_flush(void);

__attribute__((noreturn)) void _exit(int status) {
    print_flush();
    const uint32_t *brk = (const uint32_t *)_sbrk(0), *low = brk;
    while (low < &__stack_top && *low == stack_paint) ++low;
    char line[96], *at = line;
    put_str(&at, "footprint: heap ");
    put_uint(&at, (uint32_t)((uintptr_t)brk - (uintptr_t)&end));
    put_str(&at, " B, stack peak ");
    put_uint(&at, (uint32_t)((uintptr_t)&__stack_top - (uintptr_t)low));
    put_str(&at, " B\n");
    *at = '\0';
    semihost(0x04 /* SYS_WRITE0 */, line);
    semihost(0x18 /* SYS_EXIT */, (const void *)(uintptr_t)(status == 0 ? 0x20026 : 0x20023));
    for (;;) {
    }
}
