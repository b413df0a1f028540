/* gate.h - bounds how many threads of a process run request code at once.
 *
 * A worker keeps more threads than CPUs so that requests waiting on an upstream
 * platform or on the disk do not hold up the others.  When every request is CPU work
 * (the common case: health, credentials, cached proxy answers) the surplus threads
 * only compete with nginx and with each other for the CPUs, and every extra runnable
 * thread lengthens the wait of a request that is ready.  The gate lets `slots`
 * threads take requests; a thread about to block (an upstream call, a database
 * write, waiting for a cache fill) gives its slot to a waiting thread and takes it back
 * without waiting when it returns, so the gate never holds up a thread that holds
 * anything: only a thread with nothing in hand waits at it.
 *
 * Process-wide.  Until farm_gate_init sets a limit (and in the processes that never
 * do: the daemons, farmctl) the calls only count and never wait. */
#ifndef FARM_GATE_H
#define FARM_GATE_H

/* slots <= 0: no limit. Call before the threads start. */
void farm_gate_init(int slots);
/* A thread takes a slot, waiting until one is free. Call holding nothing. */
void farm_gate_enter(void);
/* Between requests: gives the slot back and waits for one when more threads hold one
 * than there are slots (threads back from a block are counted at once). */
void farm_gate_settle(void);
/* Around a blocking call; block gives the slot to a waiting thread, unblock counts the
 * caller again at once. */
void farm_gate_block(void);
void farm_gate_unblock(void);
/* A thread that will take no more requests gives its slot back for good. */
void farm_gate_leave(void);
/* Stopping: no limit any more, every waiting thread goes through. */
void farm_gate_open(void);

#endif
