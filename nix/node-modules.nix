# node_modules for one target, from the data `addonix generate` writes (nix/npm-deps.generated.nix):
# every package's tarball fetched by its lockfile hash and unpacked at its lockfile location, bin links
# made; a native addon comes compiled for the target from its own derivation (native-addon.nix), or,
# where the caller allows it, with the binary its tarball ships for exactly this target. No install
# script of any package runs: the plans say what a package needs.
#
# Arguments of the returned function:
#   buildPkgs    the build machine's package set (runs the assembly: unpacking is the same everywhere)
#   npmDeps      the npm data (import of nix/npm-deps.generated.nix)
#   target       "<arch>-<libc>", e.g. "aarch64-glibc"
#   appSrc       the folder of the Node.js app (holds package.json; `file:` packages and workspaces are in it)
#   addonFor     { location, plan, sources } -> the compiled addon's derivation (native-addon.nix)
#   usePrebuilt  names of packages whose tarball's own binary for this target is used (no compile)
#   leaks        store paths the result must not keep (the build machine's tools)
#   name         name of the derivation
{ util }:
{ buildPkgs, npmDeps, target, appSrc, addonFor, usePrebuilt ? [ ], leaks ? [ ], name ? "node-modules-${target}" }:
let
  inherit (util) escapeShellArg fail concatMapStrings;
  dataVersion = npmDeps.dataVersion or 0;
  targetData =
    if dataVersion != 2 then fail "the npm data has dataVersion ${toString dataVersion}; this addonix reads version 2: run `addonix generate` again"
    else npmDeps.targets.${target} or (fail "the npm data has no target ${target} (it has ${builtins.concatStringsSep ", " (builtins.attrNames npmDeps.targets)}); run `addonix generate` for this add-on's arches");
  errors = targetData.errors;
  checked =
    if errors == [ ] then targetData
    else fail "node_modules cannot be built for ${target}:\n${concatMapStrings (e: "  - ${e.message}\n") errors}Use libc = \"glibc\" where a package has glibc binaries only, or drop the arch.";

  excluded = builtins.listToAttrs (map (location: { name = location; value = true; }) checked.exclude);
  installed = util.filterAttrs (location: _: !(excluded ? ${location})) npmDeps.packages;
  locations = builtins.sort builtins.lessThan (builtins.attrNames installed);

  tarballOf = location:
    let package = installed.${location}; in
    if package.source == "registry" || package.source == "tarball" then
      buildPkgs.fetchurl { url = package.url; hash = package.integrity; name = util.storeName "${package.name}-${package.version}.tgz"; }
    else if package.source == "file" then
      appSrc + "/${builtins.substring 5 (-1) package.url}"
    else fail "package ${location} has source ${package.source}, which has no tarball";

  # The folder that holds a location: node_modules/a/node_modules/@s/b -> node_modules/a/node_modules
  modulesDirOf = location: builtins.head (builtins.match "(.*node_modules)/(@[^/]+/)?[^/]+" location);
  # From the folder a location is in back to the top: one ../ for each of its slashes.
  upTo = location: concatMapStrings (_: "../") (builtins.filter builtins.isList (builtins.split "/" location));

  planOf = location: checked.native.${location} or null;
  compiles = location:
    let plan = planOf location; in
    plan != null && builtins.elem plan.plan [ "build-from-source" "prebuilt-in-tarball" ] && !(builtins.elem plan.name usePrebuilt);
  prebuilt = location:
    let plan = planOf location; in
    if plan == null || !(builtins.elem plan.name usePrebuilt) then null
    else if plan.tarballBinary == null then fail "${plan.name}@${plan.version} ships no binary for ${target} in its npm tarball, so usePrebuilt cannot take one: leave it out of usePrebuilt to compile it"
    else plan.tarballBinary;

  compiled = location:
    let
      plan = planOf location;
      package = installed.${location};
    in
    if package.bundled || package.link then fail "${plan.name}@${plan.version} (${location}) is a native addon that comes inside another package's tarball or from a workspace folder; addonix compiles native addons from their own npm tarball"
    else addonFor {
      inherit location plan;
      sources = builtins.listToAttrs (map (at: { name = at; value = tarballOf at; }) ([ location ] ++ builtins.filter (at: installed ? ${at} && !installed.${at}.bundled && !installed.${at}.link) plan.dependencies));
    };

  unpack = location:
    let package = installed.${location}; binary = prebuilt location; in
    if package.bundled then "" # It came inside its parent's tarball.
    else if package.link then ''
      mkdir -p "$out"/${escapeShellArg (modulesDirOf location)}
      mkdir -p "$out"/${escapeShellArg (builtins.dirOf package.linkTarget)}
      cp -r ${appSrc + "/${package.linkTarget}"} "$out"/${escapeShellArg package.linkTarget}
      chmod -R u+w "$out"/${escapeShellArg package.linkTarget}
      ln -s ${escapeShellArg "${upTo location}${package.linkTarget}"} "$out"/${escapeShellArg location}
    ''
    else if compiles location then ''
      mkdir -p "$out"/${escapeShellArg (builtins.dirOf location)}
      cp -r ${compiled location} "$out"/${escapeShellArg location}
      chmod -R u+w "$out"/${escapeShellArg location}
    ''
    else ''
      mkdir -p "$out"/${escapeShellArg location}
      tar -xzf ${tarballOf location} -C "$out"/${escapeShellArg location} --strip-components=1 --no-same-owner --no-same-permissions
    '' + util.optionalString (binary != null) ''
      # ${installed.${location}.name}: the binary its tarball ships for ${target}, and no other.
      (
        cd "$out"/${escapeShellArg location}
        [ -f ${escapeShellArg binary} ] || { echo "addonix: ${installed.${location}.name}'s tarball has no ${binary}" >&2; exit 1; }
        mv ${escapeShellArg binary} "$TMPDIR/kept.node"
        rm -rf ${escapeShellArg (builtins.dirOf binary)}/*
        mv "$TMPDIR/kept.node" ${escapeShellArg binary}
      )
    '';

  binLinks = location:
    let
      package = installed.${location};
      dir = "${modulesDirOf location}/.bin";
      folder = builtins.substring (builtins.stringLength (modulesDirOf location) + 1) (-1) location;
    in
    concatMapStrings (bin: ''
      mkdir -p "$out"/${escapeShellArg dir}
      chmod +x "$out"/${escapeShellArg "${location}/${package.bin.${bin}}"}
      ln -sf ${escapeShellArg "../${folder}/${package.bin.${bin}}"} "$out"/${escapeShellArg "${dir}/${bin}"}
    '') (builtins.attrNames package.bin);

  addons = map compiled (builtins.filter compiles locations);
in
buildPkgs.runCommand name
{
  disallowedReferences = leaks;
  passthru = { inherit target addons; packageCount = builtins.length locations; };
} ''
  mkdir -p "$out"
  ${concatMapStrings unpack locations}
  ${concatMapStrings binLinks locations}
''
