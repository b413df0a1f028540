/* clock.h - wall-clock helpers: milliseconds and ISO 8601 UTC text. */
#ifndef FARM_CLOCK_H
#define FARM_CLOCK_H

/* Unix time in milliseconds. */
long long farm_clock_ms(void);
/* "2025-01-01T00:00:00.000Z" into out (25 bytes). */
void farm_clock_iso(long long ms, char out[25]);

#endif
