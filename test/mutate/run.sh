#!/usr/bin/env bash
# Mutation testing with gremlins (built by `make gremlins`).
#
#   test/mutate/run.sh all        every mutant of the five packages (long: see docs/testing.md)
#   test/mutate/run.sh security   only the files of test/mutate/security.txt; fails on a survivor
#
# Environment: GREMLINS (the binary, required), MUTATE_WORKERS (parallel
# test runs, default 2), MUTATE_OUT (reports; default under the user cache),
# MUTATE_PKGS (override the package list of "all").
set -euo pipefail
cd "$(dirname "$0")/../.."

mode=${1:?usage: run.sh all|security}
gremlins=${GREMLINS:?set GREMLINS to the gremlins binary (make gremlins)}
out=${MUTATE_OUT:-${XDG_CACHE_HOME:-$HOME/.cache}/gatehouse/mutate}/$mode
rm -rf "$out"
mkdir -p "$out"

# Default mutators plus && <-> ||, which is what most allow/deny
# conditions are made of.
flags=(unleash --invert-logical --workers "${MUTATE_WORKERS:-2}")

# run PKG [gremlins flags...]: mutate PKG (a directory of the module),
# report to $out/PKG.json and record the wall time.
run() {
	local pkg=$1
	shift
	local start=$SECONDS
	echo "== gremlins $pkg"
	"$gremlins" "${flags[@]}" "$@" -o "$out/${pkg//\//_}.json" "$pkg" >"$out/${pkg//\//_}.log" 2>&1 || {
		cat "$out/${pkg//\//_}.log"
		echo "gremlins failed on $pkg" >&2
		return 1
	}
	printf '%s\t%d\n' "$pkg" $((SECONDS - start)) >>"$out/times.tsv"
	echo "   $((SECONDS - start)) s"
}

case $mode in
all)
	for pkg in ${MUTATE_PKGS:-pkg/authz pkg/ratelimit pkg/policy xds/translate pkg/controller}; do
		run "$pkg"
	done
	go run ./test/mutate -reports "$out"
	;;
security)
	# Every Go file of the package but the listed ones is excluded, and so
	# are subpackages (their own runs of "all" cover them).
	while read -r pkg files; do
		case $pkg in '' | '#'*) continue ;; esac
		keep=" $files "
		others=()
		for f in "$pkg"/*.go; do
			f=${f##*/}
			case $f in *_test.go) continue ;; esac
			[[ $keep == *" $f "* ]] || others+=("${f//./\\.}")
		done
		excl='/'
		if ((${#others[@]})); then
			excl="$excl|^($(
				IFS='|'
				echo "${others[*]}"
			))\$"
		fi
		run "$pkg" --exclude-files "$excl"
	done <test/mutate/security.txt
	go run ./test/mutate -reports "$out" -strict
	;;
*)
	echo "usage: run.sh all|security" >&2
	exit 2
	;;
esac
