/* clock.h - wall-clock helpers: milliseconds and ISO 8601 UTC text. */
#ifndef FARM_CLOCK_H
#define FARM_CLOCK_H

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" and its NUL. */
#define FARM_CLOCK_ISO_LEN 25
/* The instants that text can hold: 0000-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z. */
#define FARM_CLOCK_ISO_MS_MIN (-62167219200000LL)
#define FARM_CLOCK_ISO_MS_MAX 253402300799999LL

/* Unix time in milliseconds. */
long long farm_clock_ms(void);

/* Formats Unix epoch milliseconds as "2025-01-01T00:00:00.000Z" (UTC, proleptic
 * Gregorian) into out: farm's one ISO 8601 formatter (records, events, log lines).
 * FARM_OK, or FARM_E_INVAL and "" when the year falls outside 0000..9999. */
int farm_clock_iso(long long ms, char out[FARM_CLOCK_ISO_LEN]);

#endif
