#!/usr/bin/env bash
# Builds the Node package in crates/wxdl-node/npm: the addon (release) as wxdl.node, and the
# download task, file system manager and other wx APIs' JS it shares with the JS host (crate wxdl-wx's `js`
# module), written out by the addon itself (`sharedJs()`): the package's JS is always the JS its
# addon was built with. Then `npm pack` there makes an installable tarball.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -q -p wxdl-node
pkg=crates/wxdl-node/npm
cp target/release/libwxdl_node.so "$pkg/wxdl.node"
# Symbols are for debugging the addon, not for the package (33 MB -> a few).
if command -v strip >/dev/null 2>&1; then strip --strip-unneeded "$pkg/wxdl.node"; fi
files=$(cd "$pkg" && node -e '
const fs = require("fs");
const shared = require("./wxdl.node").sharedJs();
for (const [name, source] of Object.entries(shared)) fs.writeFileSync(name, source);
console.log(Object.keys(shared).join(", "));
')
echo "built $pkg (wxdl.node, $files)"
