/*
 * newlib system calls over Arm semihosting, for qemu (-semihosting-config enable=on,target=native).
 * Only what the example needs: _write to stdout/stderr (SYS_WRITE0 in chunks) and _exit with
 * qemu's exit status (SYS_EXIT: ApplicationExit gives 0, RunTimeErrorUnknown gives 1; AArch32
 * semihosting carries no other code). Everything else comes from nosys.specs.
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

__attribute__((noreturn)) void _exit(int status) {
    semihost(0x18 /* SYS_EXIT */, (const void *)(uintptr_t)(status == 0 ? 0x20026 : 0x20023));
    for (;;) {
    }
}
