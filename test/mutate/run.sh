#!/usr/bin/env bash
# `make mutate`: every mutant gremlins makes of the five packages, one
# gremlins run per package, then the score per package (docs/testing.md).
# Long on two cores: hours, not minutes.
#
# Environment: GREMLINS (the binary, required: make gremlins), MUTATE_WORKERS
# (parallel test runs, default 2), MUTATE_OUT (reports; default under the
# user cache), MUTATE_PKGS (the packages, default the five), MUTATE_EXCLUDE
# (file-path regexps, space-separated, passed as gremlins' --exclude-files:
# measure a named file set when a whole package takes too long; the report
# must then say which files were measured).
set -euo pipefail
cd "$(dirname "$0")/../.."

gremlins=${GREMLINS:?set GREMLINS to the gremlins binary (make gremlins)}
out=${MUTATE_OUT:-${XDG_CACHE_HOME:-$HOME/.cache}/gatehouse/mutate}
rm -rf "$out"
mkdir -p "$out"

for pkg in ${MUTATE_PKGS:-pkg/authz pkg/ratelimit pkg/policy xds/translate pkg/controller}; do
	start=$SECONDS
	echo "== gremlins $pkg"
	# Default mutators plus && <-> ||, what most allow/deny conditions are
	# made of. Subpackages are included (pkg/authz/regovm).
	# -count=1: gremlins sets each mutant's time limit from the coverage run, which
	# a cached test result would make far too short.
	exclude=()
	for re in ${MUTATE_EXCLUDE:-}; do
		exclude+=(--exclude-files "$re")
	done
	if ! GOFLAGS=-count=1 "$gremlins" unleash --invert-logical --workers "${MUTATE_WORKERS:-2}" \
		--timeout-coefficient "${MUTATE_TIMEOUT_COEFFICIENT:-10}" \
		${exclude[@]+"${exclude[@]}"} -o "$out/${pkg//\//_}.json" "$pkg" >"$out/${pkg//\//_}.log" 2>&1; then
		cat "$out/${pkg//\//_}.log"
		echo "gremlins failed on $pkg" >&2
		exit 1
	fi
	printf '%s\t%d\n' "$pkg" $((SECONDS - start)) >>"$out/times.tsv"
	echo "   $((SECONDS - start)) s"
done
go run ./test/mutate report -reports "$out"
