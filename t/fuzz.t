#!/bin/sh
# Replays every fuzz target's corpus (t/fuzz/corpus/<target>/) through the target
# built as a plain program (no libFuzzer needed).  One TAP line per target.
build=${FARM_BUILD:-$(dirname "$0")/../build}
dir=$(cd "$(dirname "$0")" && pwd)
n=0
fail=0
for bin in "$build"/fuzz/fuzz-*; do
	[ -x "$bin" ] || continue
	name=$(basename "$bin")
	n=$((n + 1))
	corpus=$dir/fuzz/corpus/$name
	if [ ! -d "$corpus" ]; then
		echo "not ok $n - $name: no corpus in t/fuzz/corpus/$name"
		fail=1
		continue
	fi
	if out=$("$bin" "$corpus" 2>&1); then
		echo "ok $n - $name replays $(ls "$corpus" | wc -l) inputs"
	else
		echo "not ok $n - $name"
		printf '%s\n' "$out" | tail -n 20 | sed 's/^/#   /'
		fail=1
	fi
done
echo "1..$n"
exit $fail
