# One native addon compiled for one target: the package's folder as npm unpacks it, with
# build/Release/*.node compiled by node-gyp for the target and stripped, and nothing else of gyp's build
# tree (its Makefiles and config.gypi name the build machine's python3, node-gyp and Node.js). One
# derivation per package version, target and compiler: every node_modules (and the musl prebuilds)
# that needs the same addon gets this one.
#
# Arguments of the returned function:
#   buildPkgs        the build machine's package set: node-gyp, python3, and the Node.js that runs them
#   toolchain        toolchain.nix's result for the target
#   target           "<arch>-<libc>", e.g. "aarch64-glibc"
#   npmCpu           Node's process.arch of the target: node-gyp's --arch
#   nodeHeaders      the Node.js whose include/node the addon compiles against (the image's version)
#   plan             the package's native plan from the generated npm data (name, version, settings)
#   location         the package's lockfile location, e.g. node_modules/some-addon
#   sources          { <location> = tarball; }: the package's and the packages its build may require
#                    (binding.gyp may ask a dependency for its include folder), laid out as npm does
#   systemLibraries  packages of the target set the addon links against: their headers on the include
#                    path, their libraries on the link path, and a RUNPATH to each library's folder in
#                    the store (lib.getLib), whatever the compiler: the clang of "cached" for another
#                    system has no nixpkgs wrapper, and the musl compilers run with NIX_DONT_SET_RPATH.
#                    The addon's reference to that folder keeps the library in node_modules' closure,
#                    so in the image.
#   buildTools       packages of the build set the build runs (e.g. pkg-config)
{ util }:
{ buildPkgs, toolchain, target, npmCpu, nodeHeaders, plan, location, sources, systemLibraries ? [ ], buildTools ? [ ] }:
let
  inherit (util) escapeShellArg escapeShellArgs concatMapStrings;
  settings = plan.settings;
  # nixpkgs' lib.getLib and lib.getDev.
  libOf = package: package.lib or package.out or package;
  devOf = package: package.dev or package.out or package;
  libDirs = map (package: "${libOf package}/lib") systemLibraries;
  includeFlags = concatMapStrings (package: "-isystem ${devOf package}/include ") systemLibraries;
  libraryFlags = concatMapStrings (dir: "-L${dir} -Wl,-rpath,${dir} ") libDirs;
  # Headers' paths compiled in (__FILE__ in inline functions) would keep a dev output in the image.
  headerOutputs = builtins.filter (output: !(builtins.elem "${output}/lib" libDirs)) (map devOf systemLibraries);
  unpack = at: ''
    mkdir -p work/${escapeShellArg at}
    tar -xzf ${sources.${at}} -C work/${escapeShellArg at} --strip-components=1 --no-same-owner --no-same-permissions
  '';
in
toolchain.mkDerivation {
  name = util.storeName "${plan.name}-${plan.version}-${target}";
  nativeBuildInputs = [ buildPkgs.nodejs buildPkgs.python3 buildPkgs.removeReferencesTo ] ++ toolchain.inputs ++ buildTools;
  buildInputs = systemLibraries;
  # nixpkgs' setup.sh puts `-rpath $out/lib` in NIX_LDFLAGS for every build (the multiple-outputs hook
  # for outputLib), which the compiler wrappers pass to every link, NIX_DONT_SET_RPATH or not; only the
  # fixup phase's patchelf --shrink-rpath would remove it, and a buildCommand derivation has none. The
  # addon would name its own output (the unpacked package, sources included), which node_modules and
  # the image would then keep beside their own copy.
  NIX_NO_SELF_RPATH = true;
  # The build machine's tools must not reach an image through the addon.
  disallowedReferences = [ buildPkgs.python3 buildPkgs.node-gyp buildPkgs.nodejs nodeHeaders ] ++ toolchain.leaks;
  passthru = { inherit target; addon = "${plan.name}@${plan.version}"; };
  buildCommand = ''
    export HOME="$TMPDIR"
    ${concatMapStrings unpack (builtins.attrNames sources)}
    cd work/${escapeShellArg location}
    ${concatMapStrings (path: "rm -rf ${escapeShellArg path}\n") settings.deletePaths}
    ${concatMapStrings (var: "export ${var}=${escapeShellArg settings.env.${var}}\n") (builtins.attrNames settings.env)}
    ${toolchain.exports}
    if [ -f binding.gyp ]; then
      echo "compiling ${plan.name}@${plan.version} for ${target}"
      # node-gyp's own script, not its wrapper: nixpkgs' wrapper sets npm_config_nodedir to the build
      # machine's Node.js, which node-gyp prefers to --nodedir.
      export npm_config_nodedir=${nodeHeaders}
      # Header paths compiled into the addon (assertions' __FILE__ and __builtin_FILE() in Node's and
      # V8's inline functions) would be references to the Node.js whose headers these are: mapped away
      # where the compiler can, removed from the result where it cannot (below).
      export CFLAGS="-ffile-prefix-map=${nodeHeaders}=/node ${includeFlags}''${CFLAGS:-}" CXXFLAGS="-ffile-prefix-map=${nodeHeaders}=/node ${includeFlags}''${CXXFLAGS:-}"
      ${util.optionalString (systemLibraries != [ ]) ''export LDFLAGS="${libraryFlags}''${LDFLAGS:-}"''}
      node ${buildPkgs.node-gyp}/lib/node_modules/node-gyp/bin/node-gyp.js rebuild --release --jobs="''${NIX_BUILD_CORES:-1}" --arch=${npmCpu} --nodedir=${nodeHeaders} ${escapeShellArgs settings.nodeGypArgs}
      mkdir "$TMPDIR/kept"
      for file in build/Release/*.node; do
        "$STRIP" --strip-unneeded "$file"
        remove-references-to ${concatMapStrings (path: "-t ${path} ") ([ nodeHeaders buildPkgs.nodejs ] ++ toolchain.leaks ++ headerOutputs)}"$file"
        mv "$file" "$TMPDIR/kept/"
      done
      rm -rf build
      mkdir -p build/Release
      mv "$TMPDIR"/kept/* build/Release/
    else
      echo "${plan.name} has no binding.gyp: nothing to compile"
    fi
    cp -r . "$out"
  '';
}
