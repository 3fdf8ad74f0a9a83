#!/usr/bin/env bash
# Builds the Node package in crates/wxdl-node/npm: the addon (release) as wxdl.node, and the
# download task and file system manager JS it shares with the JS host. Then `npm pack` there
# makes an installable tarball.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -q -p wxdl-node
pkg=crates/wxdl-node/npm
cp target/release/libwxdl_node.so "$pkg/wxdl.node"
# Symbols are for debugging the addon, not for the package (33 MB -> a few).
if command -v strip >/dev/null 2>&1; then strip --strip-unneeded "$pkg/wxdl.node"; fi
cp crates/wxdl-js/src/download_task.js crates/wxdl-js/src/fs_manager.js "$pkg/"
echo "built $pkg (wxdl.node, download_task.js, fs_manager.js)"
