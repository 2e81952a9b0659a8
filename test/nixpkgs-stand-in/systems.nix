# The stand-in's lib/systems: platforms elaborated from a system double or a config triple, with the
# few attributes addonix and the stand-in read. STAND-IN for nixpkgs' lib/systems, read in:
#   lib/systems/default.nix   elaborate: `config`, `system`, `libc` ("glibc" | "musl"), `isMusl`,
#                             canExecute = platform: isCompatible final.parsed.cpu platform.parsed.cpu
#                             && same kernel (libc is not compared: x86_64-gnu runs x86_64-musl code)
#   lib/systems/parse.nix     isCompatible (nixfmt era, after 22.11: "the archs of a mode switching CPU
#                             are no longer considered pairwise compatible", so aarch64 does not run
#                             armv7l): x86_64 runs i686; armv7l runs armv6l; every CPU runs its own.
rec {
  # The config triple nixpkgs gives a system double (glibc userlands).
  systemConfigs = {
    "x86_64-linux" = "x86_64-unknown-linux-gnu";
    "aarch64-linux" = "aarch64-unknown-linux-gnu";
    "armv7l-linux" = "armv7l-unknown-linux-gnueabihf";
    "armv6l-linux" = "armv6l-unknown-linux-gnueabihf";
    "i686-linux" = "i686-unknown-linux-gnu";
    "riscv64-linux" = "riscv64-unknown-linux-gnu";
  };

  # isCompatible, as the table of the CPUs whose code each CPU runs.
  runs = {
    x86_64 = [ "x86_64" "i686" ];
    i686 = [ "i686" ];
    aarch64 = [ "aarch64" ];
    armv7l = [ "armv7l" "armv6l" ];
    armv6l = [ "armv6l" ];
    riscv64 = [ "riscv64" ];
  };

  # The systems whose native package sets the public binary cache serves at a release revision: Hydra's
  # release jobsets build x86_64-linux and aarch64-linux (glibc); pkgs/top-level/release-cross.nix is
  # built by the cross-trunk jobset, which follows master, and builds no Node.js.
  cachedSystems = [ "x86_64-linux" "aarch64-linux" ];

  # pkgs/stdenv/linux/default.nix: the musl bootstrap files (bootstrap-files/*-unknown-linux-musl*.nix)
  # exist for these systems only; another system uses a compatible one's (getCompatibleTools: one it
  # can execute), else evaluation throws "unsupported platform for the pure Linux stdenv".
  muslBootstrapSystems = [ "x86_64-linux" "aarch64-linux" "armv6l-linux" ];

  elaborate = spec:
    let
      given = if builtins.isString spec then { system = spec; } else spec;
      config = given.config or systemConfigs.${given.system} or (throw "nixpkgs stand-in: no config triple for system ${given.system}");
      parts = builtins.match "([a-z0-9_]+)-unknown-linux-(gnu|gnueabihf|musl|musleabihf)" config;
      cpu = if parts == null then throw "nixpkgs stand-in: cannot parse ${config}" else builtins.elemAt parts 0;
      abi = builtins.elemAt parts 1;
      isMusl = abi == "musl" || abi == "musleabihf";
    in
    rec {
      inherit config isMusl;
      system = "${cpu}-linux";
      libc = if isMusl then "musl" else "glibc";
      isLinux = true;
      parsed = { cpu.name = cpu; abi.name = abi; kernel.name = "linux"; };
      canExecute = other: builtins.elem other.parsed.cpu.name (runs.${cpu} or [ cpu ]);
      # nixpkgs' `emulatorAvailable` on Linux: qemu-user has the CPU (every one here).
      emulatorAvailable = _: true;
    };

  # getCompatibleTools: a native musl stdenv bootstraps from its own system's musl files or from those of
  # a system it can execute; null when there are none.
  muslBootstrapFor = platform:
    if builtins.elem platform.system muslBootstrapSystems then platform.system
    else
      let usable = builtins.filter (system: platform.canExecute (elaborate system)) muslBootstrapSystems;
      in if usable == [ ] then null else builtins.head usable;
}
