#!/bin/sh
# The CMake options a build passes, checked against the llama.cpp source it
# builds, so that no build argument does nothing silently. CMake's own list of
# "manually-specified variables not used" cannot say it: ggml's CMakeLists reads
# every GGML_* variable (to write ggml-config.cmake), so an option the source
# does not have, GGML_HIP_ROCWMMA_FATTN in trees from late 2026, never appears
# there. An option is the source's when one of its CMakeLists.txt or .cmake
# files names it; CMake's own (CMAKE_*) always are.
#   cmake-options.sh resolve SRC NOTES -DNAME=VALUE...
#       prints the options to pass, one per line: an unknown one set off (OFF,
#       0, FALSE, NO, N, IGNORE, empty, …-NOTFOUND) is left out with a note (it
#       had nothing to turn off); an unknown one set to anything else stops the
#       build (exit 3) naming it; NAME=auto becomes ON where the source has it
#       and what it needs is there, else it is left out, with a note saying why.
#       Notes go to the file NOTES, one per line. Other arguments pass as they are.
#   cmake-options.sh unused LOG NOTES -DNAME=VALUE...
#       the same rule for the variables CMake's configure output (LOG) lists as
#       not used by the project.
set -eu

mode=${1:?usage: cmake-options.sh resolve SRC NOTES -DNAME=VALUE... | unused LOG NOTES -DNAME=VALUE...}
where=${2:?missing SRC or LOG}
notes=${3:?missing NOTES}
shift 3
: >> "$notes"

is_off() {
  case "$(printf '%s' "$1" | tr '[:lower:]' '[:upper:]')" in
    ''|OFF|0|FALSE|NO|N|IGNORE|NOTFOUND|*-NOTFOUND) return 0 ;;
    *) return 1 ;;
  esac
}

known() { # NAME: the source names it, or it is CMake's own
  case "$1" in CMAKE_*) return 0 ;; esac
  grep -rqw --include=CMakeLists.txt --include='*.cmake' -- "$1" "$where"
}

commit="this source"
[ -z "${LLAMA_COMMIT:-}" ] || commit=$(printf '%.9s' "$LLAMA_COMMIT")

refuse() { # NAME VALUE WHY
  echo "cmake-options.sh: -D$1=$2 would do nothing: $3. Remove the build argument that sets it (the plan's [[backends]] build_args; the Containerfile passes it to cmake), or build a llama.cpp that has the option." >&2
  exit 3
}

# What an option set to auto needs besides the source having it, or nothing.
# Prints why it cannot be on, or nothing when it can.
lacks() { # NAME
  case "$1" in
    GGML_HIP_ROCWMMA_FATTN)
      inc=""
      for d in /opt/rocm/include /usr/include /usr/lib64/rocm/include; do
        [ -f "$d/rocwmma/rocwmma.hpp" ] && { inc=$d/rocwmma; break; }
      done
      if [ -z "$inc" ]; then
        echo "rocWMMA's headers are not installed"
      elif [ ! -f "$inc/internal/accessors.hpp" ]; then
        echo "rocWMMA's headers in $inc are incomplete (no internal/accessors.hpp; Debian's librocwmma-dev 7.2.4 ships only the top-level ones)"
      else
        for t in $(printf '%s' "$GPU_TARGETS" | tr ';,' '  '); do
          grep -rq -- "$t" "$inc" || { echo "rocWMMA in $inc does not know $t"; return; }
        done
      fi
      ;;
  esac
}

# The GPU targets the build compiles for (-DGPU_TARGETS=…), for lacks().
GPU_TARGETS=""
for a in "$@"; do
  case "$a" in -DGPU_TARGETS=*) GPU_TARGETS=${a#-DGPU_TARGETS=} ;; esac
done

case "$mode" in
  resolve)
    for a in "$@"; do
      case "$a" in
        -D*=*)
          kv=${a#-D}
          name=${kv%%=*}
          name=${name%%:*}
          value=${kv#*=}
          if [ "$value" = auto ]; then
            if known "$name"; then why=$(lacks "$name"); else why="llama.cpp $commit has no such option"; fi
            if [ -n "$why" ]; then
              echo "$name=auto: off, $why" >> "$notes"
            else
              echo "-D$name=ON"
              echo "$name=auto: on" >> "$notes"
            fi
            continue
          fi
          if ! known "$name"; then
            is_off "$value" || refuse "$name" "$value" "llama.cpp $commit has no CMake option $name (none of its CMakeLists.txt or .cmake files names it)"
            echo "$name=$value: left out, llama.cpp $commit has no such option (nothing to turn off)" >> "$notes"
            continue
          fi
          printf '%s\n' "$a"
          ;;
        *) printf '%s\n' "$a" ;;
      esac
    done
    ;;
  unused)
    # CMake prints the names indented under its warning, then a blank line.
    names=$(awk '/Manually-specified variables were not used by the project:/ {on=1; next}
                 on && /^[[:space:]]*$/ { if (seen) exit; next }
                 on { seen=1; print $1 }' "$where")
    for name in $names; do
      value=""
      for a in "$@"; do
        case "$a" in -D"$name"=*|-D"$name":*=*) value=${a#*=} ;; esac
      done
      if is_off "$value" || [ "${name#CMAKE_}" != "$name" ]; then
        echo "$name=$value: not used by this configuration (CMake)" >> "$notes"
      else
        refuse "$name" "$value" "CMake says llama.cpp $commit does not use it in this configuration"
      fi
    done
    ;;
  *)
    echo "cmake-options.sh: unknown mode $mode" >&2
    exit 2
    ;;
esac
