/*
 * sysclock.h - the clock port over clock_gettime (CLOCK_REALTIME and CLOCK_MONOTONIC).
 */
#ifndef QL_SYSCLOCK_H
#define QL_SYSCLOCK_H

#include "clock/clock.h"

/* The process-wide system clock.  It has no state, so one static object serves all. */
struct ql_clock *ql_sysclock(void);

#endif
