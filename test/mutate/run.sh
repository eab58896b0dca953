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
# must then say which files were measured), MUTATE_MAX_RSS_MB (a mutant's
# test binary past it is killed, default 4096).
set -euo pipefail
set -f # MUTATE_EXCLUDE and MUTATE_PKGS are split on spaces, never globbed
cd "$(dirname "$0")/../.."

gremlins=${GREMLINS:?set GREMLINS to the gremlins binary (make gremlins)}
out=${MUTATE_OUT:-${XDG_CACHE_HOME:-$HOME/.cache}/gatehouse/mutate}
pkgs=${MUTATE_PKGS:-pkg/authz pkg/ratelimit pkg/policy xds/translate pkg/controller}

# An exclusion that matches no file is a typo or a mangled value (make eats
# "$ " in a variable given on its command line unless the recipe takes it
# with $(value ...)): the run would then mutate, and report, files it was
# meant to leave out. Refuse it before the hours start.
for re in ${MUTATE_EXCLUDE:-}; do
	found=
	for pkg in $pkgs; do
		if (cd "$pkg" && find . -name '*.go' | sed 's|^\./||') | grep -Eq -- "$re"; then
			found=1
		fi
	done
	if [ -z "$found" ]; then
		echo "MUTATE_EXCLUDE: $re matches no file of $pkgs" >&2
		exit 2
	fi
done

rm -rf "$out"
mkdir -p "$out"

# A mutant that removes a bound (a store's eviction, say) can make its
# package's tests grow until the machine runs out of memory: one did, to
# 23 GB. Kill any mutant's test binary (gremlins builds them under its
# gremlins-* work directories) past MUTATE_MAX_RSS_MB; its tests then
# fail, and gremlins counts the mutant as killed, which it is: the tests
# noticed. Each kill is logged in $out/oom.log.
max_kb=$(( ${MUTATE_MAX_RSS_MB:-4096} * 1024 ))
(
	while kill -0 $$ 2>/dev/null; do
		ps -eo pid=,rss=,args= | awk -v max="$max_kb" '$2 > max && $3 ~ /gremlins-[0-9]+\/.*\.test$/ {print $1, $2, $3}' |
			while read -r pid rss cmd; do
				echo "$(date -u +%FT%TZ) killed $cmd: ${rss} KB" >>"$out/oom.log"
				kill -9 "$pid" 2>/dev/null || true
			done
		sleep 2
	done
) &

for pkg in $pkgs; do
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
