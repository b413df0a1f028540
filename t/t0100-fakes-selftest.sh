#!/bin/sh
# The fake platforms themselves answer as documented in t/fake/README.md.
exec "$(dirname "$0")/fake/selftest.sh"
