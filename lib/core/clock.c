/* clock.c - wall-clock helpers. */
#include "clock.h"

#include <stdio.h>
#include <sys/time.h>

#include "err.h"
#include "banned.h"

#define MS_PER_DAY 86400000LL

long long farm_clock_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* The proleptic Gregorian date of a day number (days since 1970-01-01; H. Hinnant's
 * algorithm): no time_t, no gmtime, any year of the range. */
static void civil_from_days(long long z, long long *y, unsigned *m, unsigned *d)
{
	long long era;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (long long)yoe + era * 400 + (*m <= 2);
}

int farm_clock_iso(long long ms, char out[FARM_CLOCK_ISO_LEN])
{
	long long days, rem, y;
	unsigned m, d, secs;
	int n;

	if (!out)
		return FARM_E_INVAL;
	out[0] = '\0';
	if (ms < FARM_CLOCK_ISO_MS_MIN || ms > FARM_CLOCK_ISO_MS_MAX)
		return FARM_E_INVAL;
	days = ms / MS_PER_DAY;
	rem = ms % MS_PER_DAY;
	if (rem < 0) {
		rem += MS_PER_DAY;
		days--;
	}
	civil_from_days(days, &y, &m, &d);
	secs = (unsigned)(rem / 1000);
	n = snprintf(out, FARM_CLOCK_ISO_LEN, "%04lld-%02u-%02uT%02u:%02u:%02u.%03uZ", y, m, d,
		     secs / 3600, secs / 60 % 60, secs % 60, (unsigned)(rem % 1000));
	if (n != FARM_CLOCK_ISO_LEN - 1) {
		out[0] = '\0';
		return FARM_E_INVAL;
	}
	return FARM_OK;
}
