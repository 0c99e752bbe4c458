/* clock: seconds on a monotonic clock, for phase timers, rate limits and the watchdog.
 * Layer 0, libc only. */
#ifndef NNMPI_CLOCK_H
#define NNMPI_CLOCK_H

/* Seconds since an arbitrary fixed point; never jumps with the wall clock. */
double nn_now(void);

#endif
