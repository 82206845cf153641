#!/bin/bash
# Dependencies run one way: no two of kiln's source files call each other. For every pair
# of object files of a build (the tests' own excepted), one may use symbols the other
# defines, never both. Read from the objects themselves (nm), so it holds for the code
# as built, on each architecture built.
#   tests/layering.sh BUILD_DIR...
# The last line is "layering: N passed, N failed, 0 skipped" (one check per build).
set -u
passed=0 failed=0
for build in "${@:-build}"; do
	mapfile -t objs < <(find "$build" \( -path "$build/asan" -o -path "$build/fuzz*" -o \
		-path "$build/aarch64" -o -path '*/tests' \) -prune -o -name '*.o' -print | sort)
	if [ ${#objs[@]} -eq 0 ]; then
		echo "layering: $build: no object files"
		failed=$((failed + 1))
		continue
	fi
	# "D file symbol" for what a file defines, "U file symbol" for what it uses.
	pairs=$(for o in "${objs[@]}"; do
		nm "$o" | awk -v f="${o#"$build"/}" '$1 == "U" { print "U", f, $2 }
			NF == 3 && $2 ~ /^[TDBRV]$/ { print "D", f, $3 }'
	done | awk '
		$1 == "D" { def[$3] = $2; next }
		{ use[NR] = $2 " " $3 }
		END {
			for (i in use) {
				split(use[i], u, " ")
				if ((u[2] in def) && def[u[2]] != u[1] && !((u[1], def[u[2]]) in edge))
					edge[u[1], def[u[2]]] = u[2]
			}
			for (k in edge) {
				split(k, ab, SUBSEP)
				if (ab[1] < ab[2] && ((ab[2], ab[1]) in edge))
					printf "%s and %s call each other (%s, %s)\n", ab[1], ab[2],
						edge[ab[1], ab[2]], edge[ab[2], ab[1]]
			}
		}' | sort)
	if [ -n "$pairs" ]; then
		printf '%s\n' "$pairs" | sed "s|^|layering: $build: |"
		failed=$((failed + 1))
	else
		echo "layering: $build: ${#objs[@]} object files, no two call each other"
		passed=$((passed + 1))
	fi
done
echo "layering: $passed passed, $failed failed, 0 skipped"
[ "$failed" -eq 0 ]
