# The compiler native addons are built with, for one target, and the builder of that compile.
#
# Arguments of the returned function:
#   buildPkgs   the build machine's package set
#   targetPkgs  the target's package set (package-sets.nix): its own system's for "cached" and
#               "native", a crossSystem set for "cross"
#   strategy    "cached": the compile runs on the build machine. For the build machine's own system it
#                         is the native compiler (from the binary cache); for the other cached system
#                         it is the build machine's clang and lld (from the cache) with the target's
#                         glibc, its headers and its GCC's libstdc++ (from the cache too) as sysroot:
#                         nothing of nixpkgs is compiled.
#               "native": the target's own stdenv; the compile runs on a machine of the target system.
#               "cross":  the target set's cross compiler (crossSystem), compiled on the first build.
#   name        a name for the compiler derivation ("cached" only), e.g. "aarch64-glibc"
#
# Returns:
#   mkDerivation  builds the compile: { name, nativeBuildInputs, buildCommand, ... } -> derivation
#   inputs        the compiler, for nativeBuildInputs
#   exports       shell lines that export CC, CXX, AR, LINK (and their _target forms) and STRIP
#   staticRuntime true for musl targets: libstdc++ and libgcc linked into the addon and no RUNPATH
#                 (NIX_DONT_SET_RPATH here; the self RUNPATH nixpkgs' setup adds is stopped by
#                 native-addon.nix's NIX_NO_SELF_RPATH), so that the addon loads in any musl Node.js
#                 (Alpine's) without nixpkgs' runtime
#   leaks         store paths a result must not keep (the compiler, unwrapped too, and its sysroot);
#                 their paths compiled into strings (headers' __FILE__) are removed from the result
{ util }:
{ buildPkgs, targetPkgs, strategy, name }:
let
  target = targetPkgs.stdenv.hostPlatform;
  sameSystem = target.system == buildPkgs.stdenv.buildPlatform.system;
  staticRuntime = target.isMusl;
  # The shell lines of a compiler found under a target prefix (cc-wrapper's `targetPrefix`).
  prefixed = cc:
    let prefix = cc.targetPrefix or ""; in ''
      export CC=${prefix}cc CXX=${prefix}c++ AR=${prefix}ar STRIP=${prefix}strip
      export LINK="$CXX${util.optionalString staticRuntime " -static-libstdc++ -static-libgcc"}"
      ${util.optionalString staticRuntime "export NIX_DONT_SET_RPATH=1"}
      export CC_target="$CC" CXX_target="$CXX" AR_target="$AR" LINK_target="$LINK"
    '';

  # "cached" for another system: clang for the target triple over a sysroot made of the target's
  # glibc and GCC outputs (the layout clang's GNU toolchain detection reads:
  # usr/lib/gcc/<triple>/<version>, usr/include/c++/<version>, usr/lib, usr/include).
  clangCross =
    let
      triple = target.config;
      clang = buildPkgs.llvmPackages.clang-unwrapped;
      bintools = buildPkgs.llvmPackages.bintools-unwrapped;
      glibc = targetPkgs.glibc;
      gcc = targetPkgs.stdenv.cc.cc;
      runtime = "${gcc.lib}/lib";
    in
    buildPkgs.runCommand "addonix-cc-${name}" { } ''
      sysroot="$out/sysroot"
      mkdir -p "$out/bin" "$sysroot/usr/include" "$sysroot/usr/lib/gcc/${triple}"
      for entry in ${glibc.dev}/include/*; do ln -s "$entry" "$sysroot/usr/include/"; done
      ln -s ${gcc}/include/c++ "$sysroot/usr/include/c++"
      for version in ${gcc}/lib/gcc/${triple}/*; do ln -s "$version" "$sysroot/usr/lib/gcc/${triple}/"; done
      # glibc's linker scripts (libc.so) name its libraries by store path; inside a sysroot they are
      # read relative to it, so the copies name them in usr/lib.
      for entry in ${glibc}/lib/* ${runtime}/*; do
        file="$sysroot/usr/lib/''${entry##*/}"
        [ -e "$file" ] && continue
        if [ -f "$entry" ] && head -c 64 "$entry" | grep -q 'GNU ld script'; then
          sed -e 's|${glibc}/lib/|/usr/lib/|g' "$entry" > "$file"
        else
          ln -s "$entry" "$file"
        fi
      done
      # From LLVM 19 to 20 nixpkgs keeps clang's own headers (its resource folder) in the `lib` output,
      # where the unwrapped binary does not look: it is given explicitly.
      resource=
      for dir in ${clang.lib}/lib/clang/* ${clang}/lib/clang/*; do
        if [ -f "$dir/include/stddef.h" ]; then resource="$dir"; break; fi
      done
      [ -n "$resource" ] || { echo "addonix: clang's resource folder (lib/clang/<version>/include) is neither in ${clang} nor in ${clang.lib}" >&2; exit 1; }
      # A link gets a RUNPATH to the target's C++ runtime, as nixpkgs' ld-wrapper gives one.
      write() {
        cat > "$out/bin/$1" <<EOF
      #!/bin/sh
      link=1
      for arg in "\$@"; do case "\$arg" in -c|-S|-E|-M|-MM) link= ;; esac; done
      set -- --target=${triple} --sysroot=$sysroot -resource-dir $resource "\$@"
      [ -z "\$link" ] || set -- --ld-path=${bintools}/bin/ld.lld "\$@" -Wl,-rpath,${runtime}
      exec ${clang}/bin/$2 "\$@"
      EOF
        chmod +x "$out/bin/$1"
      }
      write cc clang
      write c++ clang++
      ln -s ${bintools}/bin/llvm-ar "$out/bin/ar"
      ln -s ${bintools}/bin/llvm-strip "$out/bin/strip"
    '';

  # A package set's compiler: its wrapper and the compiler itself (stdenv.cc.cc; GCC's `out` output,
  # not the `lib` output that holds the runtime an addon may link).
  compilerOf = set: builtins.filter (path: path != null) [ set.stdenv.cc (set.stdenv.cc.cc or null) ];

  byStrategy = {
    cached =
      if sameSystem then {
        mkDerivation = buildPkgs.stdenv.mkDerivation;
        inputs = [ ];
        exports = prefixed buildPkgs.stdenv.cc;
        leaks = compilerOf buildPkgs;
      } else {
        mkDerivation = attrs: buildPkgs.runCommand attrs.name (builtins.removeAttrs attrs [ "name" "buildCommand" ]) attrs.buildCommand;
        inputs = [ clangCross ];
        exports = prefixed { targetPrefix = ""; };
        leaks = [ clangCross buildPkgs.llvmPackages.clang-unwrapped targetPkgs.stdenv.cc.cc targetPkgs.glibc.dev ];
      };
    native = {
      mkDerivation = targetPkgs.stdenv.mkDerivation;
      inputs = [ ];
      exports = prefixed targetPkgs.stdenv.cc;
      leaks = compilerOf targetPkgs;
    };
    cross = {
      mkDerivation = targetPkgs.stdenv.mkDerivation;
      inputs = [ ];
      exports = prefixed targetPkgs.stdenv.cc;
      leaks = compilerOf targetPkgs;
    };
  };
in
byStrategy.${strategy} // { inherit staticRuntime; }
