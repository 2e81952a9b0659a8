# The stand-in's builder: the derivation's declared inputs first on PATH, then the host's tools; each
# input's nix-support/setup-hook sourced first, as nixpkgs' stdenv does.
export PATH="$standInPath"
cd "${TMPDIR:-/tmp}"
for input in $standInInputs; do
  if [ -f "$input/nix-support/setup-hook" ]; then . "$input/nix-support/setup-hook"; fi
done
eval "$buildCommand"
