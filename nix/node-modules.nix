# node_modules for one target, from the data `addonix generate` writes (nix/npm-deps.generated.nix):
# every package's tarball fetched by its lockfile hash and unpacked at its lockfile location, bin links
# made, native addons with a build plan compiled with node-gyp for the target. No install script of any
# package runs: the plans say what a package needs.
#
# Arguments of the returned function:
#   targetPkgs  the target's package set (target-pkgs.nix); its buildPackages run the build
#   npmDeps     the npm data (import of nix/npm-deps.generated.nix)
#   target      "<arch>-<libc>", e.g. "aarch64-musl"
#   appSrc      the folder of the Node.js app (holds package.json; `file:` packages and workspaces are in it)
#   nodejs      the target's Node.js: its headers are what node-gyp compiles against (--nodedir)
#   name        name of the derivation
{ util, arches }:
{ targetPkgs, npmDeps, target, appSrc, nodejs, name ? "node-modules-${target}" }:
let
  inherit (util) escapeShellArg escapeShellArgs fail concatMapStrings;
  buildPkgs = targetPkgs.buildPackages;
  dataVersion = npmDeps.dataVersion or 0;
  targetData =
    if dataVersion != 1 then fail "the npm data has dataVersion ${toString dataVersion}; this addonix reads version 1: run `addonix generate` again"
    else npmDeps.targets.${target} or (fail "the npm data has no target ${target} (it has ${builtins.concatStringsSep ", " (builtins.attrNames npmDeps.targets)}); run `addonix generate` for this add-on's arches");
  errors = targetData.errors;
  checked =
    if errors == [ ] then targetData
    else fail "node_modules cannot be built for ${target}:\n${concatMapStrings (e: "  - ${e.message}\n") errors}Use libc = \"glibc\" where a package has glibc binaries only, or drop the arch.";
  archName = builtins.head (builtins.match "(.*)-(musl|glibc)" target);
  npmCpu = arches.${archName}.npmCpu;

  excluded = builtins.listToAttrs (map (location: { name = location; value = true; }) checked.exclude);
  installed = util.filterAttrs (location: _: !(excluded ? ${location})) npmDeps.packages;
  locations = builtins.sort builtins.lessThan (builtins.attrNames installed);

  tarballOf = location: package:
    if package.source == "registry" || package.source == "tarball" then
      buildPkgs.fetchurl { url = package.url; hash = package.integrity; name = util.storeName "${package.name}-${package.version}.tgz"; }
    else if package.source == "file" then
      appSrc + "/${builtins.substring 5 (-1) package.url}"
    else fail "package ${location} has source ${package.source}, which has no tarball";

  # The node_modules folder that holds a location: node_modules/a/node_modules/@s/b -> node_modules/a/node_modules
  modulesDirOf = location: builtins.head (builtins.match "(.*node_modules)/(@[^/]+/)?[^/]+" location);
  # From the folder a location is in back to the top: one ../ for each of its slashes.
  upTo = location: concatMapStrings (_: "../") (builtins.filter builtins.isList (builtins.split "/" location));

  unpack = location:
    let package = installed.${location}; in
    if package.bundled then "" # It came inside its parent's tarball.
    else if package.link then ''
      mkdir -p "$out"/${escapeShellArg (modulesDirOf location)}
      mkdir -p "$out"/${escapeShellArg (builtins.dirOf package.linkTarget)}
      cp -r ${appSrc + "/${package.linkTarget}"} "$out"/${escapeShellArg package.linkTarget}
      chmod -R u+w "$out"/${escapeShellArg package.linkTarget}
      ln -s ${escapeShellArg "${upTo location}${package.linkTarget}"} "$out"/${escapeShellArg location}
    ''
    else ''
      mkdir -p "$out"/${escapeShellArg location}
      tar -xzf ${tarballOf location package} -C "$out"/${escapeShellArg location} --strip-components=1 --no-same-owner --no-same-permissions
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

  prefix = targetPkgs.stdenv.cc.targetPrefix;
  nativeLocations = builtins.filter (location: installed ? ${location} && builtins.elem checked.native.${location}.plan [ "build-from-source" "prebuilt-in-tarball" ]) (builtins.attrNames checked.native);
  nativePlans = map (location: checked.native.${location}) nativeLocations;
  settingsList = field: builtins.concatMap (plan: plan.settings.${field}) nativePlans;

  compile = location:
    let plan = checked.native.${location}; settings = plan.settings; in ''
      echo "compiling ${plan.name}@${plan.version} for ${target} (${plan.plan})"
      (
        cd "$out"/${escapeShellArg location}
        ${concatMapStrings (path: "rm -rf ${escapeShellArg path}\n") settings.deletePaths}
        ${concatMapStrings (var: "export ${var}=${escapeShellArg settings.env.${var}}\n") (builtins.attrNames settings.env)}
        if [ -f binding.gyp ]; then
          "$NODE_GYP" rebuild --release --jobs="''${NIX_BUILD_CORES:-1}" --arch=${npmCpu} --nodedir=${nodejs} ${escapeShellArgs settings.nodeGypArgs}
          rm -rf build/Release/obj.target build/Release/.deps build/Release/obj
        else
          echo "  ${plan.name} has no binding.gyp: nothing to compile"
        fi
      )
    '';
in
targetPkgs.stdenv.mkDerivation {
  inherit name;
  nativeBuildInputs = [ buildPkgs.nodejs buildPkgs.node-gyp buildPkgs.python3 ] ++ map (tool: buildPkgs.${tool}) (settingsList "buildTools");
  buildInputs = map (library: targetPkgs.${library}) (settingsList "systemLibraries");
  passthru = { inherit target; packageCount = builtins.length locations; };
  buildCommand = ''
    mkdir -p "$out"
    ${concatMapStrings unpack locations}
    ${concatMapStrings binLinks locations}
    ${util.optionalString (nativeLocations != [ ]) ''
      export HOME="$TMPDIR"
      # node-gyp runs on the build machine (nixpkgs' pkgs/by-name/no/node-gyp); the compiler, archiver
      # and linker are the target's.
      export NODE_GYP=${buildPkgs.node-gyp}/bin/node-gyp
      export CC=${prefix}cc CXX=${prefix}c++ AR=${prefix}ar LINK=${prefix}c++
      export CC_target="$CC" CXX_target="$CXX" AR_target="$AR" LINK_target="$LINK"
      ${concatMapStrings compile nativeLocations}
    ''}
  '';
}
