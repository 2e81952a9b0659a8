# The stand-in's builder: what nixpkgs' stdenv setup does where it matters to addonix.
# pkgs/stdenv/generic/setup.sh @ 183939da54831b11f389d9863a0e5b41aaf1ddc5 (and the setup hooks it runs):
#  - the derivation's declared inputs first on PATH, then the host's tools; each input's
#    nix-support/setup-hook sourced (here: nativeBuildInputs and the compiler);
#  - the env hooks those setup hooks register (addEnvHooks: the cc-wrapper's -isystem <dep>/include,
#    the bintools-wrapper's -L<dep>/lib) run for every host input (buildInputs, as their dev output,
#    and what each propagates in nix-support/propagated-build-inputs); nixpkgs without strictDeps also
#    runs them for nativeBuildInputs of a native build, which the stand-in leaves out;
#  - `_addRpathPrefix "$out"`: `-rpath $out/lib` put before NIX_LDFLAGS unless NIX_NO_SELF_RPATH=1.
#    pkgs/build-support/setup-hooks/multiple-outputs.sh @ 01d7f19346bc5de4508244b7b1dd23355d026899
#    does it first for outputLib (the `lib` output, else `out`) and then sets NIX_NO_SELF_RPATH=1, so it
#    happens once, for outputLib. NIX_DONT_SET_RPATH does not stop it. The compiler wrappers pass
#    NIX_LDFLAGS to every link;
#  - genericBuild: a derivation with buildCommand runs it and nothing else: no fixup phase, so nothing
#    shrinks the RUNPATH; a derivation of phases (buildPhase, installPhase) gets the fixup phase, whose
#    patchELF (pkgs/development/tools/misc/patchelf/setup-hook.sh @ 81392dd68a586cac2ace4d021b5e0174faad7acf,
#    unless dontPatchELF) runs `patchelf --shrink-rpath` on every ELF file of every output: a RUNPATH
#    folder that provides none of the file's needed libraries is dropped.
export PATH="$standInPath"
cd "${TMPDIR:-/tmp}"
envHooks=
for input in $standInInputs; do
  if [ -f "$input/nix-support/setup-hook" ]; then . "$input/nix-support/setup-hook"; fi
done

# The host inputs and what they propagate, each once, in order.
hostInputs=
addHostInput() {
  case " $hostInputs " in *" $1 "*) return 0 ;; esac
  hostInputs="$hostInputs $1"
  if [ -f "$1/nix-support/propagated-build-inputs" ]; then
    for propagated in $(cat "$1/nix-support/propagated-build-inputs"); do addHostInput "$propagated"; done
  fi
}
for input in ${standInHostInputs:-}; do addHostInput "$input"; done
for input in $hostInputs; do
  for hook in $envHooks; do "$hook" "$input"; done
done

if [ "${NIX_NO_SELF_RPATH:-0}" != 1 ]; then
  outputLib=${lib:-$out}
  export NIX_LDFLAGS="-rpath $outputLib/lib ${NIX_LDFLAGS:-}"
fi

if [ -n "${buildCommand:-}" ]; then
  eval "$buildCommand"
else
  eval "${buildPhase:-}"
  eval "${installPhase:-}"
  if [ -z "${dontPatchELF:-}" ]; then
    for output in ${outputs:-out}; do
      eval "dir=\$$output"
      find "$dir" -type f | while IFS= read -r file; do
        if [ "$(head -c 4 "$file" | od -An -c | tr -d ' ')" = '177ELF' ]; then /usr/bin/patchelf --shrink-rpath "$file" || true; fi
      done
    done
  fi
fi
