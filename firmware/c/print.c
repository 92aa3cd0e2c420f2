/*
 * The formatted output the example uses, in place of newlib's stdio: printf and fprintf with
 * %d, %u, %ld, %lu, %s and %c, a width (a number or *) and the flag -, plus puts, putchar,
 * fputs, fputc and fwrite (GCC turns simple printf calls into those). No float conversion
 * (planar_arm.c prints its numbers as fixed-point integers under ARM_PRINT_FIXED), no heap:
 * a line is collected in a static buffer and written by semihost.c's _write at '\n' or when
 * full. stdout and stderr go to the same console. newlib-nano's stdio (FILE structures,
 * buffers on the heap, vfprintf) costs several KiB of flash and some 0.5 KiB of RAM more.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

int _write(int fd, const char *buf, size_t len);

static char line[64];
static size_t used;

static void flush(void) {
    if (used > 0) _write(1, line, used);
    used = 0;
}

static void put(char c) {
    line[used++] = c;
    if (c == '\n' || used == sizeof line) flush();
}

static void put_padded(const char *s, size_t n, int width, int left) {
    for (int pad = width - (int)n; !left && pad > 0; --pad) put(' ');
    for (size_t i = 0; i < n; ++i) put(s[i]);
    for (int pad = width - (int)n; left && pad > 0; --pad) put(' ');
}

static int format(const char *f, va_list ap) {
    for (; *f; ++f) {
        if (*f != '%') {
            put(*f);
            continue;
        }
        int left = 0, width = 0, is_long = 0;
        if (*++f == '-') left = 1, ++f;
        if (*f == '*') {
            width = va_arg(ap, int);
            ++f;
        } else {
            while (*f >= '0' && *f <= '9') width = width * 10 + (*f++ - '0');
        }
        if (*f == 'l') is_long = 1, ++f;
        char digits[12], *d = digits + sizeof digits;
        unsigned long v;
        int negative = 0;
        switch (*f) {
        case 's': {
            const char *s = va_arg(ap, const char *);
            size_t n = 0;
            while (s[n]) ++n;
            put_padded(s, n, width, left);
            continue;
        }
        case 'c':
            digits[0] = (char)va_arg(ap, int);
            put_padded(digits, 1, width, left);
            continue;
        case 'd': {
            long x = is_long ? va_arg(ap, long) : va_arg(ap, int);
            negative = x < 0;
            v = negative ? 0ul - (unsigned long)x : (unsigned long)x;
            break;
        }
        case 'u':
            v = is_long ? va_arg(ap, unsigned long) : va_arg(ap, unsigned);
            break;
        case '%':
            put('%');
            continue;
        default: /* not supported: show it rather than misread the arguments */
            put('%');
            put(*f ? *f : '?');
            if (!*f) return -1;
            continue;
        }
        do *--d = (char)('0' + v % 10); while ((v /= 10) != 0);
        if (negative) *--d = '-';
        put_padded(d, (size_t)(digits + sizeof digits - d), width, left);
    }
    return 0;
}

int printf(const char *restrict f, ...) {
    va_list ap;
    va_start(ap, f);
    int r = format(f, ap);
    va_end(ap);
    return r;
}

int fprintf(FILE *restrict stream, const char *restrict f, ...) {
    (void)stream;
    va_list ap;
    va_start(ap, f);
    int r = format(f, ap);
    va_end(ap);
    return r;
}

int fputs(const char *restrict s, FILE *restrict stream) {
    (void)stream;
    while (*s) put(*s++);
    return 0;
}

int puts(const char *s) {
    while (*s) put(*s++);
    put('\n');
    return 0;
}

int fputc(int c, FILE *stream) {
    (void)stream;
    put((char)c);
    return c;
}

int putchar(int c) {
    put((char)c);
    return c;
}

size_t fwrite(const void *restrict p, size_t size, size_t n, FILE *restrict stream) {
    (void)stream;
    for (size_t i = 0; i < size * n; ++i) put(((const char *)p)[i]);
    return n;
}

/* Writes a partial line; semihost.c's _exit calls it first. */
void print_flush(void) { flush(); }
