# The addonix CLI, built from this repository with nixpkgs' buildNpmPackage. importNpmLock fetches
# every npm dependency by the hash package-lock.json records (the repository's .npmrc keeps the
# `resolved` URLs in it), so there is no npmDepsHash to keep up to date.
#
# Arguments of the returned function:
#   pkgs  the package set to build with (the build machine's)
{ addonixSrc }:
{ pkgs }:
let
  package = builtins.fromJSON (builtins.readFile (addonixSrc + "/package.json"));
  # flake.lock: `addonix pin-base` hashes with the nixpkgs revision it pins.
  wanted = [ "package.json" "package-lock.json" ".npmrc" "tsconfig.json" "src" "bin" "flake.lock" ];
  src = builtins.path {
    path = addonixSrc;
    name = "addonix-source";
    filter = path: type:
      let relative = builtins.substring (builtins.stringLength (toString addonixSrc) + 1) (-1) (toString path); in
      builtins.any (top: relative == top || builtins.substring 0 (builtins.stringLength top + 1) relative == "${top}/") wanted;
  };
in
pkgs.buildNpmPackage {
  pname = "addonix";
  inherit (package) version;
  inherit src;
  nodejs = pkgs.nodejs_22;
  npmDeps = pkgs.importNpmLock { npmRoot = src; };
  npmConfigHook = pkgs.importNpmLock.npmConfigHook;
  npmBuildScript = "build";
  meta = {
    description = package.description;
    mainProgram = "addonix";
  };
}
