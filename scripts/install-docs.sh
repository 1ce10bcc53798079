#!/usr/bin/env bash
# install-docs.sh: install harbor-lab's man page and shell completions.
#   scripts/install-docs.sh BINARY [PREFIX]     (PREFIX defaults to /usr/local)
# Writes PREFIX/share/man/man1/harbor-lab.1, and the bash, zsh and fish
# completions where those shells look under PREFIX. Idempotent.
set -euo pipefail
bin=${1:?usage: install-docs.sh BINARY [PREFIX]}
prefix=${2:-/usr/local}
install -d "$prefix/share/man/man1" "$prefix/share/bash-completion/completions" \
  "$prefix/share/zsh/site-functions" "$prefix/share/fish/vendor_completions.d"
"$bin" man > "$prefix/share/man/man1/harbor-lab.1"
"$bin" completions bash > "$prefix/share/bash-completion/completions/harbor-lab"
"$bin" completions zsh > "$prefix/share/zsh/site-functions/_harbor-lab"
"$bin" completions fish > "$prefix/share/fish/vendor_completions.d/harbor-lab.fish"
echo "install-docs.sh: man page and completions installed under $prefix" >&2
