/*
 * Minimal Cortex-M4F start-up for qemu's mps2-an386 with newlib (nano, nosys) and Arm semihosting:
 * the vector table points the reset vector at reset(), which enables the FPU (the code is
 * built for the hard-float ABI), copies .data from flash, zeroes .bss and passes main's result
 * to _exit. Not newlib's _start and exit(): the example registers no atexit handlers and has no
 * constructors, and their machinery costs about 0.5 KiB of flash and 0.2 KiB of RAM. print.c
 * formats stdout/stderr, semihost.c writes them and the exit status.
 * Faults print "hard fault" and exit with status 1. Before main, the RAM between the end of
 * .bss and the stack is painted, so that _exit (semihost.c) can report the heap and the stack
 * high-water mark.
 */
#include <stdint.h>
#include <stdio.h>

int main(void);
__attribute__((noreturn)) void _exit(int status); /* semihost.c */
extern uint32_t __stack_top, __data_start__, __data_end__, __data_load__, __bss_start__, __bss_end__, end;

/* What unused RAM holds until the heap or the stack reaches it. */
const uint32_t stack_paint = 0x5A17C0DEu;

__attribute__((noreturn)) void reset(void) {
    /* CPACR: full access to CP10 and CP11 (the FPU), then barriers. */
    *(volatile uint32_t *)0xE000ED88 |= (0xFu << 20);
    __asm volatile("dsb\n\tisb" ::: "memory");
    /* .data from its load address in flash, and .bss zeroed. */
    for (uint32_t *src = &__data_load__, *dst = &__data_start__; dst < &__data_end__;) *dst++ = *src++;
    for (uint32_t *dst = &__bss_start__; dst < &__bss_end__;) *dst++ = 0;
    /* Paint up to 256 bytes below this frame's stack pointer. */
    uint32_t sp;
    __asm volatile("mov %0, sp" : "=r"(sp));
    for (volatile uint32_t *p = &end; (uintptr_t)p < sp - 256; ++p) *p = stack_paint;
    _exit(main());
}

static void fault(void) {
    fputs("hard fault\n", stderr);
    _exit(1);
}

__attribute__((section(".vectors"), used)) static void (*const vectors[16])(void) = {
    (void (*)(void))(&__stack_top), reset, fault, fault, fault, fault, fault, 0, 0, 0, 0, fault, fault, 0, fault,
    fault,
};
