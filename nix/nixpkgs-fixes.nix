# Fixes of nixpkgs that addonix applies to the cross package sets it imports (package-sets.nix), as an
# overlay, each citing the nixpkgs change it stands for, until the pinned nixpkgs has it. An overlay
# changes only the sets it is given to: the build machine's own set and the native sets (served by the
# binary cache) are left as they are, and it gives nothing for a set that is not cross.
#
# Node.js cross-compiling (nixos-26.05 at the pin, 7c8764b7, 2026-10-08): NixOS/nixpkgs#536002 (in
# 26.05 through #536227) set nodejs.nix's configureScript to "${python.interpreter} configure.py" with
# the host platform's Python, which the build machine cannot run: every cross Node.js stops at
# configure with "Exec format error" (#543641, pkgsCross.aarch64-multiplatform-musl.nodejs), after its
# toolchain and the target's Python were compiled. #546154 (master, 2026-07-27) runs
# python.pythonOnBuildForHost.interpreter instead; its 26.05 backport #546221 was closed unmerged. Here
# each nodejs-slim_<major> of a cross set runs configure.py with the build machine's Python (the
# same command as #546154); nodejs_<major>, nodejs and nodejs-slim are made from them in nixpkgs, so
# they follow. A nixpkgs that has the fix gives the same command: the override changes nothing there
# but the derivation's hash, of a package the cache does not serve anyway (Hydra builds no cross
# Node.js).
final: prev:
let
  isCross = prev.stdenv.buildPlatform.config != prev.stdenv.hostPlatform.config;
  # The versions nixpkgs has had at 25.11 and 26.05 (those the set lacks are skipped).
  nodeVersions = builtins.filter (name: prev ? ${name}) [ "nodejs-slim_20" "nodejs-slim_22" "nodejs-slim_24" "nodejs-slim_25" "nodejs-slim_26" ];
  buildPython = final.buildPackages.python3;
  fixConfigure = node: node.overrideAttrs (old: {
    configureScript = "${buildPython.interpreter} configure.py";
  });
in
if !isCross then { }
else builtins.listToAttrs (map (name: { inherit name; value = fixConfigure prev.${name}; }) nodeVersions)
