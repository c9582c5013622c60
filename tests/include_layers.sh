#!/usr/bin/env bash
# CTest include_layers: the include graph of docs/ARCHITECTURE.md ("Folders and libraries") has
# no cycle. A layer includes only the layers above it: common <- config <- daemon, client
# (client/client.*) <- lab <- the CLI (the rest of client/); lib/ sees only the client.
# Usage: include_layers.sh SOURCE_DIR
set -euo pipefail
cd "$1"
status=0
# forbid WHAT PATTERN FILES...: none of FILES includes a header under the folders in PATTERN.
forbid() {
  local what=$1 pattern=$2
  shift 2
  local hits
  if hits=$(grep -nE "^#include \"($pattern)/" "$@"); then
    echo "FAIL: $what includes a layer below it or beside it (docs/ARCHITECTURE.md):"
    echo "$hits"
    status=1
  fi
}
sources() { find "$@" -name '*.cc' -o -name '*.h'; }
forbid common/ 'config|daemon|client|lab|lib|worker|taskq' $(sources common)
forbid config/ 'daemon|client|lab|lib|worker|taskq' $(sources config)
forbid daemon/ 'client|lab|lib|taskq' $(sources daemon)
forbid 'the internal client' 'daemon|lab|lib|worker|taskq' client/client.h client/client.cc
forbid lab/ 'daemon|lib|worker|taskq' $(sources lab)
[[ $status == 0 ]] && echo "ok: common <- config <- daemon, client <- lab <- CLI"
exit $status
