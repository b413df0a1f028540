/* gate.c - a counting gate on a futex word (see gate.h). */
#include "gate.h"

#include <limits.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

static atomic_int limit;       /* 0: no gate */
static atomic_int active;      /* threads holding a slot (may exceed limit briefly) */
static atomic_int waiting;     /* threads asleep (or about to be) in enter */
static _Atomic uint32_t moved; /* futex word: bumped whenever a slot is given back */

void farm_gate_init(int slots)
{
	atomic_store(&limit, slots > 0 ? slots : 0);
}

void farm_gate_enter(void)
{
	for (;;) {
		int lim = atomic_load(&limit), v = atomic_load(&active);
		uint32_t seen;

		if (lim == 0 || v < lim) {
			if (atomic_compare_exchange_weak(&active, &v, v + 1))
				return;
			continue;
		}
		seen = atomic_load(&moved);
		atomic_fetch_add(&waiting, 1);
		/* Sleeps only if no slot was given back since `seen` was read: a leave
		 * that came before the count of waiters rose bumped `moved` first. */
		lim = atomic_load(&limit);
		if (lim != 0 && atomic_load(&active) >= lim)
			syscall(SYS_futex, &moved, FUTEX_WAIT_PRIVATE, seen, NULL, NULL, 0);
		atomic_fetch_sub(&waiting, 1);
	}
}

void farm_gate_leave(void)
{
	atomic_fetch_sub(&active, 1);
	atomic_fetch_add(&moved, 1);
	if (atomic_load(&waiting) > 0)
		syscall(SYS_futex, &moved, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

void farm_gate_settle(void)
{
	int lim = atomic_load(&limit);

	if (lim == 0 || atomic_load(&active) <= lim)
		return;
	farm_gate_leave();
	farm_gate_enter();
}

/* Both count with or without a limit, so that `active` stays exact across
 * farm_gate_open and farm_gate_init. */
void farm_gate_block(void)
{
	farm_gate_leave();
}

void farm_gate_unblock(void)
{
	atomic_fetch_add(&active, 1);
}

void farm_gate_open(void)
{
	atomic_store(&limit, 0);
	atomic_fetch_add(&moved, 1);
	syscall(SYS_futex, &moved, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}
