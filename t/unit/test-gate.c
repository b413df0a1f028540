/* test-gate.c - the worker's running-thread gate (lib/core/gate.c): at most `slots`
 * threads between taking a slot and blocking, a blocked thread's slot goes to a
 * waiting one, nobody is left asleep, and opening the gate lets every waiter through.
 * A lost wake-up shows as a hang: alarm() turns it into a failure. */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "gate.h"
#include "tap.h"

#define THREADS 4
#define ROUNDS 400

static atomic_int inside, most, passed;
static atomic_int seen_by[THREADS];

static void pause_us(long us)
{
	struct timespec ts = {0, us * 1000};

	nanosleep(&ts, NULL);
}

static void spin_us(long us)
{
	struct timespec a, b;

	clock_gettime(CLOCK_MONOTONIC, &a);
	do
		clock_gettime(CLOCK_MONOTONIC, &b);
	while ((b.tv_sec - a.tv_sec) * 1000000L + (b.tv_nsec - a.tv_nsec) / 1000 < us);
}

/* The worker's loop: settle, run (CPU), block (an upstream call), come back. */
static void *runner(void *arg)
{
	int id = (int)(long)arg;

	farm_gate_enter();
	for (int i = 0; i < ROUNDS; i++) {
		int in, m;

		farm_gate_settle();
		in = atomic_fetch_add(&inside, 1) + 1;
		m = atomic_load(&most);
		while (in > m && !atomic_compare_exchange_weak(&most, &m, in))
			;
		atomic_fetch_add(&seen_by[id], 1);
		spin_us(20);
		atomic_fetch_sub(&inside, 1);
		farm_gate_block();
		pause_us(i % 3 == 0 ? 200 : 0);
		farm_gate_unblock();
	}
	farm_gate_leave();
	return NULL;
}

static int run_all(int slots)
{
	pthread_t t[THREADS];
	int all = 1;

	atomic_store(&inside, 0);
	atomic_store(&most, 0);
	farm_gate_init(slots);
	for (long i = 0; i < THREADS; i++) {
		atomic_store(&seen_by[i], 0);
		pthread_create(&t[i], NULL, runner, (void *)i);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < THREADS; i++)
		all &= atomic_load(&seen_by[i]) == ROUNDS;
	return all;
}

static void *enter_and_count(void *arg)
{
	(void)arg;
	farm_gate_enter();
	atomic_fetch_add(&passed, 1);
	farm_gate_leave();
	return NULL;
}

/* Starts three threads that take a slot, count themselves and leave; gives them
 * 50 ms to get as far as they can. */
static void start_waiters(pthread_t t[3])
{
	atomic_store(&passed, 0);
	for (int i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, enter_and_count, NULL);
	pause_us(50000);
}

static void join_waiters(pthread_t t[3])
{
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
}

/* Waits up to a second for `passed` to reach n. */
static int passed_reaches(int n)
{
	for (int i = 0; i < 1000 && atomic_load(&passed) < n; i++)
		pause_us(1000);
	return atomic_load(&passed) == n;
}

int main(void)
{
	pthread_t t[3];

	alarm(20);

	ok(run_all(1), "one slot: every thread finished every round (no lost wake-up)");
	is_int(atomic_load(&most), 1, "one slot: never two threads running request code at once");

	ok(run_all(2), "two slots: every thread finished every round");
	ok(atomic_load(&most) <= 2, "two slots: at most two running at once");

	/* No limit: nobody waits, even with a slot held. */
	farm_gate_init(0);
	farm_gate_enter();
	start_waiters(t);
	ok(passed_reaches(3), "no limit: every thread goes through at once");
	join_waiters(t);
	farm_gate_leave();

	/* A holder's block lets the waiters in; its unblock does not wait (a hang here
	 * is the alarm's) and counts the holder again: new waiters wait. */
	farm_gate_init(1);
	farm_gate_enter();
	start_waiters(t);
	is_int(atomic_load(&passed), 0, "slot held: the others wait at the gate");
	farm_gate_block();
	ok(passed_reaches(3), "holder blocked: the waiters go through one after another");
	farm_gate_unblock();
	join_waiters(t);

	/* Opening the gate (a stopping worker) releases everyone at once. */
	start_waiters(t);
	is_int(atomic_load(&passed), 0, "holder back from its block: the others wait again");
	farm_gate_open();
	ok(passed_reaches(3), "gate opened: every waiter went through");
	join_waiters(t);
	farm_gate_leave();

	/* settle hands the slot over only when there are too many runners; leave gives
	 * it back for good. */
	farm_gate_init(1);
	farm_gate_enter();
	farm_gate_settle();
	start_waiters(t);
	is_int(atomic_load(&passed), 0, "settle alone, no excess: it kept its slot, the others wait");
	farm_gate_leave();
	ok(passed_reaches(3), "leave: the waiters go through");
	join_waiters(t);

	return done_testing();
}
