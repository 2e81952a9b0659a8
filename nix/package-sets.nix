# The package sets an add-on's images come from, each imported at most once per evaluation (the
# attribute sets below are lazy: a set is imported when something first asks for it, then shared).
#
# Arguments of the returned function:
#   pkgs      the build machine's package set (nixpkgs' interface: path, config, overlays,
#             stdenv.buildPlatform)
#   nixpkgs   the nixpkgs flake, or null: its legacyPackages.<system> are the systems' own sets (shared
#             with every other user of the flake) when no config or overlays are given
#   config    nixpkgs configuration of the other sets (default: pkgs.config, what pkgs was made with)
#   overlays  overlays of the other sets (default: pkgs.overlays)
#
# Returns { build, native, cross }:
#   build                    pkgs
#   native.<system>.<libc>   the package set of a system, whose derivations run on a machine of that
#                            system (its own stdenv). Its glibc set of x86_64-linux or aarch64-linux is
#                            the one the public binary cache serves; from another machine Nix
#                            substitutes its packages without running them.
#   cross.<config>           the set that builds for a target triple on the build machine (crossSystem),
#                            with nixpkgs-fixes.nix's overlay (Node.js's configure at the pin)
{ util, arches }:
let nixpkgsFixes = import ./nixpkgs-fixes.nix; in
{ pkgs, nixpkgs ? null, config ? null, overlays ? null }:
let
  buildPlatform = pkgs.stdenv.buildPlatform;
  carried = {
    config = if config != null then config else pkgs.config or { };
    overlays = if overlays != null then overlays else pkgs.overlays or [ ];
  };
  # Given config or overlays make every target set anew, the build machine's own system's too.
  asGiven = config == null && overlays == null;
  useFlake = nixpkgs != null && asGiven;
  systems = builtins.attrNames (builtins.listToAttrs (map (row: { name = row.nixSystem; value = null; }) (builtins.attrValues arches)));
  targetConfigs = builtins.concatMap (row: [ row.glibcTarget row.muslTarget ]) (builtins.attrValues arches);
  configOf = system: libc:
    let row = builtins.head (builtins.filter (r: r.nixSystem == system) (builtins.attrValues arches)); in
    if libc == "musl" then row.muslTarget else row.glibcTarget;

  nativeSet = system: libc:
    if libc == "glibc" && system == buildPlatform.system && asGiven then pkgs
    else if libc == "glibc" && useFlake && nixpkgs.legacyPackages ? ${system} then nixpkgs.legacyPackages.${system}
    else import pkgs.path (carried // { localSystem = { config = configOf system libc; }; });
in
{
  build = pkgs;
  native = util.genAttrs systems (system: util.genAttrs [ "glibc" "musl" ] (nativeSet system));
  # The cross sets get nixpkgs-fixes.nix (Node.js's configure at the pin) after the given overlays.
  cross = util.genAttrs targetConfigs (target:
    if target == buildPlatform.config && asGiven then pkgs
    else import pkgs.path (carried // {
      localSystem = { config = buildPlatform.config; };
      crossSystem = { config = target; };
      overlays = carried.overlays ++ [ nixpkgsFixes ];
    }));
}
