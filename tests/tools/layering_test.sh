#!/bin/sh
# The include layering inside the folders, which the build's include roots (CMakeLists.txt,
# tidemark_include_root) cannot see because a folder's sub-folders share its root:
#   common/               includes nothing of agent/, collector/, tests/, bench/, fuzz/
#   agent/parsers/        includes only agent/parsers/ and common/ (host file formats, no Fs
#                         sections, no snapshot building beyond common/)
#   agent/ outside uplink/ never includes agent/uplink/ (tidemark-uplink builds on the agent)
#   collector/ and agent/ never include each other
# Usage: layering_test.sh SOURCE_DIR. Prints every include that breaks a rule; exit 1 if any.
set -u
src=${1:?usage: layering_test.sh SOURCE_DIR}
cd "$src" || exit 2
bad=0
check() {  # check RULE FILES... with RULE an extended regular expression of forbidden includes
  rule=$1
  shift
  [ $# -gt 0 ] || return 0
  hits=$(grep -HnE "^#include \"($rule)" "$@" 2>/dev/null)
  if [ -n "$hits" ]; then
    printf '%s\n' "$hits"
    bad=1
  fi
}
files() { find "$@" -type f \( -name '*.cpp' -o -name '*.h' \) 2>/dev/null; }
# shellcheck disable=SC2046
check 'agent/|collector/|tests/|bench/|fuzz/' $(files common)
# shellcheck disable=SC2046
check 'agent/(uplink|sections|judge)/|agent/[a-z_]+\.h|collector/' $(files agent/parsers)
# shellcheck disable=SC2046
check 'agent/uplink/' $(files agent | grep -v '^agent/uplink/')
# shellcheck disable=SC2046
check 'collector/' $(files agent)
# shellcheck disable=SC2046
check 'agent/' $(files collector)
if [ "$bad" -ne 0 ]; then
  echo "layering_test: the includes above break the layering (README, \"Layout\")" >&2
  exit 1
fi
echo "layering_test: common/, agent/parsers/, agent/uplink/, agent/ and collector/ keep their layers"
